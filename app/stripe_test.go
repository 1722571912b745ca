package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/myaibud/aibud/app"
	"github.com/myaibud/aibud/app/billing"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/jobs"
)

const stripeWebhookSecret = "whsec_test_secret"

var (
	stripeMockOnce sync.Once
	stripeMockURL  string
	stripeMockErr  error
)

// stripeMock starts stripe-mock (installed by `make test`) once for the
// package, bound to loopback on ports it chooses, and returns its HTTP URL.
// Without the binary the test skips, or fails when CI is set.
func stripeMock(t testing.TB) string {
	t.Helper()
	stripeMockOnce.Do(func() { stripeMockURL, stripeMockErr = startStripeMock() })
	if stripeMockErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("stripe-mock: %v", stripeMockErr)
		}
		t.Skipf("stripe-mock: %v (make test installs it)", stripeMockErr)
	}
	return stripeMockURL
}

func startStripeMock() (string, error) {
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(gopath)), "bin", "stripe-mock")
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("not installed: go install github.com/stripe/stripe-mock@latest")
		}
	}
	// It lives as long as the test binary; empty ports are chosen free.
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return "", err
	}
	found := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`Listening for HTTP at address: (\S+)`)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- "http://" + m[1]
			}
		}
	}()
	select {
	case u := <-found:
		return u, nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return "", fmt.Errorf("did not start within 30s")
	}
}

// withStripe turns billing on against stripe-mock.
func withStripe(t testing.TB) appOption {
	base := stripeMock(t)
	return func(o *app.Options) { o.Stripe = billing.Config{SecretKey: "sk_test_123", APIBase: base} }
}

// stripeEvent builds a signed Stripe event the way Stripe sends it.
type stripeEvent struct {
	id, typ string
	created time.Time
	object  map[string]any
}

func (ev stripeEvent) signed(t testing.TB, secret string) ([]byte, string) {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"id": ev.id, "object": "event", "type": ev.typ, "api_version": stripe.APIVersion,
		"created": ev.created.Unix(), "data": map[string]any{"object": ev.object},
	})
	if err != nil {
		t.Fatal(err)
	}
	sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret})
	return sp.Payload, sp.Header
}

// postStripe sends a signed event to the app's webhook endpoint.
func (a *testApp) postStripe(t testing.TB, ev stripeEvent, secret string) *response {
	t.Helper()
	body, header := ev.signed(t, secret)
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/api/webhooks/stripe", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Stripe-Signature", header)
	return a.newBrowser(t).do(req)
}

func checkoutObject(id string, tenantID int64, mode string, credits int64) map[string]any {
	o := map[string]any{
		"id": id, "object": "checkout.session", "mode": mode, "payment_status": "paid", "status": "complete",
		"client_reference_id": fmt.Sprint(tenantID), "customer": fmt.Sprintf("cus_%d", tenantID),
		"metadata": map[string]any{"tenant_id": fmt.Sprint(tenantID)},
	}
	if credits > 0 {
		o["metadata"].(map[string]any)["credits"] = fmt.Sprint(credits)
		o["amount_total"], o["currency"] = credits, "usd" // a cent a credit
	}
	if mode == "subscription" {
		o["subscription"] = fmt.Sprintf("sub_%d", tenantID)
	}
	return o
}

func subscriptionObject(tenantID int64, status, plan string, periodEnd time.Time) map[string]any {
	return map[string]any{
		"id": fmt.Sprintf("sub_%d", tenantID), "object": "subscription", "status": status,
		"customer": fmt.Sprintf("cus_%d", tenantID),
		"metadata": map[string]any{"plan": plan, "tenant_id": fmt.Sprint(tenantID)},
		"items": map[string]any{"object": "list", "data": []any{map[string]any{
			"id": "si_1", "object": "subscription_item", "current_period_end": periodEnd.Unix(),
			"price": map[string]any{"id": "price_adhoc_" + plan, "object": "price"},
		}}},
	}
}

func invoiceObject(id string, tenantID int64, plan string) map[string]any {
	return map[string]any{
		"id": id, "object": "invoice", "customer": fmt.Sprintf("cus_%d", tenantID),
		"amount_paid": map[string]int64{"pro": 2900, "business": 9900}[plan], "currency": "usd",
		"parent": map[string]any{"type": "subscription_details", "subscription_details": map[string]any{
			"subscription": fmt.Sprintf("sub_%d", tenantID), "metadata": map[string]any{"plan": plan, "tenant_id": fmt.Sprint(tenantID)},
		}},
	}
}

