package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Audited actions of the owner's console.
const (
	AuditCreditsGranted = "credits.grant"
	AuditCreditsRemoved = "credits.remove"
	AuditSuspended      = "tenant.suspend"
	AuditUnsuspended    = "tenant.unsuspend"
	AuditPasswordReset  = "user.password_reset"
	AuditPlanChanged    = "tenant.plan"
	AuditViewAsStarted  = "tenant.view_as"
	AuditViewAsStopped  = "tenant.view_as_stop"
	AuditViewAsPage     = "tenant.view_page"
	AuditPlanCreated    = "plan.create"
	AuditPlanUpdated    = "plan.update"
	AuditPackCreated    = "pack.create"
	AuditPackUpdated    = "pack.update"
)

// AuditActions lists the audited actions, for the log's filter.
var AuditActions = []string{AuditCreditsGranted, AuditCreditsRemoved, AuditSuspended, AuditUnsuspended, AuditPasswordReset, AuditPlanChanged,
	AuditViewAsStarted, AuditViewAsStopped, AuditViewAsPage, AuditPlanCreated, AuditPlanUpdated, AuditPackCreated, AuditPackUpdated}

// AuditEntry is one action a platform owner took: who (the actor's id and
// email, kept when the user is gone), when, on which tenant, what (the
// action and its details) and why. It is platform data, written in the
// same transaction as the change it records, and never changed.
type AuditEntry struct {
	bun.BaseModel `bun:"table:audit_log,alias:al"`

	ID          int64           `bun:"id,pk,autoincrement"`
	ActorUserID *int64          `bun:"actor_user_id"`
	ActorEmail  string          `bun:"actor_email,notnull"`
	TenantID    *int64          `bun:"tenant_id"`
	Action      string          `bun:"action,notnull"`
	Details     json.RawMessage `bun:"details,type:jsonb,notnull"`
	Reason      string          `bun:"reason,notnull"`
	CreatedAt   time.Time       `bun:"created_at,notnull,default:current_timestamp"`

	// TenantName is the tenant's name when it still exists (read only).
	TenantName *string `bun:"tenant_name,scanonly"`
}

// Actor is the platform owner acting.
type Actor struct {
	UserID int64
	Email  string
}

// audit writes an entry inside the transaction tx (a bun.IDB); tenantID 0
// is an action on the platform itself (plans, credit packs).
func audit(ctx context.Context, idb bun.IDB, a Actor, tenantID int64, action string, details any, reason string) error {
	raw, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit details: %w", err)
	}
	if details == nil {
		raw = []byte("{}")
	}
	e := &AuditEntry{ActorUserID: &a.UserID, ActorEmail: a.Email, Action: action, Details: raw, Reason: reason}
	if tenantID != 0 {
		e.TenantID = &tenantID
	}
	if _, err := idb.NewInsert().Model(e).Exec(ctx); err != nil {
		return fmt.Errorf("audit %s: %w", action, mapErr(err))
	}
	return nil
}

// Audit records an action that changes nothing in the database itself
// (e.g. a password reset link sent).
func (s *Store) Audit(ctx context.Context, a Actor, tenantID int64, action string, details any, reason string) error {
	return audit(ctx, s.db, a, tenantID, action, details, reason)
}

// AuditFilter narrows the audit log: zero values match everything.
type AuditFilter struct {
	TenantID int64
	Action   string
	Page     Page
}

// AuditLogAllTenants returns one page of the audit log, newest first, and
// the number of entries matching.
func (s *Store) AuditLogAllTenants(ctx context.Context, f AuditFilter) ([]AuditEntry, int, error) {
	page := f.Page.Normalize()
	var es []AuditEntry
	q := s.db.NewSelect().Model(&es).ColumnExpr("al.*").
		ColumnExpr("(SELECT t.name FROM tenants AS t WHERE t.id = al.tenant_id) AS tenant_name")
	if f.TenantID != 0 {
		q = q.Where("al.tenant_id = ?", f.TenantID)
	}
	if f.Action != "" {
		q = q.Where("al.action = ?", f.Action)
	}
	n, err := q.Order("al.created_at DESC", "al.id DESC").Limit(int64(page.PerPage)).Offset(int64(page.offset())).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("audit log: %w", mapErr(err))
	}
	return es, int(n), nil
}
