package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

func TestPlansSeeded(t *testing.T) {
	t.Parallel()
	s := dbtest.Store(t)
	ps, err := s.PlansList(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, p := range ps {
		got[p.ID] = p.InstanceLimit
	}
	want := map[string]int{"starter": 1, "pro": 3, "business": 10} // PLAN_INSTANCE_LIMITS' defaults
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("plans = %v, want %v", got, want)
	}
	if packs, err := s.CreditPacks(context.Background()); err != nil || len(packs) == 0 {
		t.Errorf("packs = %v, %v", packs, err)
	}
}

func TestStripeEventStoredOnce(t *testing.T) {
	t.Parallel()
	s, ctx := dbtest.Store(t), context.Background()
	id := fmt.Sprintf("evt_once_%d", time.Now().UnixNano())
	first, isNew, err := s.RecordStripeEvent(ctx, id, "invoice.paid", []byte(`{}`))
	if err != nil || !isNew {
		t.Fatalf("first: %v %v", isNew, err)
	}
	again, isNew, err := s.RecordStripeEvent(ctx, id, "invoice.paid", []byte(`{}`))
	if err != nil || isNew || again.ID != first.ID {
		t.Fatalf("again: %+v %v %v", again, isNew, err)
	}
	if err := s.MarkStripeEvent(ctx, first.ID, nil, false); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.StripeEvent(ctx, first.ID); e.ProcessedAt == nil || e.Attempts != 1 {
		t.Errorf("after mark: %+v", e)
	}
}

// TestBillingState: the billing columns are the scoped tenant's, found by
// Stripe customer, and due when a downgrade's period ends or a payment
// stays failed past the grace.
func TestBillingState(t *testing.T) {
	t.Parallel()
	s, ctx := dbtest.Store(t), context.Background()
	alice, _ := dbtest.NewTenant(t, s)
	bob, _ := dbtest.NewTenant(t, s)
	cus := fmt.Sprintf("cus_alice_%d", alice.ID)
	past, failed := time.Now().Add(-time.Hour), time.Now().Add(-8*24*time.Hour)
	_, err := s.Tenant(alice.ID).UpdateBilling(ctx, func(tn *db.Tenant) (bool, error) {
		pending := db.PlanPro
		tn.Plan, tn.PendingPlan, tn.CurrentPeriodEnd, tn.StripeCustomerID = db.PlanBusiness, &pending, &past, &cus
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Tenant(bob.ID).UpdateBilling(ctx, func(tn *db.Tenant) (bool, error) {
		tn.Plan, tn.PaymentFailedAt = db.PlanPro, &failed
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Tenant(alice.ID).InstanceLimit(ctx); n != 10 {
		t.Errorf("alice's limit = %d, want business's 10", n)
	}
	if n, _ := s.Tenant(bob.ID).InstanceLimit(ctx); n != 3 {
		t.Errorf("bob's limit = %d, want pro's 3", n)
	}
	if tn, err := s.TenantByStripeCustomer(ctx, cus); err != nil || tn.ID != alice.ID {
		t.Errorf("by customer: %v %v", tn, err)
	}
	if _, err := s.TenantByStripeCustomer(ctx, "cus_nobody"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("unknown customer: %v", err)
	}
	due, err := s.BillingDueAllTenants(ctx, time.Now(), 7*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, id := range due {
		seen[id] = true
	}
	if !seen[alice.ID] || !seen[bob.ID] {
		t.Errorf("due = %v, want alice %d and bob %d", due, alice.ID, bob.ID)
	}
	due, _ = s.BillingDueAllTenants(ctx, time.Now(), 30*24*time.Hour)
	for _, id := range due {
		if id == bob.ID {
			t.Errorf("bob is due within a 30-day grace")
		}
	}
}