// wantProcessed waits until the worker has processed a Stripe event.
func (a *testApp) wantProcessed(t testing.TB, eventID string) {
	t.Helper()
	waitFor(t, 10*time.Second, "stripe event "+eventID+" processed", func() bool {
		var n int
		err := a.store.DB().NewRaw("SELECT count(*) FROM stripe_events WHERE event_id = ? AND processed_at IS NOT NULL", eventID).
			Scan(context.Background(), &n)
		return err == nil && n == 1
	})
}

func TestStripeWebhookSignature(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	_, tenantID := a.tenantOf(t, "Signature Shop")
	ev := stripeEvent{id: fmt.Sprintf("evt_sig_%d", tenantID), typ: "checkout.session.completed", created: time.Now(),
		object: checkoutObject(fmt.Sprintf("cs_sig_%d", tenantID), tenantID, "payment", 500)}
	wantStatus(t, a.postStripe(t, ev, "whsec_wrong"), http.StatusBadRequest)
	body, _ := ev.signed(t, stripeWebhookSecret)
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/api/webhooks/stripe", strings.NewReader(string(body)))
	wantStatus(t, a.newBrowser(t).do(req), http.StatusBadRequest) // no header
	var n int
	if err := a.store.DB().NewRaw("SELECT count(*) FROM stripe_events WHERE event_id = ?", ev.id).Scan(context.Background(), &n); err != nil || n != 0 {
		t.Errorf("stored %d events (%v)", n, err)
	}
}

// TestStripeTopUp: a paid top-up is credited once, however often Stripe
// sends it.
func TestStripeTopUp(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	_, tenantID := a.tenantOf(t, "Top-up Shop")
	ts := a.store.Tenant(tenantID)
	ev := stripeEvent{id: fmt.Sprintf("evt_topup_%d", tenantID), typ: "checkout.session.completed", created: time.Now(),
		object: checkoutObject(fmt.Sprintf("cs_topup_%d", tenantID), tenantID, "payment", 1000)}
	wantStatus(t, a.postStripe(t, ev, stripeWebhookSecret), http.StatusOK)
	a.wantProcessed(t, ev.id)
	if bal, _ := ts.CreditBalance(context.Background()); bal != 1400 {
		t.Errorf("balance = %d, want 1400", bal)
	}
	r := a.postStripe(t, ev, stripeWebhookSecret) // replayed
	if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "duplicate") {
		t.Errorf("replay: %d %s", r.StatusCode, r.body)
	}
	// The same session in a new event (Stripe resends as a new event).
	ev.id += "_again"
	wantStatus(t, a.postStripe(t, ev, stripeWebhookSecret), http.StatusOK)
	a.wantProcessed(t, ev.id)
	if bal, _ := ts.CreditBalance(context.Background()); bal != 1400 {
		t.Errorf("balance after replays = %d, want 1400", bal)
	}
	e, err := ts.LedgerEntry(context.Background(), fmt.Sprintf("stripe:cs_topup_%d", tenantID))
	if err != nil || e.Amount != 1000 {
		t.Errorf("ledger entry = %+v, %v", e, err)
	}
	wantPayments(t, a, tenantID, fmt.Sprintf("cs_topup_%d top-up 1000 usd", tenantID))
}

