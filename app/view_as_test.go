package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/myaibud/aibud/db"
)

// viewAsPages are the tenant's pages an owner browses while viewing it.
var viewAsPages = []string{"/dashboard", "/contacts", "/campaigns", "/credits", "/settings", "/instances"}

// TestViewAsTenantIsReadOnlyAndAudited: the owner starts viewing a tenant
// with a reason, sees its pages under a banner, every page view is audited
// (htmx partials are not), every state-changing route the router knows is
// refused but Stop and sign-out, and Stop brings the owner back.
func TestViewAsTenantIsReadOnlyAndAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner := uniqueEmail("viewas-owner")
	a := newTestApp(t, withAdmins(owner))
	ob := signedInOwner(t, a, owner)
	tb, tenantID := a.tenantOf(t, "Viewed Bakery")
	page := fmt.Sprintf("/admin/tenants/%d", tenantID)

	// A tenant's user cannot start it; the owner must say why.
	tt := tb.csrf("/dashboard")
	wantStatus(t, tb.post(page+"/view-as", url.Values{"_csrf": {tt}, "reason": {"peek"}}), http.StatusNotFound)
	tok := ob.csrf(page)
	wantStatus(t, ob.post(page+"/view-as", url.Values{"_csrf": {tok}, "reason": {" "}}), http.StatusUnprocessableEntity)
	wantRedirect(t, ob.post(page+"/view-as", url.Values{"_csrf": {tok}, "reason": {"Support ticket 42"}}), "/dashboard")

	for _, p := range viewAsPages {
		r := ob.get(p)
		wantStatus(t, r, http.StatusOK)
		if got := testid(r, "view-as-banner").Text(); !strings.Contains(got, "Viewing as Viewed Bakery") || !strings.Contains(got, "read-only") {
			t.Errorf("%s: banner %q", p, got)
		}
		if got := testid(r, "account-tenant").Text(); got != "Viewed Bakery" {
			t.Errorf("%s: tenant %q", p, got)
		}
	}
	// A partial refresh and an image are not page views.
	wantStatus(t, ob.get("/dashboard/credits", "HX-Request", "true"), http.StatusOK)
	ob.get("/instances", "Sec-Fetch-Dest", "image")

	refused := viewAsRefusesChanges(t, a, ob, tok, tenantID)
	if refused < 40 {
		t.Errorf("only %d state-changing routes tried", refused)
	}
	if got, _ := a.store.TenantByID(ctx, tenantID); got.CreditBalance != 400 || got.Status != db.TenantActive {
		t.Errorf("the view changed the tenant: %+v", got)
	}

	wantRedirect(t, ob.post("/admin/view-as/stop", url.Values{"_csrf": {tok}}), page)
	r := ob.get("/dashboard")
	if testid(r, "view-as-banner").Length() != 0 || testid(r, "account-tenant").Text() != "Platform" {
		t.Errorf("still viewing after Stop: %s", abbreviate(r.body))
	}
	want := []string{"tenant.view_as_stop:"}
	for range viewAsPages {
		want = append(want, "tenant.view_page:")
	}
	want = append(want, "tenant.view_as:Support ticket 42")
	if got := auditActions(t, a, tenantID); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit:\n got %q\nwant %q", got, want)
	}
	es, _, _ := a.store.AuditLogAllTenants(ctx, db.AuditFilter{TenantID: tenantID, Action: db.AuditViewAsPage})
	if len(es) == 0 || !strings.Contains(string(es[len(es)-1].Details), `"/dashboard"`) || es[0].ActorEmail != owner {
		t.Errorf("page view entry: %+v", es)
	}
}

// viewAsRefusesChanges sends every POST, PUT, PATCH and DELETE route of the
// router (but the webhooks, Stop and sign-out) as the viewing owner: each
// one is a 403. It returns how many it tried.
func viewAsRefusesChanges(t *testing.T, a *testApp, ob *browser, tok string, tenantID int64) int {
	t.Helper()
	n := 0
	for _, r := range a.echo.Routes() {
		switch {
		case r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch && r.Method != http.MethodDelete,
			strings.HasPrefix(r.Path, "/api/"), r.Path == "/admin/view-as/stop", r.Path == "/sign-out":
			continue
		}
		n++
		path := strings.NewReplacer(":id", fmt.Sprint(tenantID), ":action", "pause", "*", "x").Replace(r.Path)
		form := url.Values{"_csrf": {tok}, "amount": {"100"}, "reason": {"x"}, "ref": {"owner:AAAAAAAAAAAAAAAAAAAAAAAAAA"}}
		req, _ := http.NewRequest(r.Method, a.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-CSRF-Token", tok)
		if res := ob.do(req); res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "read-only") {
			t.Errorf("%s %s: status %d, want 403 read-only", r.Method, r.Path, res.StatusCode)
		}
	}
	return n
}
