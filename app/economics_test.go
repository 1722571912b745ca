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

	"github.com/myaibud/aibud/app"
	"github.com/myaibud/aibud/app/economics"
	"github.com/myaibud/aibud/db"
)

// TestEconomicsPage: a tenant's month on the economics page is its tokens
// at the configured prices plus its share of the server its numbers are on,
// whose cost the owner sets on the servers page.
func TestEconomicsPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner := uniqueEmail("economics-owner")
	a := newTestApp(t, withAdmins(owner), func(o *app.Options) {
		o.AIPrices = economics.Prices{InputPerMTok: 1, AudioInputPerMTok: 3, OutputPerMTok: 10}
	})
	ob := signedInOwner(t, a, owner)
	name := fmt.Sprintf("Costly Garage %d", time.Now().UnixNano())
	_, tenantID := a.tenantOf(t, name)

	// $1 of input and $1 of output tokens; then voice notes: $0.50 of
	// text and $1.50 of audio input.
	for _, run := range []*db.AIRun{
		{Model: "gemini-2.5-flash", InputTokens: 1_000_000, OutputTokens: 100_000, Outcome: "ok"},
		{Model: "gemini-2.5-flash", InputTokens: 1_000_000, AudioInputTokens: 500_000, Outcome: "ok"},
	} {
		if err := a.store.Tenant(tenantID).RecordAIRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	// Two numbers on a server of their own (no room: nobody else lands on it).
	node := &db.Node{Name: "Costed", URL: fmt.Sprintf("http://costed-%d.invalid", time.Now().UnixNano()), Capacity: 0}
	if err := a.store.CreateNode(ctx, node); err != nil {
		t.Fatal(err)
	}
	instanceRow(t, a.store, tenantID)
	instanceRow(t, a.store, tenantID)
	if _, err := a.store.DB().NewRaw("UPDATE instances SET node_id = ? WHERE tenant_id = ?", node.ID, tenantID).Exec(ctx); err != nil {
		t.Fatal(err)
	}

	// The owner sets the server's cost; a wrong amount is refused.
	tok := ob.csrf("/admin/nodes")
	update := fmt.Sprintf("/admin/nodes/%d/update", node.ID)
	form := url.Values{"_csrf": {tok}, "name": {"Costed"}, "capacity": {"0"}, "monthly_cost": {"30.001"}}
	wantStatus(t, ob.post(update, form), http.StatusBadRequest)
	form.Set("monthly_cost", "30.00")
	wantRedirect(t, ob.post(update, form), "/admin/nodes")
	if n, _ := a.store.Node(ctx, node.ID); n.MonthlyCost != 30 {
		t.Fatalf("monthly cost %v", n.MonthlyCost)
	}

	// $50 of top-up and €20 of invoice this month; last month's $99 is not
	// this month's revenue.
	ts := a.store.Tenant(tenantID)
	now := time.Now().UTC()
	for _, p := range []db.Payment{
		{StripeID: fmt.Sprintf("cs_econ_%d", tenantID), Kind: db.PaymentTopUp, AmountCents: 5000, Currency: "usd", PaidAt: now},
		{StripeID: fmt.Sprintf("in_econ_%d", tenantID), Kind: db.PaymentSubscription, AmountCents: 2000, Currency: "eur", PaidAt: now},
		{StripeID: fmt.Sprintf("in_old_%d", tenantID), Kind: db.PaymentSubscription, AmountCents: 9900, Currency: "usd",
			PaidAt: time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Add(-time.Second)},
	} {
		if _, err := ts.RecordPayment(ctx, p, 0, ""); err != nil {
			t.Fatal(err)
		}
	}

	r := ob.get("/admin/economics")
	wantStatus(t, r, http.StatusOK)
	row := testid(r, "economics-row").FilterFunction(func(_ int, s *goquery.Selection) bool { return strings.Contains(s.Text(), name) })
	tests := []struct{ name, got, want string }{
		{"AI", row.Find(`[data-testid="economics-ai"]`).Text(), "$4.00"},
		{"servers", row.Find(`[data-testid="economics-servers"]`).Text(), "$30.00"},
		{"total", row.Find(`[data-testid="economics-cost"]`).Text(), "$34.00"},
		{"per number", row.Find(`[data-testid="economics-per-number"]`).Text(), "$17.00"},
		{"revenue", strings.Join(strings.Fields(row.Find(`[data-testid="economics-revenue"]`).Text()), " "), "$50.00 + 20.00 EUR"},
		{"margin", row.Find(`[data-testid="economics-margin"]`).Text(), "$16.00"},
		{"margin %", row.Find(`[data-testid="economics-margin-percent"]`).Text(), "32.0%"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if got := testid(r, "audio-price").Text(); !strings.Contains(got, "$3") {
		t.Errorf("the audio price reads %q, want $3 a million tokens", got)
	}
	chart := testid(r, "economics-chart")
	if chart.Find("svg").Length() != 1 || chart.Find("rect.revenue").Length() == 0 || chart.Find("rect.cost").Length() == 0 ||
		!strings.Contains(testid(r, "chart-legend").Text(), "Revenue") {
		t.Errorf("revenue against cost chart missing: %s", abbreviate(r.body))
	}
	if !strings.Contains(testid(r, "revenue-note").Text(), "EUR") || testid(r, "economics-total-row").Find(`[data-testid="economics-margin"]`).Text() == "" {
		t.Errorf("other currencies not noted, or no total margin: %s", abbreviate(r.body))
	}
	if testid(r, "console-nav").Find(`a[href="/admin/economics"]`).Length() != 1 {
		t.Error("no Economics in the console's navigation")
	}
}
