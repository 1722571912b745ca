package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/billing"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/db"
)

// applySubscription moves the tenant's plan as the subscription says,
// unless the event is older than the state already stored.
func (w *Worker) applySubscription(ctx context.Context, sc *billing.SubscriptionChange) error {
	ts, err := w.stripeTenant(ctx, sc.CustomerID, sc.TenantID)
	if errors.Is(err, db.ErrNotFound) {
		w.log.WarnContext(ctx, "stripe subscription of no tenant", "subscription", sc.Sub.ID)
		return nil
	}
	if err != nil {
		return err
	}
	if sc.Sub.PlanID, err = w.planOf(ctx, sc.PriceID, sc.MetaPlan); err != nil {
		return err
	}
	plans, err := w.billingPlans(ctx)
	if err != nil {
		return err
	}
	_, err = ts.UpdateBilling(ctx, func(t *db.Tenant) (bool, error) {
		next, applied := billing.ApplySubscription(billing.StateOf(t), sc.Sub, plans)
		if applied {
			billing.SetState(t, next)
		}
		return applied, nil
	})
	if err != nil {
		return err
	}
	w.publish(ctx, ts.TenantID(), live.CreditsUpdated, nil)
	return nil
}

// applyInvoicePaid grants the plan's monthly credits and records the
// payment, once per invoice, and ends a grace period.
func (w *Worker) applyInvoicePaid(ctx context.Context, ie *billing.InvoiceEvent) error {
	ts, err := w.stripeTenant(ctx, ie.CustomerID, ie.TenantID)
	if errors.Is(err, db.ErrNotFound) {
		w.log.WarnContext(ctx, "stripe invoice of no tenant", "invoice", ie.InvoiceID)
		return nil
	}
	if err != nil {
		return err
	}
	t, err := ts.UpdateBilling(ctx, func(t *db.Tenant) (bool, error) {
		if t.PaymentFailedAt == nil {
			return false, nil
		}
		billing.SetState(t, billing.PaymentSucceeded(billing.StateOf(t)))
		return true, nil
	})
	if err != nil {
		return err
	}
	planID, err := w.planOf(ctx, ie.PriceID, ie.MetaPlan)
	if err != nil {
		return err
	}
	if planID == "" {
		planID = t.Plan
	}
	plan, err := w.store.Plan(ctx, planID)
	if err != nil {
		return err
	}
	p := db.Payment{StripeID: ie.InvoiceID, Kind: db.PaymentSubscription, AmountCents: ie.AmountCents, Currency: ie.Currency, PaidAt: ie.PaidAt}
	return w.recordPayment(ctx, ts, p, plan.MonthlyCredits, fmt.Sprintf("%s plan: monthly credits", plan.Name))
}

// applyPaymentFailed starts the grace period (once; retries do not restart
// it). A failure of an invoice already paid (its events arrived out of
// order: the retry succeeded first) changes nothing.
func (w *Worker) applyPaymentFailed(ctx context.Context, ie *billing.InvoiceEvent, at time.Time) error {
	ts, err := w.stripeTenant(ctx, ie.CustomerID, ie.TenantID)
	if errors.Is(err, db.ErrNotFound) {
		w.log.WarnContext(ctx, "stripe invoice of no tenant", "invoice", ie.InvoiceID)
		return nil
	}
	if err != nil {
		return err
	}
	if paid, err := ts.Paid(ctx, ie.InvoiceID); err != nil || paid {
		return err // paid already
	}
	_, err = ts.UpdateBilling(ctx, func(t *db.Tenant) (bool, error) {
		if t.PaymentFailedAt != nil {
			return false, nil
		}
		billing.SetState(t, billing.PaymentFailed(billing.StateOf(t), at))
		return true, nil
	})
	return err
}

func (w *Worker) billingPlans(ctx context.Context) (map[string]billing.Plan, error) {
	ps, err := w.store.PlansList(ctx, true)
	if err != nil {
		return nil, err
	}
	out := make(map[string]billing.Plan, len(ps))
	for _, p := range ps {
		out[p.ID] = billing.Plan{ID: p.ID, PriceCents: p.PriceCents, MonthlyCredits: p.MonthlyCredits, InstanceLimit: p.InstanceLimit}
	}
	return out, nil
}

// TypeBillingDue applies what is due in billing: downgrades at the end of
// their period, and the return to Starter when a payment stayed failed
// past the grace period. Periodic.
const TypeBillingDue = "billing:due"

// NewBillingDueTask returns the periodic task.
func NewBillingDueTask() (*asynq.Task, error) {
	return newTask(TypeBillingDue, struct{}{}, asynq.Queue(QueueDefault), asynq.MaxRetry(1), asynq.Timeout(5*time.Minute))
}

func (w *Worker) billingDue(ctx context.Context, _ *asynq.Task) error {
	now := time.Now()
	ids, err := w.store.BillingDueAllTenants(ctx, now, w.opts.BillingGrace)
	if err != nil {
		return err
	}
	for _, id := range ids {
		_, err := w.store.Tenant(id).UpdateBilling(ctx, func(t *db.Tenant) (bool, error) {
			next, changed := billing.Due(billing.StateOf(t), now, w.opts.BillingGrace)
			if changed {
				billing.SetState(t, next)
			}
			return changed, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
