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

// TypeProcessStripeEvent applies one stored Stripe event: top-ups, plan
// grants, subscription changes and failed payments. It is safe to run
// twice: every credit goes through the ledger with the Stripe object's id as
// its reference, and subscription changes compare Stripe's own timestamps.
const TypeProcessStripeEvent = "stripe:process"

// ProcessStripeEventPayload names a stored Stripe event. It carries no
// tenant: the event says which tenant it is for.
type ProcessStripeEventPayload struct {
	EventID int64 `json:"event_id"`
}

// NewProcessStripeEventTask returns the task; its id is Stripe's event id,
// so an event delivered many times is queued once.
func NewProcessStripeEventTask(p ProcessStripeEventPayload, stripeEventID string) (*asynq.Task, error) {
	return newTask(TypeProcessStripeEvent, p, asynq.TaskID("stripe:"+stripeEventID),
		asynq.Queue(QueueCritical), asynq.MaxRetry(10), asynq.Timeout(30*time.Second))
}

func (w *Worker) processStripeEvent(ctx context.Context, t *asynq.Task) error {
	var p ProcessStripeEventPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	ev, err := w.store.StripeEvent(ctx, p.EventID)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ev.ProcessedAt != nil {
		return nil
	}
	procErr := w.applyStripeEvent(ctx, ev)
	final := procErr != nil && (errors.Is(procErr, asynq.SkipRetry) || lastAttempt(ctx))
	if err := w.store.MarkStripeEvent(ctx, ev.ID, procErr, final); err != nil {
		return err
	}
	return procErr
}

func (w *Worker) applyStripeEvent(ctx context.Context, stored *db.StripeEvent) error {
	ev, err := billing.ParseEvent(stored.Payload)
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	switch {
	case ev.Checkout != nil:
		return w.applyCheckout(ctx, ev.Checkout)
	case ev.Subscription != nil:
		return w.applySubscription(ctx, ev.Subscription)
	case ev.Invoice != nil && ev.Type == billing.EventInvoicePaid:
		return w.applyInvoicePaid(ctx, ev.Invoice)
	case ev.Invoice != nil && ev.Type == billing.EventInvoicePaymentFailed:
		return w.applyPaymentFailed(ctx, ev.Invoice, ev.Created)
	}
	return nil
}

// applyCheckout credits a paid top-up and records its payment, and links
// the Stripe customer (and subscription) to the tenant named by
// client_reference_id.
func (w *Worker) applyCheckout(ctx context.Context, co *billing.CheckoutCompleted) error {
	ts := w.store.Tenant(co.TenantID)
	if _, err := ts.Tenant(ctx); errors.Is(err, db.ErrNotFound) {
		w.log.WarnContext(ctx, "stripe checkout for no tenant", "session", co.SessionID, "tenant_id", co.TenantID)
		return nil
	} else if err != nil {
		return err
	}
	if err := w.linkCustomer(ctx, ts, co.CustomerID, co.SubscriptionID); err != nil {
		return err
	}
	if co.Mode != "payment" || !co.Paid || (co.Credits <= 0 && co.AmountCents <= 0) {
		return nil
	}
	p := db.Payment{StripeID: co.SessionID, Kind: db.PaymentTopUp, AmountCents: co.AmountCents, Currency: co.Currency, PaidAt: co.PaidAt}
	reason := fmt.Sprintf("Top-up: %d credits", co.Credits)
	return w.recordPayment(ctx, ts, p, co.Credits, reason)
}

// recordPayment records a payment once with the credits it buys, and tells
// the tenant's browsers when credits came in.
func (w *Worker) recordPayment(ctx context.Context, ts *db.TenantStore, p db.Payment, credits int64, reason string) error {
	if p.AmountCents > 0 && p.Currency == "" {
		return fmt.Errorf("payment %s of %d has no currency: %w", p.StripeID, p.AmountCents, asynq.SkipRetry)
	}
	e, err := ts.RecordPayment(ctx, p, credits, reason)
	if err != nil {
		return err
	}
	if e != nil && !e.Replayed {
		w.publish(ctx, ts.TenantID(), live.CreditsUpdated, nil)
	}
	return nil
}

// linkCustomer records the tenant's Stripe customer, and its subscription
// when it has none yet (subscription events decide the rest).
func (w *Worker) linkCustomer(ctx context.Context, ts *db.TenantStore, customerID, subscriptionID string) error {
	if customerID == "" {
		return nil
	}
	_, err := ts.UpdateBilling(ctx, func(t *db.Tenant) (bool, error) {
		changed := false
		if t.StripeCustomerID == nil || *t.StripeCustomerID != customerID {
			t.StripeCustomerID, changed = &customerID, true
		}
		if subscriptionID != "" && t.StripeSubscriptionID == nil {
			t.StripeSubscriptionID, changed = &subscriptionID, true
		}
		return changed, nil
	})
	return err
}

// stripeTenant finds the tenant of a Stripe customer, else the one named in
// the metadata (an event arriving before the checkout that links them).
func (w *Worker) stripeTenant(ctx context.Context, customerID string, tenantID int64) (*db.TenantStore, error) {
	t, err := w.store.TenantByStripeCustomer(ctx, customerID)
	if err == nil {
		return w.store.Tenant(t.ID), nil
	}
	if !errors.Is(err, db.ErrNotFound) || tenantID == 0 {
		return nil, err
	}
	ts := w.store.Tenant(tenantID)
	if err := w.linkCustomer(ctx, ts, customerID, ""); err != nil {
		return nil, err
	}
	return ts, nil
}

// planOf returns the plan of a Stripe price, else the one named in the
// metadata; "" when neither is a plan.
func (w *Worker) planOf(ctx context.Context, priceID, metaPlan string) (string, error) {
	if priceID != "" {
		p, err := w.store.PlanByStripePrice(ctx, priceID)
		if err == nil {
			return p.ID, nil
		}
		if !errors.Is(err, db.ErrNotFound) {
			return "", err
		}
	}
	if metaPlan == "" {
		return "", nil
	}
	p, err := w.store.Plan(ctx, metaPlan)
	if errors.Is(err, db.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return p.ID, nil
}