// wantPayments checks the tenant's payments, newest first, as "stripe id
// kind amount currency".
func wantPayments(t *testing.T, a *testApp, tenantID int64, want ...string) {
	t.Helper()
	ps, err := a.store.Tenant(tenantID).Payments(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, fmt.Sprintf("%s %s %d %s", p.StripeID, p.Kind, p.AmountCents, p.Currency))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("payments:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestStripeSubscription: checkout links the subscription, invoice.paid
// grants the plan's credits once per invoice, and subscription events end
// in the right plan in any order of arrival.
func TestStripeSubscription(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Subscriber Shop")
	ctx, ts := context.Background(), a.store.Tenant(tenantID)
	send := func(id, typ string, created time.Time, object map[string]any) {
		t.Helper()
		ev := stripeEvent{id: fmt.Sprintf("evt_%s_%d", id, tenantID), typ: typ, created: created, object: object}
		wantStatus(t, a.postStripe(t, ev, stripeWebhookSecret), http.StatusOK)
		a.wantProcessed(t, ev.id)
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	end := t0.AddDate(0, 1, 0)
	// Out of order: the upgrade to business (newer) arrives before the
	// subscription's creation on pro (older).
	send("upgrade", "customer.subscription.updated", t0.Add(time.Minute), subscriptionObject(tenantID, "active", "business", end))
	send("created", "customer.subscription.created", t0, subscriptionObject(tenantID, "active", "pro", end))
	send("checkout", "checkout.session.completed", t0, checkoutObject(fmt.Sprintf("cs_sub_%d", tenantID), tenantID, "subscription", 0))
	tn, _ := ts.Tenant(ctx)
	if tn.Plan != "business" || tn.StripeCustomerID == nil || *tn.StripeCustomerID != fmt.Sprintf("cus_%d", tenantID) {
		t.Fatalf("after out-of-order events: plan %s, customer %v", tn.Plan, tn.StripeCustomerID)
	}
	// invoice.paid twice (two deliveries as two events) grants once.
	inv := invoiceObject(fmt.Sprintf("in_%d", tenantID), tenantID, "business")
	send("paid1", "invoice.paid", t0, inv)
	send("paid2", "invoice.paid", t0, inv)
	if bal, _ := ts.CreditBalance(ctx); bal != 400+12000 {
		t.Errorf("balance = %d, want %d", bal, 400+12000)
	}
	wantPayments(t, a, tenantID, fmt.Sprintf("in_%d subscription 9900 usd", tenantID))
	// A downgrade waits for the end of the period.
	send("downgrade", "customer.subscription.updated", t0.Add(2*time.Minute), subscriptionObject(tenantID, "active", "pro", end))
	tn, _ = ts.Tenant(ctx)
	if tn.Plan != "business" || tn.PendingPlan == nil || *tn.PendingPlan != "pro" {
		t.Errorf("downgrade: plan %s, pending %v", tn.Plan, tn.PendingPlan)
	}
	if r := b.get("/billing"); testid(r, "billing-pending").Length() != 1 {
		t.Errorf("pending downgrade not shown: %s", abbreviate(r.body))
	}
	// The failure of the invoice paid already (arriving late) changes
	// nothing; a failure of the next invoice shows a banner with the grace
	// period, and its payment ends it.
	send("failed-late", "invoice.payment_failed", t0.Add(-time.Minute), inv)
	if r := b.get("/dashboard"); testid(r, "payment-failed").Length() != 0 {
		t.Errorf("a banner for an invoice paid already")
	}
	next := invoiceObject(fmt.Sprintf("in_next_%d", tenantID), tenantID, "business")
	send("failed-next", "invoice.payment_failed", t0.Add(3*time.Minute), next)
	if r := b.get("/dashboard"); testid(r, "payment-failed").Length() != 1 {
		t.Errorf("no payment banner: %s", abbreviate(r.body))
	}
	send("paid-next", "invoice.paid", t0.Add(4*time.Minute), next)
	send("paid-next-again", "invoice.paid", t0.Add(4*time.Minute), next)
	wantPayments(t, a, tenantID, fmt.Sprintf("in_next_%d subscription 9900 usd", tenantID), fmt.Sprintf("in_%d subscription 9900 usd", tenantID))
	if r := b.get("/dashboard"); testid(r, "payment-failed").Length() != 0 {
		t.Errorf("payment banner after the payment")
	}
	send("failed", "invoice.payment_failed", t0.Add(3*time.Minute), invoiceObject(fmt.Sprintf("in_third_%d", tenantID), tenantID, "business"))
	if r := b.get("/dashboard"); testid(r, "payment-failed").Length() != 1 {
		t.Errorf("no payment banner: %s", abbreviate(r.body))
	}
	// Deleted: back to Starter; an older update arriving later does not
	// bring the plan back.
	send("deleted", "customer.subscription.deleted", t0.Add(5*time.Minute), subscriptionObject(tenantID, "canceled", "pro", end))
	send("late", "customer.subscription.updated", t0.Add(90*time.Second), subscriptionObject(tenantID, "active", "business", end))
	tn, _ = ts.Tenant(ctx)
	if tn.Plan != "starter" || tn.PendingPlan != nil || tn.SubscriptionStatus != "canceled" {
		t.Errorf("after deletion: plan %s, pending %v, status %s", tn.Plan, tn.PendingPlan, tn.SubscriptionStatus)
	}
}

// TestBillingDue: the periodic job applies a downgrade whose period ended
// and sends a tenant whose payment failed past the grace back to Starter.
func TestBillingDue(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	_, downID := a.tenantOf(t, "Downgrade Shop")
	_, failID := a.tenantOf(t, "Unpaid Shop")
	ctx := context.Background()
	past, failed := time.Now().Add(-time.Minute), time.Now().Add(-8*24*time.Hour)
	for id, edit := range map[int64]func(*db.Tenant){
		downID: func(tn *db.Tenant) {
			pending := db.PlanPro
			tn.Plan, tn.PendingPlan, tn.CurrentPeriodEnd = db.PlanBusiness, &pending, &past
		},
		failID: func(tn *db.Tenant) { tn.Plan, tn.PaymentFailedAt = db.PlanPro, &failed },
	} {
		if _, err := a.store.Tenant(id).UpdateBilling(ctx, func(tn *db.Tenant) (bool, error) { edit(tn); return true, nil }); err != nil {
			t.Fatal(err)
		}
	}
	task, err := jobs.NewBillingDueTask()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.env.queue.EnqueueContext(ctx, task); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "billing due applied", func() bool {
		down, _ := a.store.Tenant(downID).Tenant(ctx)
		fail, _ := a.store.Tenant(failID).Tenant(ctx)
		return down.Plan == db.PlanPro && down.PendingPlan == nil && fail.Plan == db.PlanStarter
	})
}

// TestStripeFirstInvoiceBeforeCheckout: the first invoice.paid may arrive
// before the checkout event links the customer; the subscription's
// metadata names the tenant, so the credits are granted all the same.
func TestStripeFirstInvoiceBeforeCheckout(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	_, tenantID := a.tenantOf(t, "Early Invoice Shop")
	paidAt := time.Now().Add(-time.Minute).Truncate(time.Second)
	inv := invoiceObject(fmt.Sprintf("in_early_%d", tenantID), tenantID, "pro")
	inv["status_transitions"] = map[string]any{"paid_at": paidAt.Unix()}
	ev := stripeEvent{id: fmt.Sprintf("evt_early_%d", tenantID), typ: "invoice.paid", created: time.Now(), object: inv}
	wantStatus(t, a.postStripe(t, ev, stripeWebhookSecret), http.StatusOK)
	a.wantProcessed(t, ev.id)
	tn, _ := a.store.Tenant(tenantID).Tenant(context.Background())
	if tn.CreditBalance != 400+3000 || tn.StripeCustomerID == nil {
		t.Errorf("balance %d, customer %v", tn.CreditBalance, tn.StripeCustomerID)
	}
	ps, err := a.store.Tenant(tenantID).Payments(context.Background(), 10)
	if err != nil || len(ps) != 1 || !ps[0].PaidAt.Equal(paidAt) || ps[0].AmountCents != 2900 {
		t.Errorf("payments = %+v, %v; want one of 2900 paid at %v", ps, err, paidAt)
	}
}

// TestStripeEventFailed: an event the job gives up on is listed on the
// owner's failures page with its error, and records nothing.
func TestStripeEventFailed(t *testing.T) {
	t.Parallel()
	owner := uniqueEmail("stripe-failures-owner")
	a := newTestApp(t, withAdmins(owner))
	ob := signedInOwner(t, a, owner)
	_, tenantID := a.tenantOf(t, "Broken Checkout Shop")
	co := checkoutObject(fmt.Sprintf("cs_broken_%d", tenantID), tenantID, "payment", 1000)
	co["mode"] = 5 // not a string: the job cannot read the session
	ev := stripeEvent{id: fmt.Sprintf("evt_broken_%d", tenantID), typ: "checkout.session.completed", created: time.Now(), object: co}
	wantStatus(t, a.postStripe(t, ev, stripeWebhookSecret), http.StatusOK)
	var row *goquery.Selection
	waitFor(t, 10*time.Second, "the failed event listed", func() bool {
		row = testid(ob.get("/admin/failures"), "stripe-failure").FilterFunction(func(_ int, s *goquery.Selection) bool {
			return strings.Contains(s.Text(), ev.id)
		})
		return row.Length() == 1
	})
	if txt := row.Text(); !strings.Contains(txt, "checkout.session.completed") || !strings.Contains(txt, "parse stripe event") {
		t.Errorf("failed event row: %s", txt)
	}
	wantPayments(t, a, tenantID)
}
