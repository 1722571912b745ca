package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Ledger entry kinds.
const (
	LedgerGrant  = "grant"
	LedgerCharge = "charge"
	LedgerRefund = "refund"
)

// LedgerEntry is one change of a tenant's credit balance. Grants and refunds
// have a positive Amount, charges a negative one. Reference is unique per
// tenant: writing an entry whose reference exists is a no-op that returns the
// first entry, which makes charges safe to retry. BalanceAfter is the balance
// right after the entry, never below zero.
type LedgerEntry struct {
	bun.BaseModel `bun:"table:credit_ledger,alias:l"`

	ID           int64     `bun:"id,pk,autoincrement"`
	TenantID     int64     `bun:"tenant_id,notnull"`
	Kind         string    `bun:"kind,notnull"`
	Amount       int64     `bun:"amount,notnull"`
	BalanceAfter int64     `bun:"balance_after,notnull"`
	Reason       string    `bun:"reason,notnull"`
	Reference    string    `bun:"reference,notnull"`
	CreatedAt    time.Time `bun:"created_at,notnull,default:current_timestamp"`

	// Replayed is true when the reference already existed and this is the
	// first entry written with it.
	Replayed bool `bun:"-"`
}

// RefundReference is the reference of the refund of the charge with ref.
func RefundReference(chargeRef string) string { return "refund:" + chargeRef }

// Grant adds amount credits (sign-up, plan, top-up, owner adjustment).
func (ts *TenantStore) Grant(ctx context.Context, amount int64, reason, ref string) (*LedgerEntry, error) {
	if amount <= 0 {
		return nil, fmt.Errorf("grant: amount must be positive, got %d", amount)
	}
	return ts.applyLedger(ctx, LedgerGrant, amount, reason, ref)
}

// Charge takes amount credits, or fails with ErrInsufficientCredits without
// changing anything. Charging a reference twice charges once.
func (ts *TenantStore) Charge(ctx context.Context, amount int64, reason, ref string) (*LedgerEntry, error) {
	if amount <= 0 {
		return nil, fmt.Errorf("charge: amount must be positive, got %d", amount)
	}
	return ts.applyLedger(ctx, LedgerCharge, -amount, reason, ref)
}

// Refund gives back the charge written with chargeRef. It returns
// ErrNotFound when there is no such charge; refunding twice refunds once.
func (ts *TenantStore) Refund(ctx context.Context, chargeRef, reason string) (*LedgerEntry, error) {
	var out *LedgerEntry
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		balance, err := tx.lockTenant(ctx)
		if err != nil {
			return err
		}
		charge, err := tx.LedgerEntry(ctx, chargeRef)
		if err != nil {
			return fmt.Errorf("charge %q: %w", chargeRef, err)
		}
		if charge.Kind != LedgerCharge {
			return fmt.Errorf("refund %q: %w: not a charge", chargeRef, ErrConflict)
		}
		out, err = tx.writeEntry(ctx, balance, LedgerRefund, -charge.Amount, reason, RefundReference(chargeRef))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("refund: %w", err)
	}
	return out, nil
}

// applyLedger writes one entry and moves the balance in one transaction. The
// tenant row is locked first, so entries of one tenant are serialised: the
// reference check then sees every committed entry, and the balance check
// cannot race. The CHECK constraints on tenants and credit_ledger back this up.
func (ts *TenantStore) applyLedger(ctx context.Context, kind string, amount int64, reason, ref string) (*LedgerEntry, error) {
	var e *LedgerEntry
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		balance, err := tx.lockTenant(ctx)
		if err != nil {
			return err
		}
		e, err = tx.writeEntry(ctx, balance, kind, amount, reason, ref)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ledger %s %q: %w", kind, ref, err)
	}
	return e, nil
}

// writeEntry writes an entry with the tenant row locked (its balance given),
// inside the caller's transaction. The entry and the new balance are written
// in one statement, unless the reference exists: then the first entry is
// returned, marked Replayed. The lock is held for as few round trips as can
// be, since every entry of the tenant waits for it.
func (ts *TenantStore) writeEntry(ctx context.Context, balance int64, kind string, amount int64, reason, ref string) (*LedgerEntry, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, errors.New("ledger: a reference is required")
	}
	e := &LedgerEntry{TenantID: ts.tenantID, Kind: kind, Amount: amount, Reason: reason, Reference: ref}
	if balance+amount >= 0 {
		err := ts.db.NewRaw(`
			WITH ins AS (
				INSERT INTO credit_ledger (tenant_id, kind, amount, balance_after, reason, reference)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, reference) DO NOTHING
				RETURNING *),
			bal AS (UPDATE tenants SET credit_balance = ins.balance_after, updated_at = now() FROM ins WHERE tenants.id = ins.tenant_id)
			SELECT * FROM ins`,
			ts.tenantID, kind, amount, balance+amount, reason, ref).Scan(ctx, e)
		if err == nil {
			return e, nil
		}
		if !errors.Is(mapErr(err), ErrNotFound) {
			return nil, mapErr(err)
		}
	}
	// Nothing written: the reference was used before, or the balance is
	// short.
	first, err := ts.LedgerEntry(ctx, ref)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, ErrInsufficientCredits
	case err != nil:
		return nil, err
	case first.Kind != kind || first.Amount != amount:
		return nil, fmt.Errorf("%w: reference %q was used for a %s of %d", ErrConflict, ref, first.Kind, first.Amount)
	}
	first.Replayed = true
	return first, nil
}

