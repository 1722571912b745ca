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

// TestRecordPayment: a payment is recorded once by its Stripe id with its
// credits, however often it is recorded, and only in its tenant's scope.
func TestRecordPayment(t *testing.T) {
	t.Parallel()
	s, ctx := dbtest.Store(t), context.Background()
	alice, _ := dbtest.NewTenant(t, s)
	bob, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(alice.ID)
	at := time.Date(2003, 3, 14, 15, 0, 0, 0, time.UTC)
	p := db.Payment{StripeID: fmt.Sprintf("cs_pay_%d", alice.ID), Kind: db.PaymentTopUp, AmountCents: 1000, Currency: "usd", PaidAt: at}
	for i := range 3 {
		e, err := ts.RecordPayment(ctx, p, 500, "Top-up")
		if err != nil || e == nil || e.Replayed != (i > 0) || e.Reference != db.StripeReference(p.StripeID) {
			t.Fatalf("record %d: %+v, %v", i, e, err)
		}
	}
	// An invoice paid without credits, and one of nothing (not revenue).
	inv := db.Payment{StripeID: fmt.Sprintf("in_pay_%d", alice.ID), Kind: db.PaymentSubscription, AmountCents: 2900, Currency: "eur", PaidAt: at.Add(24 * time.Hour)}
	zero := db.Payment{StripeID: fmt.Sprintf("in_zero_%d", alice.ID), Kind: db.PaymentSubscription, Currency: "usd", PaidAt: at}
	for _, q := range []db.Payment{inv, inv, zero} {
		if e, err := ts.RecordPayment(ctx, q, 0, ""); err != nil || e != nil {
			t.Fatalf("record %s: %+v, %v", q.StripeID, e, err)
		}
	}
	for id, want := range map[string]bool{p.StripeID: true, inv.StripeID: true, zero.StripeID: false} {
		if paid, err := ts.Paid(ctx, id); err != nil || paid != want {
			t.Errorf("paid %s = %v (%v), want %v", id, paid, err, want)
		}
		if paid, _ := s.Tenant(bob.ID).Paid(ctx, id); paid {
			t.Errorf("bob's %s paid", id)
		}
	}
	ps, err := ts.Payments(ctx, 10)
	if err != nil || len(ps) != 2 || ps[0].StripeID != inv.StripeID || ps[1].AmountCents != 1000 {
		t.Fatalf("payments = %+v, %v", ps, err)
	}
	if bal, _ := ts.CreditBalance(ctx); bal != alice.CreditBalance+500 {
		t.Errorf("balance = %d, want %d", bal, alice.CreditBalance+500)
	}
	if ps, err := s.Tenant(bob.ID).Payments(ctx, 10); err != nil || len(ps) != 0 {
		t.Errorf("bob sees %+v, %v", ps, err)
	}
	// The same Stripe object for another tenant records nothing more.
	if _, err := s.Tenant(bob.ID).RecordPayment(ctx, p, 0, ""); err != nil {
		t.Fatal(err)
	}
	if ps, _ := s.Tenant(bob.ID).Payments(ctx, 10); len(ps) != 0 {
		t.Errorf("bob's payments = %+v", ps)
	}
	wantRevenue(t, s, alice.ID, at)
}

// wantRevenue checks the month's sums of TestRecordPayment's payments.
func wantRevenue(t *testing.T, s *db.Store, tenantID int64, at time.Time) {
	t.Helper()
	ctx := context.Background()
	start := time.Date(at.Year(), at.Month(), 1, 0, 0, 0, 0, time.UTC)
	rows, err := s.RevenueAllTenants(ctx, start, start.AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range rows {
		if r.TenantID == tenantID {
			got[r.Currency] += r.Cents
		}
	}
	if fmt.Sprint(got) != "map[eur:2900 usd:1000]" {
		t.Errorf("revenue = %v", got)
	}
	if rows, _ := s.RevenueAllTenants(ctx, start.AddDate(0, 1, 0), start.AddDate(0, 2, 0)); len(rows) != 0 {
		t.Errorf("next month's revenue = %+v", rows)
	}
	days, err := s.RevenueByDayAllTenants(ctx, at, at.Add(48*time.Hour), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	byDay := map[string]int64{}
	for _, d := range days {
		byDay[d.Day.Format(time.DateOnly)+" "+d.Currency] += d.Cents
	}
	if byDay["2003-03-14 usd"] < 1000 || byDay["2003-03-15 eur"] < 2900 {
		t.Errorf("revenue by day = %v", byDay)
	}
}

// TestFailedStripeEvents: an event given up on is listed with its error
// until it is processed after all.
func TestFailedStripeEvents(t *testing.T) {
	t.Parallel()
	s, ctx := dbtest.Store(t), context.Background()
	id := fmt.Sprintf("evt_failed_%d", time.Now().UnixNano())
	e, _, err := s.RecordStripeEvent(ctx, id, "invoice.paid", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	listed := func() *db.StripeEvent {
		es, err := s.FailedStripeEventsAllTenants(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range es {
			if x.EventID == id {
				return &x
			}
		}
		return nil
	}
	if err := s.MarkStripeEvent(ctx, e.ID, errors.New("database away"), false); err != nil || listed() != nil {
		t.Fatalf("a retried failure is listed (%v)", err)
	}
	if err := s.MarkStripeEvent(ctx, e.ID, errors.New("bad payload"), true); err != nil {
		t.Fatal(err)
	}
	if x := listed(); x == nil || x.LastError != "bad payload" || x.Attempts != 2 || x.FailedAt == nil {
		t.Fatalf("failed event = %+v", x)
	}
	if err := s.MarkStripeEvent(ctx, e.ID, nil, false); err != nil || listed() != nil {
		t.Errorf("a processed event is still listed (%v)", err)
	}
}
