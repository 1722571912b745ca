package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// TypeCheckInstances is the periodic health check of every number: sessions
// drop silently in practice, so each one is compared with its gateway
// session (one TypeCheckInstance task each).
const TypeCheckInstances = "instances:check"

// TypeCheckInstance compares one number with its gateway session: it marks a
// dropped one disconnected, restarts a failed one once, and tells the tenant.
const TypeCheckInstance = "instance:check"

// NewCheckInstancesTask returns the periodic fan-out task.
func NewCheckInstancesTask() (*asynq.Task, error) {
	return newTask(TypeCheckInstances, struct{}{}, asynq.Queue(QueueDefault), asynq.MaxRetry(1), asynq.Timeout(time.Minute))
}

func newCheckInstanceTask(p InstancePayload, now time.Time) (*asynq.Task, error) {
	return newTask(TypeCheckInstance, p, asynq.TaskID(fmt.Sprintf("check:%d:%d", p.InstanceID, now.Unix()/60)),
		asynq.Queue(QueueDefault), asynq.MaxRetry(0), asynq.Timeout(30*time.Second))
}

func (w *Worker) checkInstances(ctx context.Context, _ *asynq.Task) error {
	insts, err := w.store.InstancesAllTenants(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, inst := range insts {
		t, err := newCheckInstanceTask(InstancePayload{TenantID: inst.TenantID, InstanceID: inst.ID}, now)
		if err := w.enqueue(ctx, t, err); err != nil {
			return err
		}
	}
	return nil
}

func (w *Worker) checkInstance(ctx context.Context, t *asynq.Task) error {
	var p InstancePayload
	if err := decode(t, &p); err != nil {
		return err
	}
	inst, err := w.store.Tenant(p.TenantID).Instance(ctx, p.InstanceID)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// Messages first: the check's time (checked_at) marks the end of both.
	if err := w.recoverInbox(ctx, inst); err != nil {
		return err
	}
	return w.reconcile(ctx, inst)
}

// reconcile brings one instance in line with its gateway session.
func (w *Worker) reconcile(ctx context.Context, inst *db.Instance) error {
	if inst.Status == db.InstanceCreating || inst.Status == db.InstanceLoggedOut {
		return nil
	}
	prov, err := whatsapp.ProviderFor(ctx, w.store, w.gateways, inst)
	if err != nil {
		return err
	}
	info, err := prov.Session(ctx, inst.SessionName)
	var state db.SessionState
	switch {
	case errors.Is(err, whatsapp.ErrSessionNotFound):
		state = db.SessionState{Status: db.InstanceDisconnected, ProviderStatus: "MISSING",
			Error: "The session is gone from the WhatsApp server. Reconnect to link the phone again."}
	case err != nil:
		// The node itself is unreachable: say so only if we believed it
		// connected, and keep checking.
		if inst.Status != db.InstanceConnected {
			return nil
		}
		state = db.SessionState{Status: db.InstanceDisconnected, ProviderStatus: inst.ProviderStatus,
			Error: "The WhatsApp server does not answer. We keep checking."}
	default:
		state = SessionState(info)
		if inst.Status == db.InstanceConnected && state.Status == db.InstanceScanQR {
			state.Status, state.Error = db.InstanceDisconnected, "WhatsApp unlinked this device. Scan the QR code again to reconnect."
		}
	}

	ts := w.store.Tenant(inst.TenantID)
	restart := (info.Status == whatsapp.StatusFailed || info.Status == whatsapp.StatusStopped) && err == nil && inst.RestartedAt == nil
	if restart {
		// Once per failure: a session that fails again stays failed for the
		// tenant to retry, rather than looping. The claim comes first, so
		// that two checks at once (two periods' runs overlapping) restart
		// it once.
		claimed, err := ts.ClaimInstanceRestart(ctx, inst.ID)
		if err != nil {
			return err
		}
		if claimed {
			if rerr := prov.RestartSession(ctx, inst.SessionName); rerr != nil {
				w.log.WarnContext(ctx, "restart failed session", "instance_id", inst.ID, "err", rerr)
			} else {
				state.Status, state.Error = db.InstanceStarting, "The session stopped; we restarted it."
			}
		}
	}
	if state.Status == inst.Status && state.Error == inst.LastError {
		_, err := ts.SetInstanceState(ctx, inst.ID, state) // records checked_at
		return err
	}
	if state.Status != inst.Status {
		w.log.InfoContext(ctx, "instance status reconciled", "instance_id", inst.ID, "tenant_id", inst.TenantID,
			"from", inst.Status, "to", state.Status)
	}
	return w.applyState(ctx, inst, state)
}
