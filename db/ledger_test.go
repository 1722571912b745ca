package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

func TestSignUpGrantsCredits(t *testing.T) {
	t.Parallel()
	s := dbtest.Store(t)
	tenant, user := dbtest.NewTenant(t, s, dbtest.WithCredits(400))
	if tenant.CreditBalance != 400 || tenant.Plan != db.PlanStarter {
		t.Errorf("tenant = %+v", tenant)
	}
	ts := s.Tenant(tenant.ID)
	e, err := ts.LedgerEntry(context.Background(), "signup")
	if err != nil {
		t.Fatal(err)
	}
	if e.Kind != db.LedgerGrant || e.Amount != 400 || e.BalanceAfter != 400 {
		t.Errorf("signup entry = %+v", e)
	}
	if user.Role != db.RoleOwner || user.TenantID != tenant.ID {
		t.Errorf("user = %+v", user)
	}
	_, _, err = s.CreateTenantWithOwner(context.Background(), db.SignUp{BusinessName: "Dup", Email: user.Email, PasswordHash: "x"})
	if !errors.Is(err, db.ErrConflict) {
		t.Errorf("duplicate email: err = %v, want ErrConflict", err)
	}
}

// TestConcurrentCharges charges one tenant with a balance of 30 from 50
// goroutines at once: exactly 30 succeed and the balance ends at 0.
func TestConcurrentCharges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s, dbtest.WithCredits(30))
	ts := s.Tenant(tenant.ID)

	var ok, short atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := ts.Charge(ctx, 1, "test", fmt.Sprintf("concurrent:%d", i))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, db.ErrInsufficientCredits):
				short.Add(1)
			default:
				t.Errorf("charge %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 30 || short.Load() != 20 {
		t.Errorf("succeeded %d, refused %d; want 30 and 20", ok.Load(), short.Load())
	}
	bal, err := ts.CreditBalance(ctx)
	if err != nil || bal != 0 {
		t.Errorf("balance = %d (err %v), want 0", bal, err)
	}
	var negative int
	if err := dbtest.DB(t).NewSelect().Model((*db.LedgerEntry)(nil)).ColumnExpr("count(*)").
		Where("tenant_id = ? AND balance_after < 0", tenant.ID).Scan(ctx, &negative); err != nil || negative != 0 {
		t.Errorf("entries with a negative balance: %d (err %v)", negative, err)
	}
	assertLedgerSumsToBalance(t, s)
}

func TestChargeSameReferenceTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s, dbtest.WithCredits(10))
	ts := s.Tenant(tenant.ID)

	var wg sync.WaitGroup
	results := make([]*db.LedgerEntry, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := ts.Charge(ctx, 3, "AI reply", "ai:msg:42")
			if err != nil {
				t.Errorf("charge: %v", err)
			}
			results[i] = e
		}()
	}
	wg.Wait()
	replays := 0
	for _, e := range results {
		if e == nil {
			continue
		}
		if e.Replayed {
			replays++
		}
		if e.BalanceAfter != 7 || e.Amount != -3 {
			t.Errorf("result %+v, want the first charge (balance 7)", e)
		}
	}
	if replays != len(results)-1 {
		t.Errorf("replays = %d, want %d", replays, len(results)-1)
	}
	var rows int
	if err := dbtest.DB(t).NewSelect().Model((*db.LedgerEntry)(nil)).ColumnExpr("count(*)").
		Where("tenant_id = ? AND reference = ?", tenant.ID, "ai:msg:42").Scan(ctx, &rows); err != nil || rows != 1 {
		t.Errorf("rows for the reference = %d (err %v), want 1", rows, err)
	}
	if bal, _ := ts.CreditBalance(ctx); bal != 7 {
		t.Errorf("balance = %d, want 7", bal)
	}
	if _, err := ts.Charge(ctx, 5, "AI reply", "ai:msg:42"); !errors.Is(err, db.ErrConflict) {
		t.Errorf("same reference, other amount: err = %v, want ErrConflict", err)
	}
}

func TestRefund(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s, dbtest.WithCredits(5))
	ts := s.Tenant(tenant.ID)

	if _, err := ts.Charge(ctx, 2, "AI reply", "ai:msg:1"); err != nil {
		t.Fatal(err)
	}
	r, err := ts.Refund(ctx, "ai:msg:1", "Gemini failed")
	if err != nil {
		t.Fatal(err)
	}
	if r.Amount != 2 || r.BalanceAfter != 5 || r.Kind != db.LedgerRefund {
		t.Errorf("refund = %+v", r)
	}
	again, err := ts.Refund(ctx, "ai:msg:1", "Gemini failed")
	if err != nil || !again.Replayed || again.ID != r.ID {
		t.Errorf("second refund = %+v, %v; want a replay of the first", again, err)
	}
	if bal, _ := ts.CreditBalance(ctx); bal != 5 {
		t.Errorf("balance = %d, want 5", bal)
	}
	if _, err := ts.Refund(ctx, "ai:msg:404", "x"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("refund of unknown charge: %v, want ErrNotFound", err)
	}
	if _, err := ts.Charge(ctx, 6, "too much", "big"); !errors.Is(err, db.ErrInsufficientCredits) {
		t.Errorf("overdraft: %v, want ErrInsufficientCredits", err)
	}
	if _, err := ts.LedgerEntry(ctx, "big"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("a refused charge left a row: %v", err)
	}
	assertLedgerSumsToBalance(t, s)
}

func TestBalanceNeverNegativeInDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s, dbtest.WithCredits(1))
	_, err := dbtest.DB(t).ExecContext(ctx, "UPDATE tenants SET credit_balance = -1 WHERE id = ?", tenant.ID)
	if err == nil {
		t.Fatal("the database accepted a negative balance")
	}
}

func TestLedgerPagesAndUsage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s, dbtest.WithCredits(100))
	ts := s.Tenant(tenant.ID)
	for i := range 30 {
		if _, err := ts.Charge(ctx, 2, "message", fmt.Sprintf("m:%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.Refund(ctx, "m:0", "failed"); err != nil {
		t.Fatal(err)
	}
	page, total, err := ts.Ledger(ctx, db.Page{Number: 2, PerPage: 25})
	if err != nil {
		t.Fatal(err)
	}
	if total != 32 || len(page) != 7 {
		t.Errorf("page 2: %d rows of %d, want 7 of 32", len(page), total)
	}
	if page[len(page)-1].Reference != "signup" {
		t.Errorf("oldest entry = %q, want signup", page[len(page)-1].Reference)
	}
	now := time.Now()
	days, err := ts.CreditUsageByDay(ctx, now.AddDate(0, 0, -6), now, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 7 {
		t.Fatalf("days = %d, want 7", len(days))
	}
	today := days[6]
	if today.Charged != 60 || today.Refunded != 2 || today.Granted != 100 || today.Net() != 58 {
		t.Errorf("today = %+v", today)
	}
	if days[0].Charged != 0 {
		t.Errorf("a week ago = %+v, want zeros", days[0])
	}
}

func assertLedgerSumsToBalance(t *testing.T, s *db.Store) {
	t.Helper()
	bad, err := s.LedgerMismatchesAllTenants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) != 0 {
		t.Errorf("tenants whose balance is not the ledger sum: %+v", bad)
	}
}
