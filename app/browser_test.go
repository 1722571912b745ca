package app_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/db/dbtest"
)

// TestBrowserSignUpLiveCreditsSignOut walks the foundation journey in a real
// browser: sign up, see 400 credits, a grant made by another process appears
// without a reload, sign out, sign back in.
func TestBrowserSignUpLiveCreditsSignOut(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	c := newChrome(t, 1280, 900)
	email := uniqueEmail("browser")

	c.do(
		chromedp.Navigate(a.URL+"/sign-up"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-up-form"]`)),
	)
	c.shot("sign-up")
	c.do(
		chromedp.SendKeys(chromedp.CSS(`#f-business_name`), "Lumen Coffee"),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "a long enough password"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-up-submit"]`)),
	)
	c.waitPath("/dashboard")
	if got := c.waitText(`[data-testid="credit-balance"]`, 10*time.Second, func(s string) bool { return s != "" }); got != "400" {
		t.Fatalf("dashboard shows %q credits, want 400", got)
	}
	c.waitLive()
	c.shot("dashboard")

	// Another process (a separate Redis connection) grants credits.
	u, err := a.store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	eval[bool](c, `(window.__noReload = true)`)
	// A region swapped in by a live update must listen to the stream at
	// once, not after a settle delay during which updates would be lost.
	eval[bool](c, `(function(){
		window.__swapped = [];
		document.body.addEventListener("htmx:afterSwap", function(e) {
			var el = e.target;
			queueMicrotask(function() {
				var d = el["htmx-internal-data"] || {};
				window.__swapped.push((el.id || el.tagName) + (d.sseEventListener ? ":listening" : ":deaf"));
			});
		});
		return true;
	})()`)
	if _, err := a.store.Tenant(u.TenantID).Grant(context.Background(), 103, "Top-up", "test-topup"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.Tenant(u.TenantID).Charge(context.Background(), 3, "AI reply", "test-charge"); err != nil {
		t.Fatal(err)
	}
	worker := redis.NewClient(mustParseRedis(t, dbtest.RedisURL(t)))
	defer worker.Close()
	if err := live.NewPublisher(worker, a.namespace).Publish(context.Background(), u.TenantID, live.CreditsUpdated, nil); err != nil {
		t.Fatal(err)
	}
	c.waitText(`[data-testid="credit-balance"]`, 10*time.Second, func(s string) bool { return s == "500" })
	c.waitText(`[data-testid="credit-badge"]`, 10*time.Second, func(s string) bool { return s == "500 credits" })
	c.waitText(`[data-testid="used-today"]`, 10*time.Second, func(s string) bool { return s == "3" })
	swapped := eval[[]string](c, `window.__swapped`)
	if !slices.Contains(swapped, "dash-credits:listening") || slices.ContainsFunc(swapped, func(s string) bool { return strings.HasSuffix(s, ":deaf") }) {
		t.Errorf("swapped-in live regions: %v, want every one listening to the stream at once", swapped)
	}
	if !eval[bool](c, `window.__noReload === true`) {
		t.Error("the page reloaded to show the new balance")
	}
	c.shot("dashboard-after-grant")

	// The credits page shows the history and the chart.
	c.do(chromedp.Navigate(a.URL+"/credits"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="usage-chart"]`)))
	if rows := c.text(`[data-testid="ledger"]`); !strings.Contains(rows, "Welcome credits") || !strings.Contains(rows, "Top-up") {
		t.Errorf("ledger shows %q", rows)
	}
	// Every figure on the page follows the ledger live.
	c.waitLive()
	if _, err := a.store.Tenant(u.TenantID).Charge(context.Background(), 2, "AI reply", "test-charge-2"); err != nil {
		t.Fatal(err)
	}
	if err := live.NewPublisher(worker, a.namespace).Publish(context.Background(), u.TenantID, live.CreditsUpdated, nil); err != nil {
		t.Fatal(err)
	}
	c.waitText(`[data-testid="used-30"]`, 10*time.Second, func(s string) bool { return s == "5" })
	c.waitText(`[data-testid="credit-balance"]`, 10*time.Second, func(s string) bool { return s == "498" })
	c.shot("credits")

	// Sign out through the account menu.
	c.do(
		chromedp.Click(chromedp.CSS(`.account-menu summary`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-out"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-out"]`)),
	)
	c.waitPath("/sign-in")
	c.do(chromedp.Navigate(a.URL + "/dashboard"))
	c.waitPath("/sign-in")

	// Sign back in.
	c.do(
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "a long enough password"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in-submit"]`)),
	)
	c.waitPath("/dashboard")
	c.waitText(`[data-testid="credit-balance"]`, 10*time.Second, func(s string) bool { return s == "498" })
}

