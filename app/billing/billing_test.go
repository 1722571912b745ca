package billing_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/billing"
)

var plans = map[string]billing.Plan{
	"starter":  {ID: "starter", InstanceLimit: 1},
	"pro":      {ID: "pro", PriceCents: 2900, MonthlyCredits: 3000, InstanceLimit: 3},
	"business": {ID: "business", PriceCents: 9900, MonthlyCredits: 12000, InstanceLimit: 10},
}

var (
	t0  = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	end = t0.AddDate(0, 1, 0)
)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestApplySubscription(t *testing.T) {
	onPro := billing.State{Plan: "pro", SubscriptionID: "sub_1", Status: "active", PeriodEnd: end, EventAt: t0}
	tests := []struct {
		name    string
		state   billing.State
		sub     billing.Subscription
		want    billing.State
		applied bool
	}{
		{"first subscription upgrades at once",
			billing.State{Plan: "starter"},
			billing.Subscription{ID: "sub_1", Status: "active", PlanID: "pro", PeriodEnd: end, EventAt: t0},
			onPro, true},
		{"incomplete keeps the plan",
			billing.State{Plan: "starter"},
			billing.Subscription{ID: "sub_1", Status: "incomplete", PlanID: "pro", PeriodEnd: end, EventAt: t0},
			billing.State{Plan: "starter", SubscriptionID: "sub_1", Status: "incomplete", EventAt: t0}, true},
		{"upgrade to business",
			onPro,
			billing.Subscription{ID: "sub_1", Status: "active", PlanID: "business", PeriodEnd: end, EventAt: at(time.Hour)},
			billing.State{Plan: "business", SubscriptionID: "sub_1", Status: "active", PeriodEnd: end, EventAt: at(time.Hour)}, true},
		{"downgrade waits for the period end",
			billing.State{Plan: "business", SubscriptionID: "sub_1", Status: "active", PeriodEnd: end, EventAt: t0},
			billing.Subscription{ID: "sub_1", Status: "active", PlanID: "pro", PeriodEnd: end, EventAt: at(time.Hour)},
			billing.State{Plan: "business", PendingPlan: "pro", SubscriptionID: "sub_1", Status: "active", PeriodEnd: end, EventAt: at(time.Hour)}, true},
		{"back to the current plan cancels the downgrade",
			billing.State{Plan: "business", PendingPlan: "pro", SubscriptionID: "sub_1", Status: "active", PeriodEnd: end, EventAt: t0},
			billing.Subscription{ID: "sub_1", Status: "active", PlanID: "business", PeriodEnd: end, EventAt: at(time.Hour)},
			billing.State{Plan: "business", SubscriptionID: "sub_1", Status: "active", PeriodEnd: end, EventAt: at(time.Hour)}, true},
		{"an older update arriving late is ignored",
			onPro,
			billing.Subscription{ID: "sub_1", Status: "active", PlanID: "business", PeriodEnd: end, EventAt: at(-time.Hour)},
			onPro, false},
		{"deleted goes back to starter",
			onPro,
			billing.Subscription{ID: "sub_1", Status: "canceled", PlanID: "pro", PeriodEnd: end, EventAt: at(time.Hour)},
			billing.State{Plan: "starter", SubscriptionID: "sub_1", Status: "canceled", EventAt: at(time.Hour)}, true},
		{"an update after the deletion never revives it",
			billing.State{Plan: "starter", SubscriptionID: "sub_1", Status: "canceled", EventAt: t0},
			billing.Subscription{ID: "sub_1", Status: "active", PlanID: "pro", PeriodEnd: end, EventAt: at(time.Hour)},
			billing.State{Plan: "starter", SubscriptionID: "sub_1", Status: "canceled", EventAt: t0}, false},
		{"same second: canceled beats active",
			billing.State{Plan: "starter", SubscriptionID: "sub_1", Status: "canceled", EventAt: t0},
			billing.Subscription{ID: "sub_1", Status: "active", PlanID: "pro", PeriodEnd: end, EventAt: t0},
			billing.State{Plan: "starter", SubscriptionID: "sub_1", Status: "canceled", EventAt: t0}, false},
		{"an old subscription ending leaves the new one",
			billing.State{Plan: "business", SubscriptionID: "sub_2", Status: "active", PeriodEnd: end, EventAt: t0},
			billing.Subscription{ID: "sub_1", Status: "canceled", PlanID: "pro", EventAt: at(time.Hour)},
			billing.State{Plan: "business", SubscriptionID: "sub_2", Status: "active", PeriodEnd: end, EventAt: t0}, false},
		{"a new subscription after a canceled one",
			billing.State{Plan: "starter", SubscriptionID: "sub_1", Status: "canceled", EventAt: t0},
			billing.Subscription{ID: "sub_2", Status: "active", PlanID: "business", PeriodEnd: end, EventAt: at(time.Hour)},
			billing.State{Plan: "business", SubscriptionID: "sub_2", Status: "active", PeriodEnd: end, EventAt: at(time.Hour)}, true},
		{"an unknown price keeps the plan",
			onPro,
			billing.Subscription{ID: "sub_1", Status: "active", PlanID: "", PeriodEnd: end, EventAt: at(time.Hour)},
			billing.State{Plan: "pro", SubscriptionID: "sub_1", Status: "active", PeriodEnd: end, EventAt: at(time.Hour)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, applied := billing.ApplySubscription(tt.state, tt.sub, plans)
			if diff := cmp.Diff(tt.want, got); diff != "" || applied != tt.applied {
				t.Errorf("applied = %v, want %v; state (-want +got):\n%s", applied, tt.applied, diff)
			}
		})
	}
}

