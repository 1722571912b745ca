package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/myaibud/aibud/db"
)

// setPlan moves a tenant to a plan, as the owner or a Stripe event would.
func setPlan(t testing.TB, store *db.Store, tenantID int64, plan string) {
	t.Helper()
	_, err := store.Tenant(tenantID).UpdateBilling(context.Background(), func(tn *db.Tenant) (bool, error) {
		tn.Plan = plan
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestInstanceLimitFromPlan: the number limit is the plan's, from the
// database, and follows a plan change.
func TestInstanceLimitFromPlan(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Plan Shop")
	tok := b.csrf("/instances")
	wantStatus(t, b.post("/instances", url.Values{"_csrf": {tok}, "name": {"One"}}), http.StatusSeeOther)
	wantStatus(t, b.post("/instances", url.Values{"_csrf": {tok}, "name": {"Two"}}), http.StatusUnprocessableEntity)
	setPlan(t, a.store, tenantID, db.PlanPro)
	wantStatus(t, b.post("/instances", url.Values{"_csrf": {tok}, "name": {"Two"}}), http.StatusSeeOther)
	wantStatus(t, b.post("/instances", url.Values{"_csrf": {tok}, "name": {"Three"}}), http.StatusSeeOther)
	r := b.post("/instances", url.Values{"_csrf": {tok}, "name": {"Four"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "Pro plan allows 3 numbers") {
		t.Errorf("limit message: %s", abbreviate(r.body))
	}
	if _, err := a.store.DB().NewUpdate().Table("plans").Set("instance_limit = 4").Where("id = 'pro'").Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = a.store.DB().NewUpdate().Table("plans").Set("instance_limit = 3").Where("id = 'pro'").Exec(context.Background())
	})
	wantStatus(t, b.post("/instances", url.Values{"_csrf": {tok}, "name": {"Four"}}), http.StatusSeeOther)
}