// TestBrowserWrongPasswordAndPhoneLayout checks the failed sign-in message in
// place (htmx swap) and that the pages fit a phone screen.
func TestBrowserWrongPasswordAndPhoneLayout(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	email := uniqueEmail("phone")
	wantRedirect(t, a.newBrowser(t).signUp("Phone Friendly Florist", email, "password123"), "/dashboard")

	c := newChrome(t, 390, 844)
	c.do(
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(a.URL+"/sign-in"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "wrong password"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in-submit"]`)),
	)
	if msg := c.waitText(`[data-testid="form-error"]`, 10*time.Second, func(s string) bool { return s != "" }); msg != "Email or password is wrong." {
		t.Errorf("error = %q", msg)
	}
	if c.location() != "/sign-in" {
		t.Errorf("a failed sign-in left the page: %s", c.location())
	}
	c.noHorizontalScroll()
	c.shot("sign-in-error-phone")

	// The re-rendered form keeps the email but never echoes the password.
	if v := eval[string](c, `document.querySelector("#f-password").value`); v != "" {
		t.Errorf("password field kept %q", v)
	}
	c.do(
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in-submit"]`)),
	)
	c.waitPath("/dashboard")
	c.waitLive()
	c.noHorizontalScroll()
	c.shot("dashboard-phone")
	c.do(chromedp.Navigate(a.URL+"/credits"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="usage-chart"]`)))
	c.noHorizontalScroll()
	c.shot("credits-phone")
}

// TestBrowserSignInNeverLeavesTheSite follows, in Chromium, the redirect
// after sign-in for hostile "next" values: tabs, vertical tabs, newlines,
// backslashes, spaces, their percent-encodings and absolute URLs. Every one
// ends on this site.
func TestBrowserSignInNeverLeavesTheSite(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	email := uniqueEmail("next")
	wantRedirect(t, a.newBrowser(t).signUp("Next Shop", email, "password123"), "/dashboard")
	hostile := []string{
		"/\t/evil.example", "/\x0b/evil.example", "/\n/evil.example", "/\r/evil.example", "/ /evil.example",
		"/\\evil.example", "\\/evil.example", "/\\/evil.example", "/%09/evil.example", "/%5C/evil.example",
		"/%2F/evil.example", "//evil.example", "https://evil.example/", "/\u3000/evil.example", "javascript:alert(1)",
	}
	c := newChrome(t, 1280, 800)
	// Signing in through the form with a hostile next field.
	c.do(
		chromedp.Navigate(a.URL+"/sign-in?next="+url.QueryEscape(hostile[0])),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
	)
	// The page drops a hostile next; an attacker's own form would post it.
	eval[bool](c, `(() => { const f = document.querySelector('[data-testid="sign-in-form"]');
		let i = f.querySelector('input[name="next"]');
		if (!i) { i = document.createElement('input'); i.type = 'hidden'; i.name = 'next'; f.appendChild(i); }
		i.value = "/\t/evil.example"; return true; })()`)
	c.do(
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in-submit"]`)),
	)
	c.waitPath("/dashboard")
	// Signed in, the sign-in page sends straight on: every hostile value
	// lands on the dashboard of this site.
	for _, next := range hostile {
		c.do(chromedp.Navigate(a.URL + "/sign-in?next=" + url.QueryEscape(next)))
		c.waitPath("/dashboard")
		if origin := eval[string](c, `location.origin`); origin != a.URL {
			t.Errorf("next %q: ended on %s", next, origin)
		}
	}
	// A local destination is kept.
	c.do(chromedp.Navigate(a.URL + "/sign-in?next=" + url.QueryEscape("/contacts?q=ana")))
	c.waitPath("/contacts?q=ana")
}
