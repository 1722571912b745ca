package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/myaibud/aibud/db"
)

// TestSettingsPhoneLayout opens the settings page with knowledge entries in
// a phone-sized Chromium (390×844): nothing is wider than the screen, with
// an entry open and after a save, which says so in place.
func TestSettingsPhoneLayout(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	email := uniqueEmail("phone-settings")
	b := a.newBrowser(t)
	wantRedirect(t, b.signUp("Phone Settings Bakery", email, "password123"), "/dashboard")
	u, err := a.store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	ts := a.store.Tenant(u.TenantID)
	for _, k := range []db.KnowledgeEntry{
		{Title: "Opening hours", Body: "Monday to Friday 8:00–18:00, Saturday 9:00–14:00, closed on Sundays and public holidays."},
		{Title: "Prices of our celebration cakes and the extras customers usually ask about", Body: "Chocolate cake 25 EUR. Order at https://bakery.example.com/orders/celebration-cakes-and-extras?size=large&candles=yes"},
		{Title: "Delivery", Body: strings.Repeat("We deliver within 5 km for 2 EUR. ", 20)},
	} {
		if err := ts.SaveKnowledgeEntry(context.Background(), &k); err != nil {
			t.Fatal(err)
		}
	}

	c := newChrome(t, 390, 844)
	c.do(
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(a.URL+"/sign-in"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in-submit"]`)),
	)
	c.waitPath("/dashboard")
	c.do(chromedp.Navigate(a.URL+"/settings"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="knowledge"]`)))
	c.waitLive()
	c.noHorizontalScroll()
	c.shot("settings-phone")
	for _, sel := range []string{"#talk", "#when", "#automatic", "#knowledge"} {
		screen(c, sel, "settings-phone-"+strings.TrimPrefix(sel, "#"))
	}

	c.click(`[data-testid="knowledge-entry"]:nth-of-type(2) summary`)
	c.noHorizontalScroll()
	screen(c, `[data-testid="knowledge-entry"][open]`, "settings-phone-entry")
	// The label focuses its own entry's field.
	centre(c, `[data-testid="knowledge-entry"][open] label[for$="-body"]`)
	c.click(`[data-testid="knowledge-entry"][open] label[for$="-body"]`)
	if id := eval[string](c, `document.activeElement.id`); !strings.HasPrefix(id, "knowledge-") || !strings.HasSuffix(id, "-body") ||
		!eval[bool](c, `document.activeElement.closest("details[open]") !== null`) {
		t.Errorf("the label focused #%s", id)
	}

	centre(c, `[data-testid="settings-save"]`)
	c.click(`[data-testid="settings-save"]`)
	if got := c.waitText(`[data-testid="settings-saved"]`, 10*time.Second, func(s string) bool { return s != "" }); !strings.Contains(got, "Saved") {
		t.Errorf("after saving: %q", got)
	}
	c.noHorizontalScroll()
	screen(c, `[data-testid="settings-saved"]`, "settings-phone-saved")
}

// centre scrolls sel to the middle of the window, clear of the sticky
// header and save bar, so a click lands on it.
func centre(c *chrome, sel string) {
	c.t.Helper()
	eval[bool](c, fmt.Sprintf(`(function(){document.querySelector(%q).scrollIntoView({block: "center"}); return true})()`, sel))
}

// screen saves what the window shows with sel at its top, as a phone user
// sees it, under testdata/artifacts.
func screen(c *chrome, sel, name string) {
	c.t.Helper()
	eval[bool](c, fmt.Sprintf(`(function(){document.querySelector(%q).scrollIntoView({block: "start"}); window.scrollBy(0, -110); return true})()`, sel))
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		c.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "artifacts", strings.ReplaceAll(c.t.Name(), "/", "_")+"-"+name+".png"), buf, 0o644); err != nil {
		c.t.Logf("screenshot: %v", err)
	}
}
