package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
)

// planForm is a plan form with every field valid.
func planForm(tok, id string) url.Values {
	return url.Values{"_csrf": {tok}, "id": {id}, "name": {"Team"}, "price": {"49.00"}, "currency": {"usd"},
		"monthly_credits": {"6000"}, "instance_limit": {"5"}, "stripe_price_id": {""}, "sort_order": {"50"},
		"active": {"on"}, "reason": {"New tier for agencies"}}
}

// TestOwnerEditsPlansAndPacks: the owner adds a plan and a credit pack,
// sees them on sale on /billing, takes them off sale (they leave /billing),
// and gets each mistake back at its field; every change is audited.
func TestOwnerEditsPlansAndPacks(t *testing.T) {
	t.Parallel()
	owner := uniqueEmail("plans-owner")
	a := newTestApp(t, withAdmins(owner))
	ob := signedInOwner(t, a, owner)
	tenant, _ := a.tenantOf(t, "Plan Shopper")

	r := ob.get("/admin/plans")
	if testid(r, "plan-row").Length() < 3 || testid(r, "pack-row").Length() < 3 || !strings.Contains(r.body, `href="/admin/plans"`) {
		t.Fatalf("plans page: %s", abbreviate(r.body))
	}
	id := fmt.Sprintf("team%d", time.Now().UnixNano()%1_000_000_000)
	tok := ob.csrf("/admin/plans/new")
	bad := planForm(tok, "Bad Id")
	bad.Set("name", "")
	bad.Set("price", "twelve")
	bad.Set("currency", "USD")
	bad.Set("instance_limit", "-1")
	bad.Set("stripe_price_id", "prod_123")
	bad.Set("reason", "")
	r = ob.post("/admin/plans/new", bad)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	for _, f := range []string{"id", "name", "price", "currency", "instance_limit", "stripe_price_id", "reason"} {
		if testid(r, "error-"+f).Length() != 1 {
			t.Errorf("no error at %s", f)
		}
	}
	wantRedirect(t, ob.post("/admin/plans/new", planForm(tok, id)), "/admin/plans")
	wantStatus(t, ob.post("/admin/plans/new", planForm(tok, id)), http.StatusUnprocessableEntity) // the same id again
	if r := tenant.get("/billing"); testid(r, "plan-"+id).Length() != 1 || !strings.Contains(testid(r, "plan-"+id).Text(), "$49.00") {
		t.Errorf("the new plan is not on /billing: %s", testid(r, "billing-plans").Text())
	}
	// Another plan at a Stripe price taken is refused at that field.
	edit := planForm(ob.csrf("/admin/plans/"+id), id)
	edit.Set("stripe_price_id", "price_"+id)
	wantRedirect(t, ob.post("/admin/plans/"+id, edit), "/admin/plans")
	other := planForm(tok, id+"b")
	other.Set("stripe_price_id", "price_"+id)
	if r := ob.post("/admin/plans/new", other); r.StatusCode != http.StatusUnprocessableEntity || testid(r, "error-stripe_price_id").Length() != 1 {
		t.Errorf("a Stripe price used twice: %d", r.StatusCode)
	}
	// Off sale: gone from /billing, still listed in the console.
	edit.Del("active")
	edit.Set("reason", "Retired")
	wantRedirect(t, ob.post("/admin/plans/"+id, edit), "/admin/plans")
	if r := tenant.get("/billing"); testid(r, "plan-"+id).Length() != 0 {
		t.Error("a plan off sale is on /billing")
	}
	if r := ob.get("/admin/plans/" + id); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Team") {
		t.Errorf("edit page: %d", r.StatusCode)
	}
	// Starter stays on sale and free.
	starter := planForm(ob.csrf("/admin/plans/starter"), "starter")
	starter.Set("price", "5")
	starter.Del("active")
	if r := ob.post("/admin/plans/starter", starter); r.StatusCode != http.StatusUnprocessableEntity ||
		testid(r, "error-active").Length() != 1 || testid(r, "error-price").Length() != 1 {
		t.Errorf("taking Starter off sale: %d", r.StatusCode)
	}

	packTok := ob.csrf("/admin/credit-packs/new")
	credits := fmt.Sprint(700_000 + time.Now().UnixNano()%100_000)
	pack := url.Values{"_csrf": {packTok}, "credits": {"0"}, "price": {"0"}, "currency": {"usd"}, "sort_order": {"x"}, "active": {"on"}, "reason": {"Small pack"}}
	r = ob.post("/admin/credit-packs/new", pack)
	for _, f := range []string{"credits", "price", "sort_order"} {
		if r.StatusCode != http.StatusUnprocessableEntity || testid(r, "error-"+f).Length() != 1 {
			t.Errorf("pack: no error at %s (%d)", f, r.StatusCode)
		}
	}
	pack.Set("credits", credits)
	pack.Set("price", "7.50")
	pack.Set("sort_order", "40")
	wantRedirect(t, ob.post("/admin/credit-packs/new", pack), "/admin/plans")
	packs, _ := a.store.CreditPacksAll(t.Context())
	var packID int64
	for _, p := range packs {
		if fmt.Sprint(p.Credits) == credits {
			packID = p.ID
		}
	}
	if r := tenant.get("/billing"); testid(r, fmt.Sprintf("pack-%d", packID)).Length() != 1 {
		t.Errorf("the new pack %d is not on /billing", packID)
	}
	pack.Del("active")
	pack.Set("reason", "Retired pack")
	wantRedirect(t, ob.post(fmt.Sprintf("/admin/credit-packs/%d", packID), pack), "/admin/plans")
	if r := tenant.get("/billing"); testid(r, fmt.Sprintf("pack-%d", packID)).Length() != 0 {
		t.Error("a pack off sale is on /billing")
	}

	// Audited: who, what changed, why.
	for action, reason := range map[string]string{db.AuditPlanCreated: "New tier for agencies", db.AuditPlanUpdated: "Retired",
		db.AuditPackCreated: "Small pack", db.AuditPackUpdated: "Retired pack"} {
		r := ob.get("/admin/audit?action=" + action)
		if txt := testid(r, "audit-row").Text(); !strings.Contains(txt, reason) || !strings.Contains(txt, owner) {
			t.Errorf("audit of %s: %q", action, txt)
		}
	}
	r = ob.get("/admin/audit?action=" + db.AuditPlanUpdated)
	if !strings.Contains(r.body, `active`) || !strings.Contains(r.body, id) {
		t.Errorf("the plan's update does not say what changed: %s", abbreviate(testid(r, "audit-row").Text()))
	}
}
