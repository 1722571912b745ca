package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	wahasim "github.com/myaibud/aibud/app/sim/waha"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// TestBrowserConnectNumber: sign up, add a number, the QR code appears and
// changes as the gateway rotates it, the phone scans it on the simulator's
// phone page, the app's page flips to connected without a reload, and a
// lead's message from the phone page reaches the store.
func TestBrowserConnectNumber(t *testing.T) {
	t.Parallel()
	for _, kind := range whatsapp.Providers {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			browserConnectNumber(t, kind)
		})
	}
}

// browserConnectNumber is the journey on one kind of gateway (WAHA or
// Evolution API, each through its stand-in's phone page).
func browserConnectNumber(t *testing.T, kind string) {
	a := newTestApp(t, withProviders(kind))
	c := newChrome(t, 1280, 900)
	email := uniqueEmail("connect-" + kind)
	c.do(
		chromedp.Navigate(a.URL+"/sign-up"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-up-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-business_name`), "Bloom Florist"),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-up-submit"]`)),
	)
	c.waitPath("/dashboard")
	c.click(`[data-testid="connect-first"]`)
	c.waitPath("/instances")
	c.do(
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="instance-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-name`), "Shop phone"),
		chromedp.Click(chromedp.CSS(`[data-testid="instance-create"]`)),
	)
	c.waitText(`[data-testid="instance-status"]`, 15*time.Second, func(s string) bool { return s == "Waiting for scan" })
	c.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="qr-image"]`)))
	c.waitLive()
	eval[bool](c, `(window.__noReload = true)`)
	first := eval[string](c, `document.querySelector('[data-testid="qr-image"]').src`)
	loaded := time.Now().Add(5 * time.Second)
	for !eval[bool](c, `(document.querySelector('[data-testid="qr-image"]')||{}).naturalWidth > 100`) {
		if time.Now().After(loaded) {
			c.shot("qr-not-loaded")
			t.Fatal("the QR image did not load")
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.shot("qr")

	u, _ := a.store.UserByEmail(context.Background(), email)
	insts, _ := a.store.Tenant(u.TenantID).Instances(context.Background())
	inst := insts[0]
	if inst.Provider != kind {
		t.Fatalf("the number went to %s", inst.Provider)
	}
	simURL := a.env.simURL
	if kind == whatsapp.ProviderEvolution {
		simURL = a.env.evoURL
	}
	phone := c.newTab(t)
	phone.do(chromedp.Navigate(simURL+"/phone/"+inst.SessionName), chromedp.WaitVisible(chromedp.CSS(`[data-testid="scan"]`)))

	// The gateway rotates the code; the page shows the new one by itself.
	if err := a.simFor(&inst).RotateQR(inst.SessionName); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for eval[string](c, `(document.querySelector('[data-testid="qr-image"]')||{}).src || ""`) == first {
		if time.Now().After(deadline) {
			c.shot("qr-not-rotated")
			t.Fatal("the QR code on the page did not change")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Scan on the phone page.
	phone.click(`[data-testid="scan"]`)
	c.waitText(`[data-testid="instance-status"]`, 15*time.Second, func(s string) bool { return s == "Connected" })
	c.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="instance-phone"]`)))
	if !eval[bool](c, `window.__noReload === true`) {
		t.Error("the page reloaded to show the connection")
	}
	c.shot("connected")

	// A lead writes from the phone page.
	phone.do(
		chromedp.Navigate(simURL+"/phone/"+inst.SessionName),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="lead-form"] textarea`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid="lead-form"] input[name="phone"]`), "+15557778888"),
		chromedp.SetValue(chromedp.CSS(`[data-testid="lead-form"] input[name="name"]`), "Lucia"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="lead-form"] textarea`), "Do you have roses?"),
		chromedp.Click(chromedp.CSS(`[data-testid="lead-form"] button.primary`)),
	)
	ts := a.store.Tenant(u.TenantID)
	waitFor(t, 10*time.Second, "the lead's message in the store", func() bool {
		ct, err := ts.ContactByPhone(context.Background(), "+15557778888")
		if err != nil {
			return false
		}
		ms, _ := ts.Messages(context.Background(), ct.ID, 5)
		return len(ms) > 0 && ms[0].Body == "Do you have roses?" && ms[0].Direction == db.DirectionIn
	})
	c.do(chromedp.Navigate(a.URL + "/dashboard"))
	c.waitText(`[data-testid="dash-activity"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "Do you have roses?") })
	c.shot("dashboard")

	// The AI answers; the answer reaches the lead on the phone page.
	var answer string
	waitFor(t, 20*time.Second, "the AI's answer at the gateway", func() bool {
		for _, m := range a.sentBy(&inst) {
			if m.to("15557778888") && m.Text != "" {
				answer = m.Text
				return true
			}
		}
		return false
	})
	phone.do(chromedp.Navigate(simURL + "/phone/" + inst.SessionName))
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(eval[string](phone, `document.body.innerText`), firstLine(answer)) {
		if time.Now().After(deadline) {
			phone.shot("answer-not-on-phone-" + kind)
			t.Fatalf("the phone page does not show the answer %q", answer)
		}
		time.Sleep(200 * time.Millisecond)
	}
	phone.shot("phone-answer-" + kind)
}

