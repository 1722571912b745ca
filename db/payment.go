package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Payment kinds.
const (
	PaymentSubscription = "subscription"
	PaymentTopUp        = "top-up"
)

// Payment is money a tenant paid, as Stripe reported it: an invoice
// (subscription) or a top-up's Checkout session, recorded once by the
// Stripe object's id. AmountCents is in the currency's smallest unit.
type Payment struct {
	bun.BaseModel `bun:"table:payments,alias:pay"`

	ID          int64     `bun:"id,pk,autoincrement"`
	TenantID    int64     `bun:"tenant_id,notnull"`
	StripeID    string    `bun:"stripe_id,notnull"`
	Kind        string    `bun:"kind,notnull"`
	AmountCents int64     `bun:"amount_cents,notnull"`
	Currency    string    `bun:"currency,notnull"`
	PaidAt      time.Time `bun:"paid_at,notnull"`
	CreatedAt   time.Time `bun:"created_at,notnull,default:current_timestamp"`
}

// StripeReference is the ledger reference of the credits granted with a
// Stripe object (invoice or Checkout session).
func StripeReference(stripeID string) string { return "stripe:" + stripeID }

// RecordPayment records a payment once by its Stripe id (nothing when its
// amount is zero: no money came in) and grants credits with it (none when
// credits is 0), referenced StripeReference(p.StripeID), in one
// transaction. It returns the ledger entry (nil without credits); an entry
// marked Replayed and no new payment row when the object was seen before.
func (ts *TenantStore) RecordPayment(ctx context.Context, p Payment, credits int64, reason string) (*LedgerEntry, error) {
	var e *LedgerEntry
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		if p.AmountCents > 0 {
			p.TenantID = ts.tenantID
			if _, err := tx.db.NewInsert().Model(&p).On("CONFLICT (stripe_id) DO NOTHING").Exec(ctx); err != nil {
				return mapErr(err)
			}
		}
		if credits <= 0 {
			return nil
		}
		var err error
		e, err = tx.Grant(ctx, credits, reason, StripeReference(p.StripeID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record payment %s: %w", p.StripeID, err)
	}
	return e, nil
}

// Payments returns the tenant's latest payments, newest first.
func (ts *TenantStore) Payments(ctx context.Context, limit int) ([]Payment, error) {
	var ps []Payment
	err := ts.db.NewSelect().Model(&ps).ApplyQueryBuilder(ts.scope).
		Order("pay.paid_at DESC", "pay.id DESC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	return ps, nil
}

// Paid reports whether the tenant's Stripe object (invoice or Checkout
// session) is paid already: a payment or its credits are recorded.
func (ts *TenantStore) Paid(ctx context.Context, stripeID string) (bool, error) {
	var n int
	err := ts.db.NewRaw(`SELECT (SELECT count(*) FROM payments WHERE tenant_id = ? AND stripe_id = ?)
		+ (SELECT count(*) FROM credit_ledger WHERE tenant_id = ? AND reference = ?)`,
		ts.tenantID, stripeID, ts.tenantID, StripeReference(stripeID)).Scan(ctx, &n)
	if err != nil {
		return false, fmt.Errorf("paid %s: %w", stripeID, err)
	}
	return n > 0, nil
}

// TenantRevenue is what one tenant paid in one currency over a period.
type TenantRevenue struct {
	TenantID   int64  `bun:"tenant_id"`
	TenantName string `bun:"tenant_name"`
	Currency   string `bun:"currency"`
	Cents      int64  `bun:"cents"`
}

// RevenueAllTenants sums every tenant's payments made in [since, until),
// per tenant and currency.
func (s *Store) RevenueAllTenants(ctx context.Context, since, until time.Time) ([]TenantRevenue, error) {
	var out []TenantRevenue
	err := s.db.NewSelect().Model((*Payment)(nil)).
		ColumnExpr("pay.tenant_id, t.name AS tenant_name, pay.currency, sum(pay.amount_cents) AS cents").
		Join("JOIN tenants AS t ON t.id = pay.tenant_id").
		Where("pay.paid_at >= ? AND pay.paid_at < ?", since, until).
		GroupExpr("pay.tenant_id, t.name, pay.currency").OrderExpr("pay.tenant_id, pay.currency").Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("revenue: %w", err)
	}
	return out, nil
}

// RevenueDay is what was paid on one day in one currency.
type RevenueDay struct {
	Day      time.Time `bun:"day"`
	Currency string    `bun:"currency"`
	Cents    int64     `bun:"cents"`
}

// RevenueByDayAllTenants sums every tenant's payments per day (in loc) and
// currency from since's day to until's; days without a payment are absent.
func (s *Store) RevenueByDayAllTenants(ctx context.Context, since, until time.Time, loc *time.Location) ([]RevenueDay, error) {
	var out []RevenueDay
	err := s.db.NewSelect().Model((*Payment)(nil)).
		ColumnExpr("date_trunc('day', pay.paid_at AT TIME ZONE ?) AS day", loc.String()).
		ColumnExpr("pay.currency, sum(pay.amount_cents) AS cents").
		Where("pay.paid_at >= ?", startOfDay(since, loc)).
		Where("pay.paid_at < ?", startOfDay(until, loc).AddDate(0, 0, 1)).
		GroupExpr("day, pay.currency").OrderExpr("day, pay.currency").Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("revenue by day: %w", err)
	}
	for i := range out {
		d := out[i].Day
		out[i].Day = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
	}
	return out, nil
}
