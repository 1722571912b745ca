package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/billing"
	"github.com/myaibud/aibud/db"
)

// TypeLowBalance emails the owners of tenants whose balance fell below the
// low-balance threshold, once per fall: the notice is cleared when the
// balance is back above it. Periodic.
const TypeLowBalance = "billing:low-balance"

// lowBalanceBatch bounds the tenants told per run.
const lowBalanceBatch = 200

// NewLowBalanceTask returns the periodic task.
func NewLowBalanceTask() (*asynq.Task, error) {
	return newTask(TypeLowBalance, struct{}{}, asynq.Queue(QueueLow), asynq.MaxRetry(1), asynq.Timeout(5*time.Minute))
}

func (w *Worker) lowBalance(ctx context.Context, _ *asynq.Task) error {
	if w.opts.LowBalance <= 0 || w.mail == nil || w.opts.BillingLink == "" {
		return nil // off, or no email configured: the banners still show
	}
	if err := w.store.ClearLowBalanceNoticesAllTenants(ctx, w.opts.LowBalance); err != nil {
		return err
	}
	ids, err := w.store.LowBalanceUnnotifiedAllTenants(ctx, w.opts.LowBalance, lowBalanceBatch)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := w.tellLowBalance(ctx, w.store.Tenant(id)); err != nil {
			return err
		}
	}
	return nil
}

// tellLowBalance claims the tenant's notice and emails its owners; a failed
// send gives the notice back for the next run.
func (w *Worker) tellLowBalance(ctx context.Context, ts *db.TenantStore) error {
	claimed, err := ts.ClaimLowBalanceNotice(ctx, true)
	if err != nil || !claimed {
		return err
	}
	t, err := ts.Tenant(ctx)
	if err != nil {
		return err
	}
	users, err := ts.Users(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Role != db.RoleOwner {
			continue
		}
		if err := w.mail.Send(ctx, billing.LowBalanceEmail(u.Email, t.Name, t.CreditBalance, w.opts.BillingLink)); err != nil {
			if _, uerr := ts.ClaimLowBalanceNotice(context.WithoutCancel(ctx), false); uerr != nil {
				w.log.WarnContext(ctx, "give back a low balance notice", "tenant_id", t.ID, "err", uerr)
			}
			return fmt.Errorf("email the low balance notice of tenant %d: %w", t.ID, err)
		}
	}
	return nil
}
