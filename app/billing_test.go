package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/hibiken/asynq"

	mailsim "github.com/myaibud/aibud/app/sim/mail"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/jobs"
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

// TestBillingNotConfigured: without Stripe keys the page says so, shows no
// buttons, and the POSTs refuse.
func TestBillingNotConfigured(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, _ := a.tenantOf(t, "No Stripe Shop")
	r := b.get("/billing")
	wantStatus(t, r, http.StatusOK)
	if testid(r, "billing-off").Length() != 1 || testid(r, "choose-pro").Length() != 0 || testid(r, "buy-pack").Length() != 0 {
		t.Errorf("billing off page: %s", abbreviate(r.body))
	}
	if got := testid(r, "billing-plan").Text(); got != "Starter" {
		t.Errorf("plan = %q", got)
	}
	if !strings.Contains(testid(r, "billing-plans").Text(), "$29.00") {
		t.Errorf("plans table: %s", testid(r, "billing-plans").Text())
	}
	tok := b.csrf("/billing")
	wantStatus(t, b.post("/billing/checkout", url.Values{"_csrf": {tok}, "plan": {"pro"}}), http.StatusBadRequest)
	// The navigation leads here, after Credits.
	nav := r.doc.Find(`nav[aria-label="Main"] a`).Map(func(_ int, s *goquery.Selection) string { return s.Text() })
	if i := slices.Index(nav, "Billing"); i < 1 || nav[i-1] != "Credits" {
		t.Errorf("navigation = %v", nav)
	}
}

// TestBillingCheckoutAndPortal: the buttons create Checkout and portal
// sessions through stripe-go against stripe-mock and send the browser there.
func TestBillingCheckoutAndPortal(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, withStripe(t))
	b, tenantID := a.tenantOf(t, "Stripe Shop")
	r := b.get("/billing")
	if testid(r, "choose-pro").Length() != 1 || testid(r, "billing-portal").Length() != 0 {
		t.Fatalf("billing page: %s", abbreviate(r.body))
	}
	tok := b.csrf("/billing")
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/billing/checkout", url.Values{"plan": {"pro"}}},
		{"/billing/top-up", url.Values{"pack": {packID(t, a)}}},
	} {
		tc.form.Set("_csrf", tok)
		r := b.post(tc.path, tc.form)
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "https://") {
			t.Errorf("%s: %d to %q: %s", tc.path, r.StatusCode, r.Header.Get("Location"), abbreviate(r.body))
		}
	}
	wantStatus(t, b.post("/billing/checkout", url.Values{"_csrf": {tok}, "plan": {"starter"}}), http.StatusBadRequest)
	// The portal opens once the tenant is a Stripe customer.
	wantStatus(t, b.post("/billing/portal", url.Values{"_csrf": {tok}}), http.StatusBadRequest)
	wantStatus(t, a.postStripe(t, stripeEvent{id: "evt_link_" + fmt.Sprint(tenantID), typ: "checkout.session.completed",
		created: time.Now(), object: checkoutObject(fmt.Sprintf("cs_link_%d", tenantID), tenantID, "subscription", 0)}, stripeWebhookSecret), http.StatusOK)
	waitFor(t, 10*time.Second, "customer linked", func() bool {
		return testid(b.get("/billing"), "billing-portal").Length() == 1
	})
	r = b.post("/billing/portal", url.Values{"_csrf": {tok}})
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "https://") {
		t.Errorf("portal: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	r = b.get("/billing?checkout=success")
	if testid(r, "billing-notice").Length() != 1 || testid(r, "invoices").Length()+testid(r, "invoices-failed").Length() == 0 {
		t.Errorf("after checkout: %s", abbreviate(r.body))
	}
}

func packID(t testing.TB, a *testApp) string {
	t.Helper()
	packs, err := a.store.CreditPacks(context.Background())
	if err != nil || len(packs) == 0 {
		t.Fatalf("packs: %v %v", packs, err)
	}
	return fmt.Sprint(packs[0].ID)
}

// TestLowBalanceBanner: every page warns below LOW_BALANCE_CREDITS, and at
// zero says what stopped, with a one-click top-up.
func TestLowBalanceBanner(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Low Shop")
	ts := a.store.Tenant(tenantID)
	for _, page := range []string{"/dashboard", "/contacts", "/billing"} {
		if r := b.get(page); testid(r, "credits-low").Length()+testid(r, "credits-empty").Length() != 0 {
			t.Errorf("%s: a banner with 400 credits", page)
		}
	}
	if _, err := ts.Charge(context.Background(), 370, "test", "low-1"); err != nil {
		t.Fatal(err)
	}
	r := b.get("/contacts")
	if !strings.Contains(testid(r, "credits-low").Text(), "Only 30 credits left") {
		t.Errorf("low banner: %q", testid(r, "credits-low").Text())
	}
	if _, err := ts.Charge(context.Background(), 30, "test", "low-2"); err != nil {
		t.Fatal(err)
	}
	r = b.get("/campaigns")
	if !strings.Contains(testid(r, "credits-empty").Text(), "AI replies and campaign messages have stopped") {
		t.Errorf("empty banner: %q", testid(r, "credits-empty").Text())
	}
	if href, _ := testid(r, "top-up-link").Attr("href"); href != "/billing" {
		t.Errorf("top-up link = %q", href)
	}
}

// mailsTo reads the mailbox stand-in's messages to an address.
func mailsTo(t testing.TB, a *testApp, to string) []mailsim.Message {
	t.Helper()
	res, err := http.Get(a.env.mailboxURL + "/api/messages?to=" + url.QueryEscape(to))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var ms []mailsim.Message
	if err := json.NewDecoder(res.Body).Decode(&ms); err != nil {
		t.Fatal(err)
	}
	return ms
}

// runTask queues a periodic task on the shared worker, waits until it has
// run, then for cond.
func runTask(t testing.TB, a *testApp, newTask func() (*asynq.Task, error), what string, cond func() bool) {
	t.Helper()
	task, err := newTask()
	if err != nil {
		t.Fatal(err)
	}
	info, err := a.env.queue.EnqueueContext(context.Background(), task)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, what+" (the task run)", func() bool {
		_, err := a.env.inspector.GetTaskInfo(info.Queue, info.ID)
		return errors.Is(err, asynq.ErrTaskNotFound)
	})
	waitFor(t, 10*time.Second, what, cond)
}

