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

// TestCampaignWizardBrowser walks the wizard in Chromium at desktop and
// phone width: the CSV goes in through the file input, then columns,
// clean-up and message, where typing updates the preview without a reload;
// then the poll is launched from the number, the bar moves to done without
// a reload, a vote from the simulator phone moves the tally, and the
// results download.
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
			tenantID := optOut(t, a, email)
			inst := a.connect(t, b, tenantID)
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
			launchAndWatch(t, a, c, inst)
		})
	}
}

// optOut puts the signed-up tenant in Spain with the leads' opted-out
// contact.
func optOut(t *testing.T, a *testApp, email string) int64 {
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
	return u.TenantID
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
	// in place, and the preview shows the image above the caption. Save is
	// pressed while the preview the new file set off is on its way, and the
	// draft is saved. It is pressed from the page's script: a click by
	// position could miss it when the preview's image pushes it down (CI
	// once waited 10 s for a save never sent).
	img := filepath.Join(t.TempDir(), "sale.png")
	if err := os.WriteFile(img, testPNG(t), 0o644); err != nil {
		t.Fatal(err)
	}
	eval[bool](c, `(function () {
		var form = document.querySelector('[data-testid="message-form"]');
		form.addEventListener('htmx:beforeSend', function once(e) {
			if (e.detail.elt !== form) return;
			form.removeEventListener('htmx:beforeSend', once);
			window.__saveDuringPreview = true;
			setTimeout(function () { document.querySelector('[data-testid="message-save"]').click(); }, 0);
		});
		return true;
	})()`)
	c.do(chromedp.SetUploadFiles(chromedp.CSS(`#f-image`), []string{img}))
	c.waitText(`[data-testid="message-saved"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "Draft saved") })
	if !eval[bool](c, `window.__saveDuringPreview === true`) {
		t.Error("Save was not pressed during a preview")
	}
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

// launchAndWatch goes on from the saved poll: the sending step at a fast
// pace, the launch, the campaign page following the sends to done, a vote
// from the simulator phone moving the tally, and the results download.
func launchAndWatch(t *testing.T, a *testApp, c *chrome, inst *db.Instance) {
	c.click(`[data-testid="message-next"]`)
	c.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="send-form"]`)))
	if got := c.text(`[data-testid="estimate-cost"]`); !strings.Contains(got, "3 credits") {
		t.Errorf("cost = %q", got)
	}
	c.do(chromedp.SetValue(chromedp.CSS(`#f-per_minute`), ""), chromedp.SendKeys(chromedp.CSS(`#f-per_minute`), "60"),
		chromedp.SetValue(chromedp.CSS(`#f-pause_every`), ""), chromedp.SendKeys(chromedp.CSS(`#f-pause_every`), "0"))
	if !eval[bool](c, `document.querySelector('[data-testid="send-quiet"]').checked`) {
		t.Error("quiet hours are not on by default")
	}
	c.click(`[data-testid="send-quiet"]`) // off: the test runs at any hour
	// "today at 21:24" (or, a minute before midnight, "tomorrow, 00:00").
	c.waitText(`[data-testid="estimate-finish"]`, 10*time.Second, func(s string) bool { return finishesSoon(s) })
	c.noHorizontalScroll()
	c.shot("send")
	c.click(`[data-testid="campaign-launch"]`)
	c.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="campaign-progress"]`)))
	if !regexp.MustCompile(`^/campaigns/\d+$`).MatchString(c.location()) {
		t.Fatalf("launched to %s", c.location())
	}
	c.waitLive()
	eval[bool](c, `(window.__sameDocument = true)`)
	c.shot("campaign-sending")
	done := c.waitText(`[data-testid="campaign-done"]`, 30*time.Second, func(s string) bool { return strings.HasPrefix(s, "3 of 3") })
	if !strings.HasPrefix(done, "3 of 3") {
		t.Fatalf("progress = %q", done)
	}
	c.waitText(`[data-testid="campaign-state"]`, 10*time.Second, func(s string) bool { return s == "Done" })

	// A lead votes on the simulator phone: the tally moves live.
	sent := a.env.sim.Sent(inst.SessionName)
	if len(sent) != 3 {
		t.Fatalf("the gateway got %d messages", len(sent))
	}
	if _, err := a.env.sim.LeadVotes(inst.SessionName, sent[0].ChatID, sent[0].ID, "Friday"); err != nil {
		t.Fatal(err)
	}
	got := c.waitText(`[data-testid="campaign-tally"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "1 of 3 answered") })
	if !strings.Contains(got, "1 of 3 answered") {
		t.Errorf("tally = %q", got)
	}
	if leading := c.text(`[data-testid="tally-option"].leading [data-testid="tally-name"]`); leading != "Friday" {
		t.Errorf("leading = %q", leading)
	}
	if !eval[bool](c, `window.__sameDocument === true`) {
		t.Error("the campaign page reloaded")
	}
	c.noHorizontalScroll()
	c.shot("campaign-done")

	// The results download, as the link gets it.
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	csv, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch(document.querySelector('[data-testid="campaign-results"]').href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(csv), "\n"); len(lines) != 4 || !strings.Contains(csv, "Friday") {
		t.Errorf("results = %q", csv)
	}
}