// lockTenant locks the tenant row for the rest of the transaction and
// returns the balance. (FOR UPDATE also holds up the foreign-key checks of
// rows written for the tenant meanwhile; FOR NO KEY UPDATE would not, but
// measured with 200 conversations at once it made the reservations
// themselves slower: the FK waits pace the rest of the work.)
func (ts *TenantStore) lockTenant(ctx context.Context) (int64, error) {
	var bal int64
	err := ts.db.NewSelect().Model((*Tenant)(nil)).Column("credit_balance").
		Where("t.id = ?", ts.tenantID).For("UPDATE").Scan(ctx, &bal)
	if err != nil {
		return 0, mapErr(err)
	}
	return bal, nil
}

// LedgerEntry returns the entry with the given reference.
func (ts *TenantStore) LedgerEntry(ctx context.Context, ref string) (*LedgerEntry, error) {
	e := new(LedgerEntry)
	err := ts.db.NewSelect().Model(e).ApplyQueryBuilder(ts.scope).Where("l.reference = ?", ref).Scan(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	return e, nil
}

// Page asks for one page of a list, counting from 1.
type Page struct {
	Number  int
	PerPage int
}

// Normalize fills defaults and bounds.
func (p Page) Normalize() Page {
	if p.PerPage <= 0 || p.PerPage > 200 {
		p.PerPage = 25
	}
	if p.Number < 1 {
		p.Number = 1
	}
	return p
}

func (p Page) offset() int { return (p.Number - 1) * p.PerPage }

// Ledger returns one page of the tenant's ledger, newest first, and the total
// number of entries.
func (ts *TenantStore) Ledger(ctx context.Context, page Page) ([]LedgerEntry, int, error) {
	page = page.Normalize()
	var es []LedgerEntry
	n, err := ts.db.NewSelect().Model(&es).ApplyQueryBuilder(ts.scope).
		Order("l.created_at DESC", "l.id DESC").Limit(int64(page.PerPage)).Offset(int64(page.offset())).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("ledger: %w", err)
	}
	return es, int(n), nil
}

// DayUsage is the credit movement of one day.
type DayUsage struct {
	Day      time.Time `bun:"day"`
	Charged  int64     `bun:"charged"`
	Refunded int64     `bun:"refunded"`
	Granted  int64     `bun:"granted"`
}

// Net returns the credits used that day: charges minus refunds.
func (d DayUsage) Net() int64 { return d.Charged - d.Refunded }

// CreditUsageByDay returns one row per day from the day of since to the day of
// until (inclusive) in loc, days without movement included as zeros.
func (ts *TenantStore) CreditUsageByDay(ctx context.Context, since, until time.Time, loc *time.Location) ([]DayUsage, error) {
	var rows []DayUsage
	err := ts.db.NewSelect().Model((*LedgerEntry)(nil)).
		ColumnExpr("date_trunc('day', l.created_at AT TIME ZONE ?) AS day", loc.String()).
		ColumnExpr("coalesce(sum(-l.amount) FILTER (WHERE l.kind = 'charge'), 0) AS charged").
		ColumnExpr("coalesce(sum(l.amount) FILTER (WHERE l.kind = 'refund'), 0) AS refunded").
		ColumnExpr("coalesce(sum(l.amount) FILTER (WHERE l.kind = 'grant'), 0) AS granted").
		ApplyQueryBuilder(ts.scope).
		Where("l.created_at >= ?", startOfDay(since, loc)).
		Where("l.created_at < ?", startOfDay(until, loc).AddDate(0, 0, 1)).
		GroupExpr("day").OrderExpr("day").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("credit usage: %w", err)
	}
	byDay := make(map[string]DayUsage, len(rows))
	for _, r := range rows {
		byDay[r.Day.Format(time.DateOnly)] = r
	}
	var out []DayUsage
	for d := startOfDay(since, loc); !d.After(startOfDay(until, loc)); d = d.AddDate(0, 0, 1) {
		u := byDay[d.Format(time.DateOnly)]
		u.Day = d
		out = append(out, u)
	}
	return out, nil
}

func startOfDay(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// LedgerMismatch is a tenant whose balance differs from the sum of its ledger.
type LedgerMismatch struct {
	TenantID  int64 `bun:"tenant_id"`
	Balance   int64 `bun:"balance"`
	LedgerSum int64 `bun:"ledger_sum"`
}

// LedgerMismatchesAllTenants returns every tenant whose balance is not the sum
// of its ledger entries. It should always be empty; the audit job checks it.
func (s *Store) LedgerMismatchesAllTenants(ctx context.Context) ([]LedgerMismatch, error) {
	var out []LedgerMismatch
	err := s.db.NewRaw(`
		SELECT t.id AS tenant_id, t.credit_balance AS balance, coalesce(sum(l.amount), 0) AS ledger_sum
		FROM tenants t LEFT JOIN credit_ledger l ON l.tenant_id = t.id
		GROUP BY t.id
		HAVING t.credit_balance <> coalesce(sum(l.amount), 0)`).Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("ledger audit: %w", err)
	}
	return out, nil
}
