package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// signedInOwner signs a platform owner up on a.
func signedInOwner(t *testing.T, a *testApp, email string) *browser {
	t.Helper()
	b := a.newBrowser(t)
	wantRedirect(t, b.signUp("Platform", email, "password123"), "/dashboard")
	return b
}

// TestAdminRoutesAreHiddenFromTenants asks for every /admin route the
// router knows, with every method it has, as a tenant's user: each one is
// a 404, so a new owner's route cannot be forgotten.
func TestAdminRoutesAreHiddenFromTenants(t *testing.T) {
	t.Parallel()
	owner := uniqueEmail("routes-owner")
	a := newTestApp(t, withAdmins(owner))
	signedInOwner(t, a, owner)
	other, otherID := a.tenantOf(t, "Curious Tenant")
	tok := other.csrf("/dashboard")
	seen := map[string]bool{}
	for _, r := range a.echo.Routes() {
		if r.Path != "/admin" && !strings.HasPrefix(r.Path, "/admin/") {
			continue
		}
		path := strings.NewReplacer(":id", fmt.Sprint(otherID), ":action", "x", "*", "x").Replace(r.Path)
		seen[r.Path] = true
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			req, _ := http.NewRequest(r.Method, a.URL+path, strings.NewReader(url.Values{"_csrf": {tok}, "amount": {"100"}, "reason": {"x"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-CSRF-Token", tok)
			res := other.do(req)
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("status %d, want 404", res.StatusCode)
			}
		})
	}
	for _, want := range []string{"/admin", "/admin/tenants", "/admin/tenants/:id", "/admin/tenants/:id/credits", "/admin/audit",
		"/admin/nodes", "/admin/ai", "/admin/economics", "/admin/failures", "/admin/queues", "/admin/queues/*"} {
		if !seen[want] {
			t.Errorf("the router has no %s: the list is not the router's", want)
		}
	}
	if got, _ := a.store.TenantByID(context.Background(), otherID); got.CreditBalance != 400 || got.Status != db.TenantActive {
		t.Errorf("the tenant changed itself: %+v", got)
	}
	if _, n, _ := a.store.AuditLogAllTenants(context.Background(), db.AuditFilter{TenantID: otherID}); n != 0 {
		t.Errorf("%d audit entries", n)
	}
}

// auditActions is the tenant's audit log, newest first, as action:reason.
func auditActions(t *testing.T, a *testApp, tenantID int64) []string {
	t.Helper()
	es, _, err := a.store.AuditLogAllTenants(context.Background(), db.AuditFilter{TenantID: tenantID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Action+":"+e.Reason)
	}
	return out
}

func TestConsoleTenantsAndAuditedActions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner := uniqueEmail("console-owner")
	a := newTestApp(t, withAdmins(owner))
	ob := signedInOwner(t, a, owner)
	business := fmt.Sprintf("Findable %d", time.Now().UnixNano())
	tb, tenantID := a.tenantOf(t, business)
	lc := a.countLive(t, tenantID)

	// Found by name, listed with its credits; the page shows its data.
	r := ob.get("/admin/tenants?q=" + url.QueryEscape(strings.ToLower(business)) + "&sort=credits&dir=desc")
	wantStatus(t, r, http.StatusOK)
	if rows := testid(r, "tenant-row"); rows.Length() != 1 || !strings.Contains(rows.Text(), business) || testid(r, "tenant-credits").Text() != "400" {
		t.Fatalf("search: %q", testid(r, "tenant-list").Text())
	}
	page := fmt.Sprintf("/admin/tenants/%d", tenantID)
	r = ob.get(page)
	wantStatus(t, r, http.StatusOK)
	if testid(r, "usage-chart").Length() != 1 || !strings.Contains(testid(r, "tenant-ledger").Text(), "Welcome credits") {
		t.Errorf("tenant page: %s", abbreviate(r.body))
	}
	wantStatus(t, ob.get("/admin/tenants/999999999"), http.StatusNotFound)

	// Credits: granted with a reason, live on the tenant's side; the same
	// form twice grants once; never below zero.
	tok := ob.csrf(page)
	ref, _ := testid(r, "credits-form").Find(`input[name="ref"]`).Attr("value")
	wantStatus(t, ob.post(page+"/credits", url.Values{"_csrf": {tok}, "amount": {"50"}, "reason": {""}, "ref": {ref}}), http.StatusUnprocessableEntity)
	wantRedirect(t, ob.post(page+"/credits", url.Values{"_csrf": {tok}, "amount": {"50"}, "reason": {"Goodwill"}, "ref": {ref}}), page)
	wantRedirect(t, ob.post(page+"/credits", url.Values{"_csrf": {tok}, "amount": {"50"}, "reason": {"Goodwill"}, "ref": {ref}}), page)
	waitFor(t, 5*time.Second, "credits-updated on the tenant's channel", func() bool { return lc.count(live.CreditsUpdated) > 0 })
	if got := testid(tb.get("/credits"), "ledger").Text(); !strings.Contains(got, "Owner adjustment: Goodwill") {
		t.Errorf("the tenant's ledger: %q", got)
	}
	r = ob.post(page+"/credits", url.Values{"_csrf": {tok}, "amount": {"-451"}, "reason": {"Too much"}, "ref": {"owner:AAAAAAAAAAAAAAAAAAAAAAAAAA"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(testid(r, "error-amount").Text(), "below zero") {
		t.Errorf("below zero: %q", testid(r, "error-amount").Text())
	}
	wantRedirect(t, ob.post(page+"/credits", url.Values{"_csrf": {tok}, "amount": {"-20"}, "reason": {"Abuse"}, "ref": {"owner:BBBBBBBBBBBBBBBBBBBBBBBBBB"}}), page)
	if got, _ := a.store.TenantByID(ctx, tenantID); got.CreditBalance != 430 {
		t.Errorf("balance %d, want 430", got.CreditBalance)
	}

	// Suspension: a reason is required; the tenant signs in and sees why.
	wantStatus(t, ob.post(page+"/suspend", url.Values{"_csrf": {tok}, "reason": {" "}}), http.StatusUnprocessableEntity)
	wantRedirect(t, ob.post(page+"/suspend", url.Values{"_csrf": {tok}, "reason": {"Unpaid invoice"}}), page)
	r = tb.get("/dashboard")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(testid(r, "suspended-banner").Text(), "Unpaid invoice") {
		t.Errorf("no banner: %s", abbreviate(r.body))
	}
	wantRedirect(t, ob.post(page+"/unsuspend", url.Values{"_csrf": {tok}, "reason": {"Paid"}}), page)
	if testid(tb.get("/dashboard"), "suspended-banner").Length() != 0 {
		t.Error("the banner stays after reinstating")
	}

	// Plan and password reset.
	wantStatus(t, ob.post(page+"/plan", url.Values{"_csrf": {tok}, "plan": {"platinum"}, "reason": {"x"}}), http.StatusUnprocessableEntity)
	wantRedirect(t, ob.post(page+"/plan", url.Values{"_csrf": {tok}, "plan": {db.PlanPro}, "reason": {"Upgrade by phone"}}), page)
	emails, _ := a.store.UserEmailsAllTenants(ctx, tenantID)
	wantStatus(t, ob.post(page+"/password-reset", url.Values{"_csrf": {tok}, "email": {owner}}), http.StatusNotFound)
	wantRedirect(t, ob.post(page+"/password-reset", url.Values{"_csrf": {tok}, "email": {emails[0]}}), page)

	want := []string{"user.password_reset:", "tenant.plan:Upgrade by phone", "tenant.unsuspend:Paid", "tenant.suspend:Unpaid invoice",
		"credits.remove:Abuse", "credits.grant:Goodwill"}
	if got := auditActions(t, a, tenantID); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("audit:\n got %q\nwant %q", got, want)
	}
	// The log page, filtered by tenant and action.
	r = ob.get(fmt.Sprintf("/admin/audit?tenant=%d", tenantID))
	if n := testid(r, "audit-row").Length(); n != 6 || !strings.Contains(r.body, owner) {
		t.Errorf("audit page: %d rows", n)
	}
	r = ob.get(fmt.Sprintf("/admin/audit?tenant=%d&action=%s", tenantID, db.AuditSuspended))
	if n := testid(r, "audit-row").Length(); n != 1 || !strings.Contains(testid(r, "audit-row").Text(), "Unpaid invoice") {
		t.Errorf("filtered audit page: %d rows", n)
	}
	// The console's home shows the latest actions.
	if r := ob.get("/admin"); !strings.Contains(testid(r, "audit-log").Text(), "tenant.plan") {
		t.Errorf("console home: %s", abbreviate(r.body))
	}
}

// suspend suspends (or reinstates) a tenant through the console.
func suspend(t *testing.T, ob *browser, tenantID int64, on bool) {
	t.Helper()
	page := fmt.Sprintf("/admin/tenants/%d", tenantID)
	action := map[bool]string{true: "/suspend", false: "/unsuspend"}[on]
	wantRedirect(t, ob.post(page+action, url.Values{"_csrf": {ob.csrf(page)}, "reason": {"Test " + action}}), page)
}

// TestSuspendStopsAIAndSends: a suspended tenant's AI stays silent and
// what it sends fails clearly (refunded); reinstated, the AI answers again.
func TestSuspendStopsAIAndSends(t *testing.T) {
	t.Parallel()
	owner := uniqueEmail("suspend-owner")
	a := newTestApp(t, withAdmins(owner))
	ob := signedInOwner(t, a, owner)
	s := newAIShop(t, a, nil)
	suspend(t, ob, s.ts.TenantID(), true)

	lead := newLead()
	m := s.says(t, lead, "hello, anyone there?")
	s.staysSilent(t, m, lead, 0)
	page := s.b.get(fmt.Sprintf("/contacts/%d", m.ContactID))
	if got := testid(page, "reply-form").Text(); !strings.Contains(got, "suspended") {
		t.Errorf("the reply form of a suspended account says %q", strings.TrimSpace(got))
	}
	before := s.balance(t)
	tok := s.b.csrf(fmt.Sprintf("/contacts/%d", m.ContactID))
	wantStatus(t, s.b.post(fmt.Sprintf("/contacts/%d/reply", m.ContactID), url.Values{"_csrf": {tok}, "body": {"Manual answer"}, "key": {"k1"}}), http.StatusSeeOther)
	waitFor(t, 10*time.Second, "the manual reply to fail", func() bool {
		return countRows(t, "SELECT count(*) FROM messages WHERE tenant_id = ? AND status = 'failed' AND error = ?", s.ts.TenantID(), whatsapp.ReasonSuspended) == 1
	})
	if n := len(s.sentTo(lead)); n != 0 {
		t.Errorf("%d messages sent while suspended", n)
	}
	if got := s.balance(t); got != before {
		t.Errorf("balance %d → %d: the failed message was not refunded", before, got)
	}

	suspend(t, ob, s.ts.TenantID(), false)
	// (The manual reply handed the first chat to the tenant.)
	m2 := s.says(t, newLead(), "hello again?")
	if r := s.reply(t, m2); r.Status != db.ReplySent {
		t.Errorf("after reinstating, the AI reply is %s (%s)", r.Status, r.Error)
	}
}

// TestSuspendHoldsCampaigns: a suspended tenant's campaign sends nothing,
// and resumes where it stood once the tenant is reinstated.
func TestSuspendHoldsCampaigns(t *testing.T) {
	t.Parallel()
	owner := uniqueEmail("campaign-owner")
	a := newTestApp(t, withAdmins(owner))
	ob := signedInOwner(t, a, owner)
	s := newCampaignShop(t, a, 3)
	suspend(t, ob, s.ts.TenantID(), true)
	s.launch(t, a, campaign.Pace{PerMinute: 60}) // the fastest valid pace; an invalid one falls back to the default (6 a minute)
	if n := stableFor(t, 10*time.Second, 3*time.Second, "nothing sent while suspended", func() int { return len(s.campaignSends(a)) }); n != 0 {
		t.Fatalf("%d recipients got the campaign while suspended", n)
	}
	suspend(t, ob, s.ts.TenantID(), false)
	waitFor(t, 30*time.Second, "the campaign to finish", func() bool { return s.state(t) == db.CampaignDone })
	s.wantEachOnce(t, a)
}

// TestConsoleRevenue: the tenant list shows and sorts by this month's
// revenue (other currencies apart, last month's left out) from its one
// query, and the tenant's page lists its payments.
func TestConsoleRevenue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner := uniqueEmail("revenue-owner")
	a := newTestApp(t, withAdmins(owner))
	ob := signedInOwner(t, a, owner)
	prefix := fmt.Sprintf("Payer %d", time.Now().UnixNano())
	now := time.Now().UTC()
	lastMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Add(-time.Second)
	pay := func(tenantID int64, id string, cents int64, currency string, at time.Time) {
		t.Helper()
		p := db.Payment{StripeID: fmt.Sprintf("%s_%d", id, tenantID), Kind: db.PaymentSubscription, AmountCents: cents, Currency: currency, PaidAt: at}
		if _, err := a.store.Tenant(tenantID).RecordPayment(ctx, p, 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	_, small := a.tenantOf(t, prefix+" Small")
	_, big := a.tenantOf(t, prefix+" Big")
	_, none := a.tenantOf(t, prefix+" None")
	pay(small, "in_a", 2900, "usd", now)
	pay(small, "in_b", 1000, "eur", now)
	pay(big, "in_c", 9900, "usd", now)
	pay(none, "in_old", 50000, "usd", lastMonth)

	r := ob.get("/admin/tenants?q=" + url.QueryEscape(prefix) + "&sort=revenue&dir=desc")
	wantStatus(t, r, http.StatusOK)
	var got []string
	testid(r, "tenant-row").Each(func(_ int, s *goquery.Selection) {
		name := strings.TrimPrefix(s.Find("strong").Text(), prefix+" ")
		got = append(got, name+": "+strings.Join(strings.Fields(s.Find(`[data-testid="tenant-revenue"]`).Text()), " "))
	})
	want := []string{"Big: $99.00", "Small: $29.00 + 10.00 EUR", "None: $0.00"}
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("by revenue:\n%s\nwant:\n%s", strings.Join(got, " | "), strings.Join(want, " | "))
	}

	r = ob.get(fmt.Sprintf("/admin/tenants/%d", small))
	wantStatus(t, r, http.StatusOK)
	rows := testid(r, "tenant-payment")
	if rows.Length() != 2 || !strings.Contains(rows.Text(), "$29.00") || !strings.Contains(rows.Text(), "10.00 EUR") ||
		!strings.Contains(rows.Text(), fmt.Sprintf("in_a_%d", small)) {
		t.Errorf("payments on the tenant's page: %q", testid(r, "tenant-payments").Text())
	}
}
