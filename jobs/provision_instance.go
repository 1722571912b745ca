package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// TypeProvisionInstance creates a new number's session on its node.
const TypeProvisionInstance = "instance:provision"

// InstancePayload names one instance.
type InstancePayload struct {
	TenantID   int64 `json:"tenant_id"`
	InstanceID int64 `json:"instance_id"`
}

// NewProvisionInstanceTask returns the task. Its id is per instance and
// second, so a double click queues it once; the handler itself only acts on
// an instance still being created.
func NewProvisionInstanceTask(p InstancePayload) (*asynq.Task, error) {
	return newTask(TypeProvisionInstance, p, asynq.TaskID(fmt.Sprintf("provision:%d:%d", p.InstanceID, time.Now().Unix())),
		asynq.Queue(QueueCritical), asynq.MaxRetry(6), asynq.Timeout(time.Minute))
}

func (w *Worker) provisionInstance(ctx context.Context, t *asynq.Task) error {
	var p InstancePayload
	if err := decode(t, &p); err != nil {
		return err
	}
	ts := w.store.Tenant(p.TenantID)
	inst, err := ts.Instance(ctx, p.InstanceID)
	if errors.Is(err, db.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	if inst.Status != db.InstanceCreating {
		return nil // done by an earlier run
	}
	prov, err := whatsapp.ProviderFor(ctx, w.store, w.gateways, inst)
	if err != nil {
		return err
	}
	info, err := prov.CreateSession(ctx, whatsapp.SessionSpec{
		Name: inst.SessionName,
		Metadata: map[string]string{
			"tenant.id":   strconv.FormatInt(inst.TenantID, 10),
			"instance.id": strconv.FormatInt(inst.ID, 10),
		},
	})
	if err != nil {
		if lastAttempt(ctx) || errors.Is(err, whatsapp.ErrBadRequest) || errors.Is(err, whatsapp.ErrUnauthorized) {
			w.failInstance(ctx, inst, "Could not set up the number on the WhatsApp server. Try again in a minute.")
			return fmt.Errorf("create session %s: %v: %w", inst.SessionName, err, asynq.SkipRetry)
		}
		return fmt.Errorf("create session %s: %w", inst.SessionName, err)
	}
	state := SessionState(info)
	if state.Status == db.InstanceDisconnected {
		state.Status, state.Error = db.InstanceStarting, "" // created, not started yet
	}
	return w.applyState(ctx, inst, state)
}

// applyState records a session state, tells the browsers, and keeps the QR
// code fresh while the number waits for a scan.
func (w *Worker) applyState(ctx context.Context, inst *db.Instance, state db.SessionState) error {
	changed, err := w.store.Tenant(inst.TenantID).SetInstanceState(ctx, inst.ID, state)
	if err != nil {
		return err
	}
	if changed {
		w.publish(ctx, inst.TenantID, live.InstanceUpdated, map[string]int64{"id": inst.ID})
	}
	if state.Status != db.InstanceScanQR && state.Status != db.InstanceStarting {
		return nil
	}
	// The state may have been ignored as older than the stored one.
	cur, err := w.store.Tenant(inst.TenantID).Instance(ctx, inst.ID)
	if err != nil {
		return err
	}
	if cur.Status == db.InstanceScanQR || cur.Status == db.InstanceStarting {
		return w.startQRRefresh(ctx, inst)
	}
	return nil
}

func (w *Worker) failInstance(ctx context.Context, inst *db.Instance, msg string) {
	if _, err := w.store.Tenant(inst.TenantID).SetInstanceState(ctx, inst.ID, db.SessionState{Status: db.InstanceFailed, Error: msg}); err != nil {
		w.log.ErrorContext(ctx, "mark instance failed", "instance_id", inst.ID, "err", err)
		return
	}
	w.publish(ctx, inst.TenantID, live.InstanceUpdated, map[string]int64{"id": inst.ID})
}
