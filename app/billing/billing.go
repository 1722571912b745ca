// Package billing holds the rules of plans and payments: which plan a
// Stripe subscription puts a tenant on, when a downgrade takes effect, how
// long a failed payment is tolerated, and when the balance is low. The rules
// are pure functions over small values; the Stripe client sits in stripe.go.
package billing

import "time"

// Starter is the sign-up plan, and where a tenant goes when its
// subscription ends or its payment stays failed past the grace period.
const Starter = "starter"

// Stripe subscription statuses the rules tell apart.
const (
	StatusActive            = "active"
	StatusTrialing          = "trialing"
	StatusPastDue           = "past_due"
	StatusUnpaid            = "unpaid"
	StatusIncomplete        = "incomplete"
	StatusIncompleteExpired = "incomplete_expired"
	StatusCanceled          = "canceled"
	StatusPaused            = "paused"
)

// Plan is what the rules need of a plan.
type Plan struct {
	ID             string
	PriceCents     int64
	MonthlyCredits int64
	InstanceLimit  int
}

// IsDowngrade reports whether moving from one plan to another gives less:
// a lower price, or the same price with fewer numbers.
func IsDowngrade(from, to Plan) bool {
	if to.PriceCents != from.PriceCents {
		return to.PriceCents < from.PriceCents
	}
	return to.InstanceLimit < from.InstanceLimit
}

// State is a tenant's plan and subscription as stored. Zero times mean unset.
type State struct {
	Plan           string
	PendingPlan    string
	SubscriptionID string
	Status         string
	PeriodEnd      time.Time
	// EventAt is when Stripe created the subscription event last applied.
	EventAt         time.Time
	PaymentFailedAt time.Time
}

// Subscription is a subscription object from a Stripe event.
type Subscription struct {
	ID     string
	Status string
	// PlanID is the plan of its price; empty when no plan has that price.
	PlanID    string
	PeriodEnd time.Time
	// EventAt is when Stripe created the event that carries it.
	EventAt time.Time
}

// ended reports whether a subscription status is final.
func ended(status string) bool {
	return status == StatusCanceled || status == StatusIncompleteExpired
}

// paying reports whether a subscription status keeps its plan.
func paying(status string) bool {
	switch status {
	case StatusActive, StatusTrialing, StatusPastDue, StatusUnpaid:
		return true
	}
	return false
}

// rank orders statuses of events created in the same second: the later
// stage of a subscription's life wins.
func rank(status string) int {
	switch {
	case ended(status):
		return 3
	case status == StatusPastDue || status == StatusUnpaid || status == StatusPaused:
		return 2
	case paying(status):
		return 1
	}
	return 0
}

// stale reports whether sub is older news than what s holds, whatever the
// order the events arrived in.
func stale(s State, sub Subscription) bool {
	if s.SubscriptionID == "" {
		return false
	}
	if sub.ID == s.SubscriptionID && ended(s.Status) {
		return true // an ended subscription never comes back
	}
	if sub.ID != s.SubscriptionID && ended(sub.Status) {
		return true // an old subscription ending does not touch the current one
	}
	if sub.EventAt.Equal(s.EventAt) {
		return sub.ID == s.SubscriptionID && rank(sub.Status) < rank(s.Status)
	}
	return sub.EventAt.Before(s.EventAt)
}

// ApplySubscription returns the state after a subscription event, and
// whether it was applied (false: older than what is stored, so ignored).
// An upgrade takes effect at once; a downgrade waits for the end of the
// period already paid for (PendingPlan); an ended subscription puts the
// tenant back on Starter.
func ApplySubscription(s State, sub Subscription, plans map[string]Plan) (State, bool) {
	if stale(s, sub) {
		return s, false
	}
	s.SubscriptionID, s.Status, s.EventAt = sub.ID, sub.Status, sub.EventAt
	switch {
	case ended(sub.Status):
		s.Plan, s.PendingPlan, s.PeriodEnd, s.PaymentFailedAt = Starter, "", time.Time{}, time.Time{}
		return s, true
	case !paying(sub.Status):
		return s, true // not paid for yet: the plan waits
	}
	s.PeriodEnd = sub.PeriodEnd
	target, ok := plans[sub.PlanID]
	current, known := plans[s.Plan]
	switch {
	case !ok:
		// A price no plan has: keep the plan until the owner maps it.
	case target.ID == s.Plan:
		s.PendingPlan = ""
	case known && IsDowngrade(current, target) && sub.EventAt.Before(sub.PeriodEnd):
		s.PendingPlan = target.ID
	default:
		s.Plan, s.PendingPlan = target.ID, ""
	}
	return s, true
}

// Due returns the state at now: a pending downgrade whose period ended is
// applied, and a payment failed longer than grace ago puts the tenant back
// on Starter. It reports whether anything changed.
func Due(s State, now time.Time, grace time.Duration) (State, bool) {
	changed := false
	if s.PendingPlan != "" && !s.PeriodEnd.IsZero() && !now.Before(s.PeriodEnd) {
		s.Plan, s.PendingPlan, changed = s.PendingPlan, "", true
	}
	if !s.PaymentFailedAt.IsZero() && !now.Before(GraceEnds(s.PaymentFailedAt, grace)) && s.Plan != Starter {
		s.Plan, s.PendingPlan, changed = Starter, "", true
	}
	return s, changed
}

// GraceEnds is when a tenant whose payment failed at failedAt goes back to
// Starter.
func GraceEnds(failedAt time.Time, grace time.Duration) time.Time { return failedAt.Add(grace) }

// PaymentFailed returns the state after a failed renewal at `at`: the grace
// period starts at the first failure and is not restarted by retries.
func PaymentFailed(s State, at time.Time) State {
	if s.PaymentFailedAt.IsZero() {
		s.PaymentFailedAt = at
	}
	return s
}

// PaymentSucceeded ends the grace period.
func PaymentSucceeded(s State) State {
	s.PaymentFailedAt = time.Time{}
	return s
}

// Balance says how a tenant's credits stand against the low-balance
// threshold.
type Balance int

// Balance levels.
const (
	BalanceOK Balance = iota
	BalanceLow
	BalanceEmpty
)

// BalanceLevel returns the level of balance for the threshold (0 turns the
// low warning off; empty is always told).
func BalanceLevel(balance, threshold int64) Balance {
	switch {
	case balance <= 0:
		return BalanceEmpty
	case balance < threshold:
		return BalanceLow
	}
	return BalanceOK
}
