package db

import (
	"context"
	"fmt"
	"reflect"
)

// Changes lists what an edit changed, field by field, for the audit log.
type Changes map[string][2]any

// diffFields compares the named bun columns of two values of the same
// struct type.
func diffFields(before, after any, columns ...string) Changes {
	out := Changes{}
	b, a := reflect.ValueOf(before).Elem(), reflect.ValueOf(after).Elem()
	for i := range b.NumField() {
		f := b.Type().Field(i)
		col := f.Tag.Get("bun")
		for _, c := range columns {
			if col == c || (len(col) > len(c) && col[:len(c)+1] == c+",") {
				if x, y := b.Field(i).Interface(), a.Field(i).Interface(); x != y {
					out[c] = [2]any{x, y}
				}
			}
		}
	}
	return out
}

// planColumns are the columns of a plan an owner edits.
var planColumns = []string{"name", "price_cents", "currency", "monthly_credits", "instance_limit", "stripe_price_id", "active", "sort_order"}

// CreatePlan adds a plan and audits it, in one transaction. A plan id or
// Stripe price taken already fails with ErrConflict.
func (s *Store) CreatePlan(ctx context.Context, a Actor, p *Plan, reason string) error {
	err := s.RunInTx(ctx, func(ctx context.Context, tx *TxStore) error {
		if _, err := tx.tx.NewInsert().Model(p).Returning("*").Exec(ctx); err != nil {
			return mapErr(err)
		}
		return audit(ctx, tx.tx, a, 0, AuditPlanCreated, map[string]any{"plan": p.ID, "set": diffFields(&Plan{}, p, planColumns...)}, reason)
	})
	if err != nil {
		return fmt.Errorf("create plan %q: %w", p.ID, err)
	}
	return nil
}

// UpdatePlan saves an owner's edit of a plan (never its id) and audits
// what changed, in one transaction; it reports whether anything did. When
// the number limit changed, every tenant on the plan has it applied at once
// (ApplyNumberLimit): numbers beyond it pause, those within resume.
func (s *Store) UpdatePlan(ctx context.Context, a Actor, p *Plan, reason string) (bool, error) {
	changed := false
	err := s.RunInTx(ctx, func(ctx context.Context, tx *TxStore) error {
		old := new(Plan)
		if err := tx.tx.NewSelect().Model(old).Where("p.id = ?", p.ID).For("UPDATE").Scan(ctx); err != nil {
			return mapErr(err)
		}
		diff := diffFields(old, p, planColumns...)
		if len(diff) == 0 {
			return nil
		}
		changed = true
		_, err := tx.tx.NewUpdate().Model(p).WherePK().Column(planColumns...).Set("updated_at = now()").Returning("*").Exec(ctx)
		if err != nil {
			return mapErr(err)
		}
		if err := audit(ctx, tx.tx, a, 0, AuditPlanUpdated, map[string]any{"plan": p.ID, "changed": diff}, reason); err != nil {
			return err
		}
		if _, ok := diff["instance_limit"]; !ok {
			return nil
		}
		return tx.applyNumberLimitOnPlan(ctx, p.ID)
	})
	if err != nil {
		return false, fmt.Errorf("update plan %q: %w", p.ID, err)
	}
	return changed, nil
}

// applyNumberLimitOnPlan applies the plan's number limit to every tenant on it.
func (tx *TxStore) applyNumberLimitOnPlan(ctx context.Context, planID string) error {
	var ids []int64
	if err := tx.tx.NewSelect().Model((*Tenant)(nil)).Column("t.id").Where("t.plan = ?", planID).Order("t.id").Scan(ctx, &ids); err != nil {
		return mapErr(err)
	}
	for _, id := range ids {
		if _, err := tx.Tenant(id).ApplyNumberLimit(ctx); err != nil {
			return err
		}
	}
	return nil
}

// CreditPacksAll returns every credit pack, those off sale too, in display
// order, for the owner's console.
func (s *Store) CreditPacksAll(ctx context.Context) ([]CreditPack, error) {
	var ps []CreditPack
	if err := s.db.NewSelect().Model(&ps).Order("cp.sort_order", "cp.id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("credit packs: %w", err)
	}
	return ps, nil
}

// packColumns are the columns of a credit pack an owner edits.
var packColumns = []string{"credits", "price_cents", "currency", "stripe_price_id", "active", "sort_order"}

// CreateCreditPack adds a credit pack and audits it, in one transaction.
func (s *Store) CreateCreditPack(ctx context.Context, a Actor, p *CreditPack, reason string) error {
	err := s.RunInTx(ctx, func(ctx context.Context, tx *TxStore) error {
		if _, err := tx.tx.NewInsert().Model(p).Column(packColumns...).Returning("*").Exec(ctx); err != nil {
			return mapErr(err)
		}
		return audit(ctx, tx.tx, a, 0, AuditPackCreated, map[string]any{"pack": p.ID, "set": diffFields(&CreditPack{}, p, packColumns...)}, reason)
	})
	if err != nil {
		return fmt.Errorf("create credit pack: %w", err)
	}
	return nil
}

// UpdateCreditPack saves an owner's edit of a credit pack and audits what
// changed, in one transaction; it reports whether anything did.
func (s *Store) UpdateCreditPack(ctx context.Context, a Actor, p *CreditPack, reason string) (bool, error) {
	changed := false
	err := s.RunInTx(ctx, func(ctx context.Context, tx *TxStore) error {
		old := new(CreditPack)
		if err := tx.tx.NewSelect().Model(old).Where("cp.id = ?", p.ID).For("UPDATE").Scan(ctx); err != nil {
			return mapErr(err)
		}
		diff := diffFields(old, p, packColumns...)
		if len(diff) == 0 {
			return nil
		}
		changed = true
		if _, err := tx.tx.NewUpdate().Model(p).WherePK().Column(packColumns...).Returning("*").Exec(ctx); err != nil {
			return mapErr(err)
		}
		return audit(ctx, tx.tx, a, 0, AuditPackUpdated, map[string]any{"pack": p.ID, "changed": diff}, reason)
	})
	if err != nil {
		return false, fmt.Errorf("update credit pack %d: %w", p.ID, err)
	}
	return changed, nil
}

// PlanTenantCountsAllTenants counts the tenants on each plan.
func (s *Store) PlanTenantCountsAllTenants(ctx context.Context) (map[string]int, error) {
	var rows []struct {
		Plan string `bun:"plan"`
		N    int    `bun:"n"`
	}
	if err := s.db.NewSelect().Model((*Tenant)(nil)).Column("t.plan").ColumnExpr("count(*) AS n").Group("t.plan").Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("tenants per plan: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Plan] = r.N
	}
	return out, nil
}

// CreditPackAny returns one credit pack, on sale or not, for the console.
func (s *Store) CreditPackAny(ctx context.Context, id int64) (*CreditPack, error) {
	p := new(CreditPack)
	if err := s.db.NewSelect().Model(p).Where("cp.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("credit pack %d: %w", id, mapErr(err))
	}
	return p, nil
}