// firstLine is the first line of a text, for finding it on a page that
// wraps it.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(line); len(r) > 40 {
		line = string(r[:40])
	}
	return line
}

// TestBrowserAIReplyAndTakeover: a lead asks on the phone page, the AI answers
// from the knowledge the tenant entered, the reply reaches the phone and the
// conversation updates live, the credits drop by exactly the price without a
// reload; the tenant takes over by replying in the app, and the AI stays
// silent on the lead's next message.
func TestBrowserAIReplyAndTakeover(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Lumen Coffee")
	inst := a.connect(t, b, tenantID)
	ts := a.store.Tenant(tenantID)
	st, _ := ts.AISettings(context.Background())
	st.BurstWaitMS = 500
	if err := ts.SaveAISettings(context.Background(), st); err != nil {
		t.Fatal(err)
	}

	c := newChrome(t, 1280, 900)
	u, _ := ts.Users(context.Background())
	c.do(
		chromedp.Navigate(a.URL+"/sign-in"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), u[0].Email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in-submit"]`)),
	)
	c.waitPath("/dashboard")
	// The tenant enters business knowledge on the settings page.
	c.do(
		chromedp.Navigate(a.URL+"/settings"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="knowledge-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="knowledge-form"] #knowledge-new-title`), "Opening hours"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="knowledge-form"] #knowledge-new-body`), "Monday to Saturday 7:30-19:00, closed on Sundays."),
		chromedp.Click(chromedp.CSS(`[data-testid="knowledge-add"]`)),
	)
	c.waitText(`[data-testid="knowledge"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "Monday to Saturday") })
	c.shot("settings")

	c.do(chromedp.Navigate(a.URL + "/dashboard"))
	c.waitLive()
	before := c.waitText(`[data-testid="credit-balance"]`, 5*time.Second, func(s string) bool { return s != "" })
	eval[bool](c, `(window.__noReload = true)`)

	phone := c.newTab(t)
	phone.do(
		chromedp.Navigate(a.env.simURL+"/phone/"+inst.SessionName),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="lead-form"] textarea`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid="lead-form"] input[name="phone"]`), "+15559990001"),
		chromedp.SetValue(chromedp.CSS(`[data-testid="lead-form"] input[name="name"]`), "Tom"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="lead-form"] textarea`), "what are your opening hours?"),
		chromedp.Click(chromedp.CSS(`[data-testid="lead-form"] button.primary`)),
	)
	// The credits drop by exactly the price, live.
	want := fmt.Sprint(mustAtoi(t, before) - costAIReply - costMessage)
	c.waitText(`[data-testid="credit-balance"]`, 20*time.Second, func(s string) bool { return s == want })
	if !eval[bool](c, `window.__noReload === true`) {
		t.Error("the dashboard reloaded")
	}
	c.shot("dashboard-after-reply")

	// The answer, built from the knowledge, reached the phone.
	waitFor(t, 10*time.Second, "the AI's answer on the phone", func() bool {
		for _, m := range a.env.sim.Sent(inst.SessionName) {
			if strings.Contains(m.Text, "Monday to Saturday 7:30-19:00") && m.ChatID == "15559990001@c.us" {
				return true
			}
		}
		return false
	})
	phone.do(chromedp.Reload())
	phone.waitText(`[data-testid="conversation"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "Monday to Saturday") })
	phone.shot("phone")

	// The conversation page shows it, and updates live.
	ct, err := ts.ContactByPhone(context.Background(), "+15559990001")
	if err != nil {
		t.Fatal(err)
	}
	c.do(chromedp.Navigate(fmt.Sprintf("%s/contacts/%d", a.URL, ct.ID)))
	c.waitText(`[data-testid="messages"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "Monday to Saturday") })
	c.waitLive()
	eval[bool](c, `(window.__noReload = true)`)

	// The tenant takes over by replying in the app.
	c.do(
		chromedp.SendKeys(chromedp.CSS(`[data-testid="reply-body"]`), "Hi Tom, this is Ana. We also open on holidays!"),
		chromedp.Click(chromedp.CSS(`[data-testid="reply-send"]`)),
	)
	c.waitText(`[data-testid="chat-mode"]`, 10*time.Second, func(s string) bool { return s == "You answer" })
	waitFor(t, 10*time.Second, "the tenant's reply on the phone", func() bool {
		for _, m := range a.env.sim.Sent(inst.SessionName) {
			if strings.Contains(m.Text, "this is Ana") {
				return true
			}
		}
		return false
	})
	sentBefore := len(a.env.sim.Sent(inst.SessionName))

	// The lead writes again: the conversation updates live, the AI is silent.
	oat, err := a.env.sim.LeadSays(inst.SessionName, "15559990001", "Tom", "great, and do you have oat milk?")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the lead's second message in the store", func() bool {
		_, err := ts.MessageByWaID(context.Background(), inst.ID, whatsapp.WAHAMessageKey(oat))
		return err == nil
	})
	c.waitText(`[data-testid="messages"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "oat milk") })
	if !eval[bool](c, `window.__noReload === true`) {
		t.Error("the conversation page reloaded")
	}
	time.Sleep(2 * time.Second) // longer than the burst wait
	if n := len(a.env.sim.Sent(inst.SessionName)); n != sentBefore {
		t.Errorf("the AI answered after the tenant took over (%d messages sent, want %d)", n, sentBefore)
	}
	c.shot("conversation")

	// A photo and a voice note appear live, as what they are, with the
	// caption; on a phone too.
	for _, m := range []wahasim.Media{
		{Type: "image", Mimetype: "image/jpeg", Caption: "is this one in stock?"},
		{Type: "audio", Mimetype: "audio/ogg; codecs=opus"},
	} {
		if _, err := a.env.sim.LeadSendsMedia(inst.SessionName, "15559990001", "Tom", m); err != nil {
			t.Fatal(err)
		}
	}
	c.waitText(`[data-testid="messages"]`, 10*time.Second, func(s string) bool {
		return strings.Contains(s, "Photo") && strings.Contains(s, "is this one in stock?") && strings.Contains(s, "Voice message")
	})
	c.do(chromedp.EmulateViewport(390, 844), chromedp.Reload())
	c.waitText(`[data-testid="messages"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "Voice message") })
	c.noHorizontalScroll()
	c.shot("conversation-media-phone")
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(strings.ReplaceAll(s, ",", ""), &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
