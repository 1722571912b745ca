package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// TestTenantScope calls every TenantStore method that takes an id or a
// reference with another tenant's: each must answer not found or nothing.
// A new TenantStore method gets a row here.
func TestTenantScope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	alice, aliceUser := dbtest.NewTenant(t, s)
	bob, _ := dbtest.NewTenant(t, s)
	if _, err := s.Tenant(alice.ID).Charge(ctx, 1, "x", "alice-charge"); err != nil {
		t.Fatal(err)
	}
	mallory := s.Tenant(bob.ID)

	notFound := []struct {
		name string
		call func() error
	}{
		{"User", func() error { _, err := mallory.User(ctx, aliceUser.ID); return err }},
		{"LedgerEntry", func() error { _, err := mallory.LedgerEntry(ctx, "alice-charge"); return err }},
		{"Refund", func() error { _, err := mallory.Refund(ctx, "alice-charge", "steal"); return err }},
	}
	for _, tt := range notFound {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, db.ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
	}

	t.Run("Users", func(t *testing.T) {
		us, err := mallory.Users(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range us {
			if u.TenantID != bob.ID {
				t.Errorf("saw user of tenant %d", u.TenantID)
			}
		}
	})
	t.Run("Ledger", func(t *testing.T) {
		es, _, err := mallory.Ledger(ctx, db.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.TenantID != bob.ID || e.Reference == "alice-charge" {
				t.Errorf("saw entry %+v", e)
			}
		}
	})
	t.Run("CreditUsageByDay", func(t *testing.T) {
		days, err := mallory.CreditUsageByDay(ctx, time.Now(), time.Now(), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 1 || days[0].Charged != 0 {
			t.Errorf("days = %+v, want no charges", days)
		}
	})
	if bal, _ := s.Tenant(alice.ID).CreditBalance(ctx); bal != 399 {
		t.Errorf("alice's balance = %d, want 399 (untouched by bob)", bal)
	}
}
