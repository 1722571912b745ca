package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TenantSummary is one tenant as the owner's console lists it.
type TenantSummary struct {
	ID            int64     `bun:"id"`
	Name          string    `bun:"name"`
	Email         string    `bun:"email"`
	Plan          string    `bun:"plan"`
	CreditBalance int64     `bun:"credit_balance"`
	Status        string    `bun:"status"`
	CreatedAt     time.Time `bun:"created_at"`
	// NumbersConnected counts the tenant's connected WhatsApp numbers.
	NumbersConnected int `bun:"numbers_connected"`
	// Messages and AIReplies count the last 30 days' messages (both ways)
	// and the AI's answers among them.
	Messages  int `bun:"messages"`
	AIReplies int `bun:"ai_replies"`
	// LastActivity is the latest message or sign-in; nil for none.
	LastActivity *time.Time `bun:"last_activity"`
	// RevenueCents is what the tenant paid this calendar month (UTC) in
	// RevenueCurrency; OtherRevenue what it paid in other currencies, by
	// code (nil for none).
	RevenueCents int64            `bun:"revenue_cents"`
	OtherRevenue map[string]int64 `bun:"other_revenue,type:jsonb"`
	Total        int              `bun:"total"`
}

// RevenueCurrency is the currency revenue is summed in (the one costs are
// estimated in); payments in others are kept apart, never added to it.
const RevenueCurrency = "usd"

// Tenant list sort keys.
const (
	SortTenantName     = "name"
	SortTenantCredits  = "credits"
	SortTenantMessages = "messages"
	SortTenantActivity = "activity"
	SortTenantCreated  = "created"
	SortTenantRevenue  = "revenue"
)

// tenantSorts maps a sort key to its ORDER BY expression (never user text).
var tenantSorts = map[string]string{
	SortTenantName:     "lower(t.name)",
	SortTenantCredits:  "t.credit_balance",
	SortTenantMessages: "messages",
	SortTenantActivity: "last_activity",
	SortTenantCreated:  "t.created_at",
	SortTenantRevenue:  "revenue_cents",
}

// TenantFilter asks for a page of the tenant list: Query matches the name
// or a user's email (case-insensitive, anywhere), Sort is a Sort… key
// (default: newest first).
type TenantFilter struct {
	Query string
	Sort  string
	Desc  bool
	Page  Page
}

// likePattern escapes s for a LIKE pattern matching it anywhere.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// TenantsAllTenants returns one page of the tenants with their usage and
// this month's revenue, in one statement: the 30 days' messages, the
// numbers and the month's payments are aggregated per tenant once (by the
// tenant_id, sent_at index and the paid_at one), not per row.
func (s *Store) TenantsAllTenants(ctx context.Context, f TenantFilter) ([]TenantSummary, int, error) {
	page := f.Page.Normalize()
	order, ok := tenantSorts[f.Sort]
	if !ok {
		order, f.Desc = "t.created_at", true
	}
	dir := " ASC NULLS FIRST"
	if f.Desc {
		dir = " DESC NULLS LAST"
	}
	q := strings.TrimSpace(f.Query)
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	var out []TenantSummary
	err := s.db.NewRaw(`
		SELECT t.id, t.name, t.plan, t.credit_balance, t.status, t.created_at,
			coalesce(u.email, '') AS email, coalesce(i.connected, 0) AS numbers_connected,
			coalesce(m.messages, 0) AS messages, coalesce(m.ai_replies, 0) AS ai_replies,
			nullif(greatest(coalesce(m.last_at, '-infinity'), coalesce(u.last_sign_in, '-infinity')), '-infinity') AS last_activity,
			coalesce(p.main, 0) AS revenue_cents, p.other AS other_revenue,
			count(*) OVER () AS total
		FROM tenants AS t
		LEFT JOIN (SELECT tenant_id, min(email) FILTER (WHERE role = 'owner') AS email, max(last_sign_in_at) AS last_sign_in
		           FROM users GROUP BY tenant_id) AS u ON u.tenant_id = t.id
		LEFT JOIN (SELECT tenant_id, count(*) FILTER (WHERE status = 'connected') AS connected
		           FROM instances GROUP BY tenant_id) AS i ON i.tenant_id = t.id
		LEFT JOIN (SELECT tenant_id, count(*) AS messages, count(*) FILTER (WHERE sender = 'ai') AS ai_replies, max(sent_at) AS last_at
		           FROM messages WHERE sent_at > now() - interval '30 days' GROUP BY tenant_id) AS m ON m.tenant_id = t.id
		LEFT JOIN (SELECT tenant_id, sum(cents) FILTER (WHERE currency = ?) AS main,
		                  jsonb_object_agg(currency, cents) FILTER (WHERE currency <> ?) AS other
		           FROM (SELECT tenant_id, currency, sum(amount_cents) AS cents FROM payments
		                 WHERE paid_at >= ? AND paid_at < ? GROUP BY tenant_id, currency) AS pc
		           GROUP BY tenant_id) AS p ON p.tenant_id = t.id
		WHERE ? = '' OR t.name ILIKE ? OR EXISTS (SELECT 1 FROM users AS uu WHERE uu.tenant_id = t.id AND uu.email ILIKE ?)
		ORDER BY `+order+dir+`, t.id DESC
		LIMIT ? OFFSET ?`,
		RevenueCurrency, RevenueCurrency, month, month.AddDate(0, 1, 0),
		q, likePattern(q), likePattern(q), page.PerPage, page.offset()).Scan(ctx, &out)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, 0, fmt.Errorf("tenants: %w", err)
	}
	total := 0
	if len(out) > 0 {
		total = out[0].Total
	}
	return out, total, nil
}

