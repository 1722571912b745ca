package jobs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// TypeRefreshQR fetches the QR code of a number waiting for a scan and tells
// the browsers when it changed. WAHA rotates the code (first after 60 s, then
// every 20 s) without a webhook, so the task re-enqueues itself every
// QRPollEvery until the number leaves the waiting state or Until passes.
const TypeRefreshQR = "instance:qr"

// RefreshQRPayload names the instance and when to stop.
type RefreshQRPayload struct {
	TenantID   int64 `json:"tenant_id"`
	InstanceID int64 `json:"instance_id"`
	Until      int64 `json:"until"`
}

// newRefreshQRTask schedules one refresh at `at`. The task id is per
// instance and time slot, so chains started by several events merge.
func newRefreshQRTask(p RefreshQRPayload, at time.Time, every time.Duration) (*asynq.Task, error) {
	slot := at.UnixMilli() / every.Milliseconds()
	return newTask(TypeRefreshQR, p, asynq.TaskID(fmt.Sprintf("qr:%d:%d", p.InstanceID, slot)),
		asynq.Queue(QueueCritical), asynq.MaxRetry(0), asynq.Timeout(20*time.Second), asynq.ProcessAt(at),
		asynq.Retention(every))
}

// startQRRefresh (re)starts the refresh chain of an instance now.
func (w *Worker) startQRRefresh(ctx context.Context, inst *db.Instance) error {
	p := RefreshQRPayload{TenantID: inst.TenantID, InstanceID: inst.ID, Until: time.Now().Add(w.opts.QRPollFor).Unix()}
	t, err := newRefreshQRTask(p, time.Now(), w.opts.QRPollEvery)
	return w.enqueue(ctx, t, err)
}

func (w *Worker) refreshQR(ctx context.Context, t *asynq.Task) error {
	var p RefreshQRPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	ts := w.store.Tenant(p.TenantID)
	inst, err := ts.Instance(ctx, p.InstanceID)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if inst.Status != db.InstanceScanQR && inst.Status != db.InstanceStarting {
		return nil
	}
	if err := w.fetchQR(ctx, inst); err != nil {
		w.log.WarnContext(ctx, "refresh QR", "instance_id", inst.ID, "err", err)
	}
	if time.Now().Unix() >= p.Until {
		return nil
	}
	next, err := newRefreshQRTask(p, time.Now().Add(w.opts.QRPollEvery), w.opts.QRPollEvery)
	return w.enqueue(ctx, next, err)
}

func (w *Worker) fetchQR(ctx context.Context, inst *db.Instance) error {
	prov, err := whatsapp.ProviderFor(ctx, w.store, w.gateways, inst)
	if err != nil {
		return err
	}
	qr, err := prov.QR(ctx, inst.SessionName)
	if errors.Is(err, whatsapp.ErrWrongStatus) {
		// Scanned, failed or still starting: ask what it is now.
		info, err := prov.Session(ctx, inst.SessionName)
		if err != nil {
			return err
		}
		state := SessionState(info)
		if state.Status == db.InstanceScanQR {
			return nil // the code is on its way
		}
		state.OnlyFrom = []string{db.InstanceStarting, db.InstanceScanQR}
		changed, err := w.store.Tenant(inst.TenantID).SetInstanceState(ctx, inst.ID, state)
		if changed {
			w.publish(ctx, inst.TenantID, live.InstanceUpdated, map[string]int64{"id": inst.ID})
		}
		return err
	}
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(qr.Value))
	if qr.Value == "" {
		sum = sha256.Sum256(qr.PNG)
	}
	changed, err := w.store.Tenant(inst.TenantID).SetInstanceQR(ctx, inst.ID, qr.PNG, hex.EncodeToString(sum[:8]))
	if err != nil {
		return err
	}
	if inst.Status == db.InstanceStarting {
		changed, err := w.store.Tenant(inst.TenantID).SetInstanceState(ctx, inst.ID, db.SessionState{
			Status: db.InstanceScanQR, ProviderStatus: whatsapp.StatusScanQR, OnlyFrom: []string{db.InstanceStarting},
		})
		if err != nil {
			return err
		}
		if changed {
			w.publish(ctx, inst.TenantID, live.InstanceUpdated, map[string]int64{"id": inst.ID})
		}
	}
	if changed {
		w.publish(ctx, inst.TenantID, live.InstanceQR, map[string]int64{"id": inst.ID})
	}
	return nil
}
