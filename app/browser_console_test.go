package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserOwnerGrantsCreditsLive walks the owner's journey in two
// browsers, on a desktop and on a phone: the owner signs in, finds the
// tenant with the search box and grants credits with a reason, and the
// tenant's dashboard, open in another browser, shows the new balance
// without a reload.
func TestBrowserOwnerGrantsCreditsLive(t *testing.T) {
	t.Parallel()
	for _, size := range []struct {
		name          string
		width, height int
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		t.Run(size.name, func(t *testing.T) {
			owner := uniqueEmail("browser-owner")
			a := newTestApp(t, withAdmins(owner))
			signedInOwner(t, a, owner)
			business := fmt.Sprintf("Sunflower Deli %d", time.Now().UnixNano())

			// The tenant, in its own browser, watches its dashboard.
			tc := newChrome(t, size.width, size.height)
			tc.do(
				chromedp.Navigate(a.URL+"/sign-up"),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-up-form"]`)),
				chromedp.SendKeys(chromedp.CSS(`#f-business_name`), business),
				chromedp.SendKeys(chromedp.CSS(`#f-email`), uniqueEmail("browser-tenant")),
				chromedp.SendKeys(chromedp.CSS(`#f-password`), "a long enough password"),
			)
			tc.click(`[data-testid="sign-up-submit"]`)
			tc.waitPath("/dashboard")
			tc.waitText(`[data-testid="credit-balance"]`, 10*time.Second, func(s string) bool { return s == "400" })
			tc.waitLive()
			eval[bool](tc, `(window.__noReload = true)`)

			oc := newChrome(t, size.width, size.height)
			ownerGrants(t, oc, a.URL, owner, business)

			tc.waitText(`[data-testid="credit-balance"]`, 10*time.Second, func(s string) bool { return s == "475" })
			tc.waitText(`[data-testid="credit-badge"]`, 10*time.Second, func(s string) bool { return s == "475 credits" })
			if !eval[bool](tc, `window.__noReload === true`) {
				t.Error("the tenant's page reloaded to show the new balance")
			}
			tc.noHorizontalScroll()
			tc.shot("tenant-dashboard-" + size.name)
		})
	}
}

// ownerGrants signs the owner in, finds the tenant by name through the
// search box and grants it 75 credits with a reason.
func ownerGrants(t *testing.T, oc *chrome, base, owner, business string) {
	t.Helper()
	oc.do(
		chromedp.Navigate(base+"/sign-in"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), owner),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
	)
	oc.click(`[data-testid="sign-in-submit"]`)
	oc.waitPath("/dashboard")
	oc.click(`[data-testid="console-link"]`)
	oc.waitPath("/admin")
	oc.click(`[data-testid="console-nav"] a[href="/admin/tenants"]`)
	oc.waitPath("/admin/tenants")
	oc.do(chromedp.SendKeys(chromedp.CSS(`[data-testid="tenant-search"]`), strings.ToLower(business)+kb.Enter))
	// The list before the search shows the tenant too: wait for the
	// search's own page.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(oc.location(), "q="); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the search did not run: on %s", oc.location())
		}
	}
	oc.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="tenant-list"]`)))
	if n := eval[int](oc, `document.querySelectorAll('[data-testid="tenant-row"]').length`); n != 1 || !strings.Contains(oc.text(`[data-testid="tenant-list"]`), business) {
		t.Fatalf("the search found %d tenants, want 1: %q", n, oc.text(`[data-testid="tenant-list"]`))
	}
	oc.noHorizontalScroll()
	oc.shot("owner-search")
	oc.click(`[data-testid="tenant-row"] a`)
	oc.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="credits-form"]`)))
	page := oc.location()
	oc.do(
		chromedp.SendKeys(chromedp.CSS(`[data-testid="credits-form"] input[name="amount"]`), "75"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="credits-form"] input[name="reason"]`), "Sorry for Tuesday's outage"),
	)
	oc.click(`[data-testid="credits-form"] button[type="submit"]`)
	oc.waitText(`#flash`, 10*time.Second, func(s string) bool { return strings.Contains(s, "Credits adjusted by +75") })
	if got := oc.location(); got != page {
		t.Errorf("after the grant the owner is on %s, want %s", got, page)
	}
	if ledger := oc.text(`[data-testid="tenant-ledger"]`); !strings.Contains(ledger, "Sorry for Tuesday's outage") {
		t.Errorf("the tenant's ledger in the console: %q", ledger)
	}
	oc.noHorizontalScroll()
	oc.shot("owner-granted")
}
