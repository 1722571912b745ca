package waha_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/myaibud/aibud/app/sim/phone/phonetest"
	"github.com/myaibud/aibud/app/sim/samples"
)

// TestPhoneInBrowser uses the phone page as a person does, on a phone-sized
// window: the form goes out without a reload, the app's answer comes in by
// itself, and the page has no script errors and no sideways scrolling.
func TestPhoneInBrowser(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	s.working(t, "t8_i8", nil)

	ctx, problems := phonetest.Browser(t)
	js := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	waitText := func(sel, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		expr := fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent`, sel)
		for !strings.Contains(js(expr), want) {
			if time.Now().After(deadline) {
				t.Fatalf("%s never showed %q; it has %q", sel, want, js(expr))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/phone/t8_i8"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=lead-form]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=lead-form] input[name=phone]`), "+44 7911 123456"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=lead-form] input[name=name]`), "Olivia"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=lead-form] textarea`), "Do you deliver?"),
		chromedp.Click(chromedp.CSS(`[data-testid=lead-form] button.primary`)),
	); err != nil {
		t.Fatal(err)
	}
	waitText(`[data-testid=conversation]`, "Do you deliver?")
	if got := js(`location.search`); got != "?chat=447911123456" {
		t.Errorf("location %q after sending", got)
	}
	if got := js(`document.querySelector("[data-testid=lead-form] textarea").value`); got != "" {
		t.Errorf("the message stayed in the box: %q", got)
	}
	s.mustCall(t, http.MethodPost, "/api/sendText", map[string]any{"session": "t8_i8", "chatId": "447911123456@c.us", "text": "Yes, every day."}, http.StatusCreated)
	waitText(`[data-testid=conversation]`, "Yes, every day.")

	// A poll comes in; the lead votes, then withdraws the vote.
	s.mustCall(t, http.MethodPost, "/api/sendPoll", map[string]any{"session": "t8_i8", "chatId": "447911123456@c.us",
		"poll": map[string]any{"name": "When shall we deliver?", "multipleAnswers": false,
			"options": []string{"Tomorrow morning, between eight and twelve o'clock", "Tomorrow afternoon"}}}, http.StatusCreated)
	waitText(`[data-testid=conversation]`, "When shall we deliver?")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid=poll-option]:nth-of-type(2) input`)),
		chromedp.Click(chromedp.CSS(`[data-testid=poll-vote]`)),
	); err != nil {
		t.Fatal(err)
	}
	waitText(`[data-testid=poll-withdraw]`, "Withdraw vote")
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`[data-testid=poll-withdraw]`))); err != nil {
		t.Fatal(err)
	}
	waitText(`[data-testid=poll-vote]`, "Vote")
	var votes []string
	for _, e := range s.Events() {
		if e.Type == "poll.vote" {
			votes = append(votes, string(e.Body))
		}
	}
	if len(votes) != 2 || !strings.Contains(votes[0], `"selectedOptions":["Tomorrow afternoon"]`) || !strings.Contains(votes[1], `"selectedOptions":[]`) {
		t.Errorf("poll.vote events from the page: %q", votes)
	}
	if over := js(`String(document.documentElement.scrollWidth - window.innerWidth)`); over != "0" {
		t.Errorf("the page is %spx wider than a phone", over)
	}
	for _, p := range problems() {
		t.Errorf("script error: %s", p)
	}
}

// TestPhoneSendsSamplesInBrowser: the lead sends the sample voice note and
// the sample photo from the page; they show in the chat, the webhook's
// media.url serves the sample's bytes, and the app's answer comes in.
func TestPhoneSendsSamplesInBrowser(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "t9_i9", h)

	ctx, problems := phonetest.Browser(t)
	conversation := func(want string) {
		t.Helper()
		phonetest.WaitConversation(t, ctx, want)
	}
	send := func(media, text string) {
		t.Helper()
		actions := []chromedp.Action[chromedp.Void]{chromedp.SetValue(chromedp.CSS(`[data-testid=lead-media]`), media)}
		if text != "" {
			actions = append(actions, chromedp.SendKeys(chromedp.CSS(`[data-testid=lead-form] textarea`), text))
		}
		actions = append(actions, chromedp.Click(chromedp.CSS(`[data-testid=lead-form] button.primary`)))
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/phone/t9_i9"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=lead-form]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=lead-form] input[name=phone]`), "+44 7911 123457"),
	); err != nil {
		t.Fatal(err)
	}
	send("audio", "")
	conversation("🎤 Voice note 0:02")
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("[data-testid=lead-media]").value`)); err != nil || v != "" {
		t.Errorf("after sending, Send as is %q (%v), want Text again", v, err)
	}

	r := h.waitFor(t, "the voice note", func(r hookRequest) bool { return r.env.Event == "message" })
	var p struct {
		Media struct {
			URL      string `json:"url"`
			Mimetype string `json:"mimetype"`
		} `json:"media"`
	}
	if err := json.Unmarshal(r.env.Payload, &p); err != nil || p.Media.Mimetype != samples.VoiceNoteMime {
		t.Fatalf("voice note payload %s (%v)", r.env.Payload, err)
	}
	if a := s.mustCall(t, http.MethodGet, strings.TrimPrefix(p.Media.URL, s.url), nil, http.StatusOK); !bytes.Equal(a.body, samples.VoiceNote()) {
		t.Errorf("media.url serves %d bytes, not the sample voice note", len(a.body))
	}
	s.mustCall(t, http.MethodPost, "/api/sendText", map[string]any{"session": "t9_i9", "chatId": "447911123457@c.us", "text": "No, Monday to Saturday."}, http.StatusCreated)
	conversation("No, Monday to Saturday.")

	send("image", "Is this one in stock?")
	conversation(`data-testid="image" src="data:image/jpeg;base64,`)
	conversation("Is this one in stock?")
	for _, p := range problems() {
		t.Errorf("script error: %s", p)
	}
}
