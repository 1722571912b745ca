package db_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// TestOwnerEditsPlansAndPacks: plans and packs are added and edited (a
// repeated id fails with ErrConflict), each change audited with what
// changed; lowering a plan's number limit pauses its tenants' numbers.
func TestOwnerEditsPlansAndPacks(t *testing.T) {
	ctx := context.Background()
	s := dbtest.Store(t)
	if _, err := s.EnsureDefaultNode(ctx, "waha", dbtest.TestNodeURL, 1_000_000); err != nil {
		t.Fatal(err)
	}
	tenant, user := dbtest.NewTenant(t, s)
	actor := db.Actor{UserID: user.ID, Email: user.Email}
	id := fmt.Sprintf("team-%d", time.Now().UnixNano())
	p := &db.Plan{ID: id, Name: "Team", PriceCents: 4900, Currency: "usd", MonthlyCredits: 6000, InstanceLimit: 2, Active: true, SortOrder: 5}
	if err := s.CreatePlan(ctx, actor, p, "new tier"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreatePlan(ctx, actor, &db.Plan{ID: id, Name: "Again", Currency: "usd"}, "dup"); !errors.Is(err, db.ErrConflict) {
		t.Errorf("the same id twice: %v", err)
	}
	if _, err := s.SetPlan(ctx, actor, tenant.ID, id, "move"); err != nil {
		t.Fatal(err)
	}
	ts := s.Tenant(tenant.ID)
	for range 2 {
		if _, err := ts.CreateInstance(ctx, db.NewInstance{Name: "Shop", Providers: []string{"waha"}, Limit: 2, SessionName: sessionName}); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := s.UpdatePlan(ctx, actor, p, "nothing"); ok || err != nil {
		t.Errorf("an edit changing nothing: %v %v", ok, err)
	}
	p.InstanceLimit, p.Active = 1, false
	if ok, err := s.UpdatePlan(ctx, actor, p, "fewer numbers, off sale"); !ok || err != nil {
		t.Fatalf("update: %v %v", ok, err)
	}
	ns, _ := ts.Instances(ctx)
	if len(ns) != 2 || (ns[0].PausedAt == nil) == (ns[1].PausedAt == nil) {
		t.Errorf("a lower limit did not pause one of two numbers: %+v", ns)
	}

	pack := &db.CreditPack{Credits: 500, PriceCents: 600, Currency: "usd", Active: true, SortOrder: 9}
	if err := s.CreateCreditPack(ctx, actor, pack, "small pack"); err != nil || pack.ID == 0 {
		t.Fatalf("create pack: %v %+v", err, pack)
	}
	pack.Active = false
	if ok, err := s.UpdateCreditPack(ctx, actor, pack, "off sale"); !ok || err != nil {
		t.Fatalf("update pack: %v %v", ok, err)
	}
	if _, err := s.CreditPack(ctx, pack.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("an inactive pack is on sale: %v", err)
	}

	log, _, err := s.AuditLogAllTenants(ctx, db.AuditFilter{Action: db.AuditPlanUpdated, Page: db.Page{PerPage: 50}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range log {
		var d struct {
			Plan    string
			Changed map[string][2]any
		}
		_ = json.Unmarshal(e.Details, &d)
		if d.Plan == id {
			found = true
			if e.Reason != "fewer numbers, off sale" || e.ActorEmail != user.Email || e.TenantID != nil || len(d.Changed) != 2 ||
				d.Changed["instance_limit"][1] != float64(1) || d.Changed["active"][1] != false {
				t.Errorf("audit entry: %+v %s", e, e.Details)
			}
		}
	}
	if !found {
		t.Error("the plan's update is not audited")
	}
}
