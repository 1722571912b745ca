package billing

import (
	"time"

	"github.com/myaibud/aibud/db"
)

// StateOf reads a tenant's plan and subscription for the rules.
func StateOf(t *db.Tenant) State {
	s := State{Plan: t.Plan, Status: t.SubscriptionStatus}
	if t.PendingPlan != nil {
		s.PendingPlan = *t.PendingPlan
	}
	if t.StripeSubscriptionID != nil {
		s.SubscriptionID = *t.StripeSubscriptionID
	}
	for _, f := range []struct {
		from *time.Time
		to   *time.Time
	}{{t.CurrentPeriodEnd, &s.PeriodEnd}, {t.SubscriptionEventAt, &s.EventAt}, {t.PaymentFailedAt, &s.PaymentFailedAt}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	return s
}

// SetState writes the rules' state back onto the tenant.
func SetState(t *db.Tenant, s State) {
	t.Plan, t.SubscriptionStatus = s.Plan, s.Status
	t.PendingPlan = optString(s.PendingPlan)
	t.StripeSubscriptionID = optString(s.SubscriptionID)
	t.CurrentPeriodEnd = optTime(s.PeriodEnd)
	t.SubscriptionEventAt = optTime(s.EventAt)
	t.PaymentFailedAt = optTime(s.PaymentFailedAt)
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