// TestLowBalanceEmail: owners are emailed once when the balance falls below
// the threshold, and again after it went back above and fell again.
func TestLowBalanceEmail(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	email := uniqueEmail("lowmail")
	wantRedirect(t, a.newBrowser(t).signUp("Low Mail Shop", email, "password123"), "/dashboard")
	u, err := a.store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	ctx, ts := context.Background(), a.store.Tenant(u.TenantID)
	notified := func() bool {
		tn, _ := ts.Tenant(ctx)
		return tn.LowBalanceNotifiedAt != nil
	}
	if _, err := ts.Charge(ctx, 380, "test", "lowmail-1"); err != nil {
		t.Fatal(err)
	}
	runTask(t, a, jobs.NewLowBalanceTask, "the low balance email", func() bool { return len(mailsTo(t, a, email)) == 1 })
	m := mailsTo(t, a, email)[0]
	if !strings.Contains(m.Text, "20 credits left") || !strings.Contains(m.Text, "/billing") {
		t.Errorf("email: %s", m.Text)
	}
	runTask(t, a, jobs.NewLowBalanceTask, "a second run", func() bool { return notified() })
	if n := len(mailsTo(t, a, email)); n != 1 {
		t.Errorf("%d emails after a second run, want 1", n)
	}
	if _, err := ts.Grant(ctx, 100, "test", "lowmail-2"); err != nil {
		t.Fatal(err)
	}
	runTask(t, a, jobs.NewLowBalanceTask, "the notice cleared", func() bool { return !notified() })
	if _, err := ts.Charge(ctx, 100, "test", "lowmail-3"); err != nil {
		t.Fatal(err)
	}
	runTask(t, a, jobs.NewLowBalanceTask, "the second email", func() bool { return len(mailsTo(t, a, email)) == 2 })
}