// TestOutOfOrder applies the same events in every order of arrival: the
// newest one decides.
func TestOutOfOrder(t *testing.T) {
	events := []billing.Subscription{
		{ID: "sub_1", Status: "incomplete", PlanID: "pro", PeriodEnd: end, EventAt: t0},
		{ID: "sub_1", Status: "active", PlanID: "pro", PeriodEnd: end, EventAt: at(time.Minute)},
		{ID: "sub_1", Status: "active", PlanID: "business", PeriodEnd: end, EventAt: at(time.Hour)},
	}
	want := billing.State{Plan: "business", SubscriptionID: "sub_1", Status: "active", PeriodEnd: end, EventAt: at(time.Hour)}
	for _, order := range [][]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}, {2, 0, 1}} {
		s := billing.State{Plan: "starter"}
		for _, i := range order {
			s, _ = billing.ApplySubscription(s, events[i], plans)
		}
		if diff := cmp.Diff(want, s); diff != "" {
			t.Errorf("order %v (-want +got):\n%s", order, diff)
		}
	}
}

func TestDue(t *testing.T) {
	grace := 7 * 24 * time.Hour
	tests := []struct {
		name    string
		state   billing.State
		now     time.Time
		want    billing.State
		changed bool
	}{
		{"pending before the period end waits",
			billing.State{Plan: "business", PendingPlan: "pro", PeriodEnd: end}, end.Add(-time.Second),
			billing.State{Plan: "business", PendingPlan: "pro", PeriodEnd: end}, false},
		{"pending at the period end applies",
			billing.State{Plan: "business", PendingPlan: "pro", PeriodEnd: end}, end,
			billing.State{Plan: "pro", PeriodEnd: end}, true},
		{"within the grace period",
			billing.State{Plan: "pro", PaymentFailedAt: t0}, t0.Add(grace - time.Second),
			billing.State{Plan: "pro", PaymentFailedAt: t0}, false},
		{"grace over: back to starter",
			billing.State{Plan: "pro", PendingPlan: "starter", PaymentFailedAt: t0}, t0.Add(grace),
			billing.State{Plan: "starter", PaymentFailedAt: t0}, true},
		{"already starter",
			billing.State{Plan: "starter", PaymentFailedAt: t0}, t0.Add(2 * grace),
			billing.State{Plan: "starter", PaymentFailedAt: t0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := billing.Due(tt.state, tt.now, grace)
			if diff := cmp.Diff(tt.want, got); diff != "" || changed != tt.changed {
				t.Errorf("changed = %v, want %v; (-want +got):\n%s", changed, tt.changed, diff)
			}
		})
	}
}

func TestPayments(t *testing.T) {
	s := billing.PaymentFailed(billing.State{Plan: "pro"}, t0)
	s = billing.PaymentFailed(s, at(time.Hour)) // a retry failing does not restart the grace
	if !s.PaymentFailedAt.Equal(t0) {
		t.Errorf("failed at = %v, want %v", s.PaymentFailedAt, t0)
	}
	if s = billing.PaymentSucceeded(s); !s.PaymentFailedAt.IsZero() {
		t.Errorf("failed at = %v after a payment", s.PaymentFailedAt)
	}
}

func TestIsDowngrade(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		want     bool
	}{
		{"pro to starter", "pro", "starter", true},
		{"business to pro", "business", "pro", true},
		{"pro to business", "pro", "business", false},
		{"same", "pro", "pro", false},
	}
	for _, tt := range tests {
		if got := billing.IsDowngrade(plans[tt.from], plans[tt.to]); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestBalanceLevel(t *testing.T) {
	tests := []struct {
		name               string
		balance, threshold int64
		want               billing.Balance
	}{
		{"plenty", 500, 50, billing.BalanceOK},
		{"at the threshold", 50, 50, billing.BalanceOK},
		{"below", 49, 50, billing.BalanceLow},
		{"zero", 0, 50, billing.BalanceEmpty},
		{"warning off", 10, 0, billing.BalanceOK},
		{"warning off, empty", 0, 0, billing.BalanceEmpty},
	}
	for _, tt := range tests {
		if got := billing.BalanceLevel(tt.balance, tt.threshold); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
