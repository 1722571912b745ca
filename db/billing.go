package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Plan is a subscription plan, edited by the platform owner in the
// database. Starter (PlanStarter) is the sign-up plan: its credits are the
// DEFAULT_CREDITS granted once at sign-up; paid plans grant MonthlyCredits
// on every paid invoice. Not tenant-owned.
type Plan struct {
	bun.BaseModel `bun:"table:plans,alias:p"`

	ID             string `bun:"id,pk"`
	Name           string `bun:"name,notnull"`
	PriceCents     int64  `bun:"price_cents,notnull"`
	Currency       string `bun:"currency,notnull"`
	MonthlyCredits int64  `bun:"monthly_credits,notnull"`
	InstanceLimit  int    `bun:"instance_limit,notnull"`
	// StripePriceID is the recurring Stripe price; empty means Checkout
	// prices the plan from PriceCents.
	StripePriceID string    `bun:"stripe_price_id,notnull"`
	Active        bool      `bun:"active,notnull"`
	SortOrder     int       `bun:"sort_order,notnull"`
	CreatedAt     time.Time `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt     time.Time `bun:"updated_at,notnull,default:current_timestamp"`
}

// CreditPack is a one-time credit top-up on sale. Not tenant-owned.
type CreditPack struct {
	bun.BaseModel `bun:"table:credit_packs,alias:cp"`

	ID            int64     `bun:"id,pk,autoincrement"`
	Credits       int64     `bun:"credits,notnull"`
	PriceCents    int64     `bun:"price_cents,notnull"`
	Currency      string    `bun:"currency,notnull"`
	StripePriceID string    `bun:"stripe_price_id,notnull"`
	Active        bool      `bun:"active,notnull"`
	SortOrder     int       `bun:"sort_order,notnull"`
	CreatedAt     time.Time `bun:"created_at,notnull,default:current_timestamp"`
}

// PlansList returns every plan (inactive ones too, with all), in display order.
func (s *Store) PlansList(ctx context.Context, all bool) ([]Plan, error) {
	var ps []Plan
	q := s.db.NewSelect().Model(&ps).Order("p.sort_order", "p.id")
	if !all {
		q = q.Where("p.active")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("plans: %w", err)
	}
	return ps, nil
}

// Plan returns one plan.
func (s *Store) Plan(ctx context.Context, id string) (*Plan, error) {
	p := new(Plan)
	if err := s.db.NewSelect().Model(p).Where("p.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("plan %q: %w", id, mapErr(err))
	}
	return p, nil
}

// PlanByStripePrice returns the plan sold at a Stripe price.
func (s *Store) PlanByStripePrice(ctx context.Context, priceID string) (*Plan, error) {
	p := new(Plan)
	err := s.db.NewSelect().Model(p).Where("p.stripe_price_id = ? AND p.stripe_price_id <> ''", priceID).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("plan of price %q: %w", priceID, mapErr(err))
	}
	return p, nil
}

// CreditPacks returns the packs on sale, in display order.
func (s *Store) CreditPacks(ctx context.Context) ([]CreditPack, error) {
	var ps []CreditPack
	if err := s.db.NewSelect().Model(&ps).Where("cp.active").Order("cp.sort_order", "cp.id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("credit packs: %w", err)
	}
	return ps, nil
}

// CreditPack returns one pack on sale.
func (s *Store) CreditPack(ctx context.Context, id int64) (*CreditPack, error) {
	p := new(CreditPack)
	if err := s.db.NewSelect().Model(p).Where("cp.id = ? AND cp.active", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("credit pack %d: %w", id, mapErr(err))
	}
	return p, nil
}

// InstanceLimit returns how many WhatsApp numbers the tenant's plan allows.
func (ts *TenantStore) InstanceLimit(ctx context.Context) (int, error) {
	var n int
	err := ts.db.NewSelect().Model((*Plan)(nil)).Column("p.instance_limit").
		Join("JOIN tenants AS t ON t.plan = p.id").Where("t.id = ?", ts.tenantID).Scan(ctx, &n)
	if err != nil {
		return 0, fmt.Errorf("instance limit: %w", mapErr(err))
	}
	return n, nil
}

// TenantByStripeCustomer returns the tenant that is the Stripe customer.
func (s *Store) TenantByStripeCustomer(ctx context.Context, customerID string) (*Tenant, error) {
	t := new(Tenant)
	err := s.db.NewSelect().Model(t).Where("t.stripe_customer_id = ?", customerID).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("tenant of customer %q: %w", customerID, mapErr(err))
	}
	return t, nil
}

// UpdateBilling locks the tenant row, hands it to fn, and when fn reports a
// change saves the billing columns (plan, Stripe ids, subscription status
// and times, pending plan, payment failure) and applies the plan's limit of
// numbers (ApplyNumberLimit) in the same transaction. Events
// of one tenant are so applied one at a time, each on the latest state.
func (ts *TenantStore) UpdateBilling(ctx context.Context, fn func(t *Tenant) (bool, error)) (*Tenant, error) {
	t := new(Tenant)
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		if err := tx.db.NewSelect().Model(t).Where("t.id = ?", ts.tenantID).For("UPDATE").Scan(ctx); err != nil {
			return mapErr(err)
		}
		changed, err := fn(t)
		if err != nil || !changed {
			return err
		}
		_, err = tx.db.NewUpdate().Model(t).WherePK().Column("plan", "stripe_customer_id", "stripe_subscription_id",
			"subscription_status", "current_period_end", "subscription_event_at", "pending_plan", "payment_failed_at").
			Set("updated_at = now()").Exec(ctx)
		if err != nil {
			return mapErr(err)
		}
		// The plan's limit of numbers applies at once: those beyond it
		// pause, those within it again resume.
		_, err = tx.ApplyNumberLimit(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update billing of tenant %d: %w", ts.tenantID, err)
	}
	return t, nil
}

// BillingDueAllTenants lists the tenants whose pending downgrade is due at
// now, or whose failed payment is older than grace while on a paid plan.
func (s *Store) BillingDueAllTenants(ctx context.Context, now time.Time, grace time.Duration) ([]int64, error) {
	var ids []int64
	err := s.db.NewSelect().Model((*Tenant)(nil)).Column("t.id").
		WhereOr("t.pending_plan IS NOT NULL AND t.current_period_end <= ?", now).
		WhereOr("t.payment_failed_at <= ? AND t.plan <> ?", now.Add(-grace), PlanStarter).
		Order("t.id").Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("billing due: %w", err)
	}
	return ids, nil
}

// LowBalanceUnnotifiedAllTenants lists up to limit tenants whose balance is
// below threshold and who have not been told by email yet.
func (s *Store) LowBalanceUnnotifiedAllTenants(ctx context.Context, threshold int64, limit int) ([]int64, error) {
	var ids []int64
	err := s.db.NewSelect().Model((*Tenant)(nil)).Column("t.id").
		Where("t.credit_balance < ? AND t.low_balance_notified_at IS NULL", threshold).
		Order("t.id").Limit(int64(limit)).Scan(ctx, &ids)
	if err != nil {
		return nil, fmt.Errorf("low balance tenants: %w", err)
	}
	return ids, nil
}

// ClearLowBalanceNoticesAllTenants forgets the notice of every tenant whose
// balance is back at threshold or above, so the next fall is told again.
func (s *Store) ClearLowBalanceNoticesAllTenants(ctx context.Context, threshold int64) error {
	_, err := s.db.NewUpdate().Model((*Tenant)(nil)).Set("low_balance_notified_at = NULL").
		Where("t.credit_balance >= ? AND t.low_balance_notified_at IS NOT NULL", threshold).Exec(ctx)
	if err != nil {
		return fmt.Errorf("clear low balance notices: %w", err)
	}
	return nil
}

// ClaimLowBalanceNotice, with claim, records that the tenant is being told
// of its low balance and reports false when it was already (another worker
// got there first); without claim it gives the notice back after a failed
// send.
func (ts *TenantStore) ClaimLowBalanceNotice(ctx context.Context, claim bool) (bool, error) {
	q := ts.db.NewUpdate().Model((*Tenant)(nil)).Where("t.id = ?", ts.tenantID)
	if claim {
		q = q.Set("low_balance_notified_at = now()").Where("t.low_balance_notified_at IS NULL")
	} else {
		q = q.Set("low_balance_notified_at = NULL")
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("low balance notice: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// StripeEvent is one Stripe webhook event, stored once by Stripe's event id
// before a job processes it. Not tenant-owned: the tenant is found while
// processing (client_reference_id or the Stripe customer).
type StripeEvent struct {
	bun.BaseModel `bun:"table:stripe_events,alias:se"`

	ID          int64      `bun:"id,pk,autoincrement"`
	EventID     string     `bun:"event_id,notnull"`
	EventType   string     `bun:"event_type,notnull"`
	Payload     []byte     `bun:"payload,notnull"`
	ReceivedAt  time.Time  `bun:"received_at,notnull,default:current_timestamp"`
	ProcessedAt *time.Time `bun:"processed_at"`
	Attempts    int        `bun:"attempts,notnull"`
	LastError   string     `bun:"last_error,notnull"`
	// FailedAt is when processing was given up on (LastError says why).
	FailedAt *time.Time `bun:"failed_at"`
}

// RecordStripeEvent stores an event once. It returns the stored (or
// earlier) event and whether this call stored it.
func (s *Store) RecordStripeEvent(ctx context.Context, eventID, eventType string, payload []byte) (*StripeEvent, bool, error) {
	e := &StripeEvent{EventID: eventID, EventType: eventType, Payload: payload}
	res, err := s.db.NewInsert().Model(e).On("CONFLICT (event_id) DO NOTHING").Returning("id, received_at").Exec(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("record stripe event: %w", mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return e, true, nil
	}
	e = new(StripeEvent)
	if err := s.db.NewSelect().Model(e).ExcludeColumn("payload").Where("se.event_id = ?", eventID).Scan(ctx); err != nil {
		return nil, false, fmt.Errorf("record stripe event: %w", mapErr(err))
	}
	return e, false, nil
}

// StripeEvent returns a stored event with its payload.
func (s *Store) StripeEvent(ctx context.Context, id int64) (*StripeEvent, error) {
	e := new(StripeEvent)
	if err := s.db.NewSelect().Model(e).Where("se.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("stripe event %d: %w", id, mapErr(err))
	}
	return e, nil
}

// MarkStripeEvent records a processing attempt: done when procErr is nil,
// else its error is kept for the owner's console, and with final the event
// is marked given up on.
func (s *Store) MarkStripeEvent(ctx context.Context, id int64, procErr error, final bool) error {
	q := s.db.NewUpdate().Model((*StripeEvent)(nil)).Set("attempts = se.attempts + 1").Where("se.id = ?", id)
	if procErr == nil {
		q = q.Set("processed_at = now()").Set("last_error = ''").Set("failed_at = NULL")
	} else {
		if final {
			q = q.Set("failed_at = now()")
		}
		msg := strings.ToValidUTF8(procErr.Error(), "?")
		if r := []rune(msg); len(r) > 1000 {
			msg = string(r[:1000])
		}
		q = q.Set("last_error = ?", msg)
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("mark stripe event %d: %w", id, mapErr(err))
	}
	return nil
}

// FailedStripeEventsAllTenants lists the latest Stripe events given up on
// and not processed since, without their payloads, for the owner's console.
func (s *Store) FailedStripeEventsAllTenants(ctx context.Context, limit int) ([]StripeEvent, error) {
	var es []StripeEvent
	err := s.db.NewSelect().Model(&es).ExcludeColumn("payload").
		Where("se.failed_at IS NOT NULL AND se.processed_at IS NULL").
		Order("se.failed_at DESC", "se.id DESC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("failed stripe events: %w", err)
	}
	return es, nil
}