// AdjustCredits grants (amount > 0) or removes (amount < 0) credits of a
// tenant through the ledger, with ref as the ledger reference (a second
// submission of the same form is a no-op), and audits it, in one
// transaction. Removing more than the balance fails with
// ErrInsufficientCredits and changes nothing.
func (s *Store) AdjustCredits(ctx context.Context, a Actor, tenantID, amount int64, reason, ref string) (*LedgerEntry, error) {
	var e *LedgerEntry
	err := s.RunInTx(ctx, func(ctx context.Context, tx *TxStore) error {
		ts := tx.Tenant(tenantID)
		var err error
		action := AuditCreditsGranted
		if amount > 0 {
			e, err = ts.Grant(ctx, amount, "Owner adjustment: "+reason, ref)
		} else {
			action = AuditCreditsRemoved
			e, err = ts.Charge(ctx, -amount, "Owner adjustment: "+reason, ref)
		}
		if err != nil || e.Replayed {
			return err
		}
		return audit(ctx, tx.tx, a, tenantID, action, map[string]any{"amount": amount, "balance_after": e.BalanceAfter, "reference": ref}, reason)
	})
	if err != nil {
		return nil, fmt.Errorf("adjust credits: %w", err)
	}
	return e, nil
}

// SetSuspended suspends (with why) or reinstates a tenant, and audits it, in
// one transaction. It reports whether anything changed.
func (s *Store) SetSuspended(ctx context.Context, a Actor, tenantID int64, suspend bool, reason string) (bool, error) {
	changed := false
	err := s.RunInTx(ctx, func(ctx context.Context, tx *TxStore) error {
		q := tx.tx.NewUpdate().Model((*Tenant)(nil)).Where("t.id = ?", tenantID).Set("updated_at = now()")
		action := AuditUnsuspended
		if suspend {
			action = AuditSuspended
			q = q.Set("status = ?", TenantSuspended).Set("suspended_at = now()").Set("suspend_reason = ?", reason).
				Where("t.status <> ?", TenantSuspended)
		} else {
			q = q.Set("status = ?", TenantActive).Set("suspended_at = NULL").Set("suspend_reason = ''").
				Where("t.status = ?", TenantSuspended)
		}
		res, err := q.Exec(ctx)
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		changed = true
		return audit(ctx, tx.tx, a, tenantID, action, nil, reason)
	})
	if err != nil {
		return false, fmt.Errorf("set suspended: %w", err)
	}
	return changed, nil
}

// SetPlan moves a tenant to a plan of the plans table, through the billing
// store (UpdateBilling) so that the plan's limits apply at once, and audits
// it, in one transaction. It reports whether the plan changed.
func (s *Store) SetPlan(ctx context.Context, a Actor, tenantID int64, plan, reason string) (bool, error) {
	changed := false
	err := s.RunInTx(ctx, func(ctx context.Context, tx *TxStore) error {
		var from string
		_, err := tx.Tenant(tenantID).UpdateBilling(ctx, func(t *Tenant) (bool, error) {
			from = t.Plan
			if t.Plan == plan {
				return false, nil
			}
			t.Plan = plan
			return true, nil
		})
		if err != nil || from == plan {
			return err
		}
		changed = true
		return audit(ctx, tx.tx, a, tenantID, AuditPlanChanged, map[string]string{"from": from, "to": plan}, reason)
	})
	if err != nil {
		return false, fmt.Errorf("set plan: %w", err)
	}
	return changed, nil
}

// ConsoleSummary is the platform at a glance, for the console's home.
type ConsoleSummary struct {
	Tenants            int   `bun:"tenants"`
	Suspended          int   `bun:"suspended"`
	CreditsOutstanding int64 `bun:"credits"`
	Messages30         int64 `bun:"messages"`
	AIReplies30        int64 `bun:"ai_replies"`
	DeadEvents7        int   `bun:"dead_events"`
	JobFailures7       int   `bun:"job_failures"`
}

// ConsoleSummaryAllTenants counts tenants, credits held, the last 30 days'
// messages and the last 7 days' failures.
func (s *Store) ConsoleSummaryAllTenants(ctx context.Context) (*ConsoleSummary, error) {
	out := new(ConsoleSummary)
	err := s.db.NewRaw(`SELECT
		(SELECT count(*) FROM tenants) AS tenants,
		(SELECT count(*) FROM tenants WHERE status = 'suspended') AS suspended,
		(SELECT coalesce(sum(credit_balance), 0) FROM tenants) AS credits,
		(SELECT count(*) FROM messages WHERE sent_at > now() - interval '30 days') AS messages,
		(SELECT count(*) FROM messages WHERE sent_at > now() - interval '30 days' AND sender = 'ai') AS ai_replies,
		(SELECT count(*) FROM webhook_events WHERE dead_at > now() - interval '7 days') AS dead_events,
		(SELECT count(*) FROM job_failures WHERE created_at > now() - interval '7 days') AS job_failures`).Scan(ctx, out)
	if err != nil {
		return nil, fmt.Errorf("console summary: %w", err)
	}
	return out, nil
}
