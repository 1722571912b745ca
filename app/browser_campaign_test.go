package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// TestCampaignWizardBrowser walks the draft wizard in Chromium at desktop
// and phone width: the CSV goes in through the file input, then columns,
// clean-up and message, where typing updates the preview without a reload.
func TestCampaignWizardBrowser(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	file := filepath.Join(t.TempDir(), "leads.csv")
	if err := os.WriteFile(file, []byte(leadsCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, size := range []struct{ w, h int }{{1280, 900}, {390, 844}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			t.Parallel()
			email := uniqueEmail("wizard-browser")
			b := a.newBrowser(t)
			wantRedirect(t, b.signUp("Wizard Browser Shop", email, "password123"), "/dashboard")
			optOut(t, a, email)
			c := newChrome(t, size.w, size.h)
			c.do(
				chromedp.Navigate(a.URL+"/sign-in"),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
				chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
				chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
				chromedp.Click(chromedp.CSS(`[data-testid="sign-in-submit"]`)),
			)
			c.waitPath("/dashboard")
			walkWizard(t, c, a.URL, file)
		})
	}
}

// optOut puts the signed-up tenant in Spain with the leads' opted-out
// contact.
func optOut(t *testing.T, a *testApp, email string) {
	t.Helper()
	ctx := context.Background()
	u, err := a.store.UserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dbtest.DB(t).ExecContext(ctx, "UPDATE tenants SET default_country = 'ES' WHERE id = ?", u.TenantID); err != nil {
		t.Fatal(err)
	}
	ts := a.store.Tenant(u.TenantID)
	ct, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+34600112299", Name: "Gone"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.SetOptOut(ctx, ct.ID, true); err != nil {
		t.Fatal(err)
	}
}

func walkWizard(t *testing.T, c *chrome, base, file string) {
	c.do(chromedp.Navigate(base+"/campaigns"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="campaign-new"]`)))
	c.noHorizontalScroll()
	c.click(`[data-testid="campaign-new"]`)
	c.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="upload-form"]`)))
	if !regexp.MustCompile(`^/campaigns/\d+/upload$`).MatchString(c.location()) {
		t.Fatalf("new campaign at %s", c.location())
	}
	c.noHorizontalScroll()
	c.shot("upload")
	c.do(chromedp.SetUploadFiles(chromedp.CSS(`#f-file`), []string{file}))
	c.click(`[data-testid="upload-submit"]`)
	c.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="map-rows"]`)))
	if got := c.text(`[data-testid="map-phone"]`); got != "Teléfono" {
		t.Errorf("phone column = %q", got)
	}
	c.noHorizontalScroll()
	c.shot("map")
	c.click(`[data-testid="other-columns"] summary`)
	if got := c.text(`[data-testid="upload-why"]`); !strings.Contains(got, "don't keep your file") {
		t.Errorf("re-upload says %q", got)
	}
	c.noHorizontalScroll()
	screen(c, `[data-testid="other-columns"]`, "map-other-columns")
	c.click(`[data-testid="map-continue"]`)
	c.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="review-counts"]`)))
	if got := c.text(`[data-testid="count-recipients"]`); got != "3" {
		t.Errorf("recipients = %q", got)
	}
	c.noHorizontalScroll()
	c.shot("review")
	c.click(`[data-testid="review-continue"]`)
	c.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="message-form"]`)))
	c.waitLive()
	eval[bool](c, `(window.__sameDocument = true)`)
	c.do(chromedp.SendKeys(chromedp.CSS(`#f-text-1`), "Hola *{{nombre|amigo}}*, "))
	got := c.waitText(`[data-testid="preview-text"]`, 10*time.Second, func(s string) bool { return strings.HasPrefix(s, "Hola Ana,") })
	if !strings.HasPrefix(got, "Hola Ana,") {
		t.Errorf("preview = %q", got)
	}
	if bold := eval[string](c, `document.querySelector('[data-testid="preview-text"] strong').textContent`); bold != "Ana" {
		t.Errorf("bold = %q", bold)
	}
	c.click(`[data-testid="var-chip"]:nth-of-type(2)`)
	if got := c.waitText(`[data-testid="preview-text"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "Madrid") }); !strings.Contains(got, "Madrid") {
		t.Errorf("after the chip: %q", got)
	}
	c.click(`[data-testid="preview-next"]`)
	if got := c.waitText(`[data-testid="preview-text"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "<script>") }); !strings.Contains(got, "<script>alert(1)</script>") {
		t.Errorf("next row: %q", got)
	}
	if !eval[bool](c, `window.__sameDocument === true`) {
		t.Error("the page reloaded")
	}
	c.noHorizontalScroll()
	c.shot("message")

	// An image, saved with htmx as a multipart form: the form comes back
	// in place, and the preview shows the image above the caption.
	img := filepath.Join(t.TempDir(), "sale.png")
	if err := os.WriteFile(img, testPNG(t), 0o644); err != nil {
		t.Fatal(err)
	}
	c.do(chromedp.SetUploadFiles(chromedp.CSS(`#f-image`), []string{img}))
	c.click(`[data-testid="message-save"]`)
	c.waitText(`[data-testid="message-saved"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "Draft saved") })
	// The image loads from its route: the 4-pixel-wide PNG.
	c.do(chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="preview-image"]')?.naturalWidth === 4`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if !eval[bool](c, `window.__sameDocument === true`) {
		t.Error("saving the image reloaded the page")
	}
	c.noHorizontalScroll()
	c.shot("message-image")

	// A poll instead: the text fields give way, the preview shows it.
	c.click(`[data-testid="kind-poll"]`)
	c.do(chromedp.SendKeys(chromedp.CSS(`#f-question`), "Which day suits you?"),
		chromedp.SendKeys(chromedp.CSS(`#f-options`), "Monday\nFriday"))
	if got := c.waitText(`[data-testid="preview-text"]`, 10*time.Second, func(s string) bool { return s == "Which day suits you?" }); got != "Which day suits you?" {
		t.Errorf("poll preview = %q", got)
	}
	c.waitText(`[data-testid="preview-bubble"] .poll-options`, 10*time.Second, func(s string) bool { return strings.Contains(s, "Friday") })
	if eval[string](c, `getComputedStyle(document.querySelector('[data-testid="text-fields"]')).display`) != "none" {
		t.Error("the text fields show beside the poll")
	}
	c.noHorizontalScroll()
	c.shot("poll")
	c.click(`[data-testid="message-save"]`)
	if got := c.waitText(`[data-testid="message-saved"]`, 10*time.Second, func(s string) bool { return s != "" }); !strings.Contains(got, "Draft saved") {
		t.Errorf("after saving: %q", got)
	}
	if !eval[bool](c, `window.__sameDocument === true`) {
		t.Error("saving reloaded the page")
	}
	screen(c, `[data-testid="message-saved"]`, "saved")
	c.noHorizontalScroll()
}
