package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/sim/gemini"
	"github.com/myaibud/aibud/app/sim/samples"
	wahasim "github.com/myaibud/aibud/app/sim/waha"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// sendsMedia is a lead's media message, stored.
func (s *aiShop) sendsMedia(t *testing.T, phone string, m wahasim.Media) *db.Message {
	t.Helper()
	id, err := s.a.simFor(s.inst).LeadSendsMedia(s.inst.SessionName, phone, "Lead", m)
	if err != nil {
		t.Fatal(err)
	}
	var msg *db.Message
	waitFor(t, 10*time.Second, "the media message", func() bool {
		msg, err = s.ts.MessageByWaID(context.Background(), s.inst.ID, whatsapp.WAHAMessageKey(id))
		return err == nil
	})
	return msg
}

// modelSaw reports whether a model request carried a file of mime and size
// inline.
func modelSaw(a *testApp, mime string, size int) bool {
	for _, r := range a.env.gemini.Requests() {
		if r.Method != gemini.MethodGenerateContent {
			continue
		}
		for _, in := range r.Inline() {
			if in.MIMEType == mime && in.Size == size {
				return true
			}
		}
	}
	return false
}

// TestAIReadsVoiceNotesPhotosAndPDFs: on both gateways, a lead's voice
// note, photo and PDF reach the model inline with the right type, the answer
// is sent, what the AI heard or saw shows under the player, thumbnail or
// link (served from our storage: no gateway address or key in the page),
// and the answer is charged the media price once.
func TestAIReadsVoiceNotesPhotosAndPDFs(t *testing.T) {
	t.Parallel()
	for _, kind := range whatsapp.Providers {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			a := newTestApp(t, withProviders(kind))
			s := newAIShop(t, a, nil)
			ctx := context.Background()
			if err := s.ts.SaveKnowledgeEntry(ctx, &db.KnowledgeEntry{Title: "Sunday deliveries", Body: "Yes, we deliver on Sundays from 10:00 to 14:00."}); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name      string
				media     wahasim.Media
				modelMime string
				shown     string // the element the conversation shows it with
				note      string // part of what the AI heard or saw
				audio     int    // the audio input tokens of its model call
			}{
				// The stand-in counts 32 tokens a second of audio, as Gemini
				// does: the sample voice note is two seconds.
				{"voice note", wahasim.Media{Type: "audio", Mimetype: samples.VoiceNoteMime, Data: samples.VoiceNote()}, "audio/ogg",
					"message-audio", samples.VoiceNoteTranscript, 64},
				{"photo", wahasim.Media{Type: "image", Mimetype: samples.PhotoMime, Caption: "how much is this?", Data: samples.Photo()},
					"image/jpeg", "message-image", "image/jpeg", 0},
				{"PDF", wahasim.Media{Type: "document", Mimetype: samples.PriceListMime, Filename: samples.PriceListName, Data: samples.PriceList()},
					"application/pdf", "message-file", "application/pdf", 0},
			} {
				t.Run(tc.name, func(t *testing.T) {
					lead := newLead()
					before := s.balance(t)
					m := s.sendsMedia(t, lead, tc.media)
					r := s.reply(t, m)
					if r.Status != db.ReplySent {
						t.Fatalf("reply %+v", r)
					}
					if !modelSaw(a, tc.modelMime, len(tc.media.Data)) {
						t.Errorf("no model request carried %s of %d bytes inline", tc.modelMime, len(tc.media.Data))
					}
					if got := s.sentTo(lead); len(got) != 1 {
						t.Errorf("the lead got %q, want one answer", got)
					}
					waitFor(t, 10*time.Second, "the charge", func() bool { return s.balance(t) == before-costAIMediaReply-costMessage })
					if e, err := s.ts.LedgerEntry(ctx, r.ChargeRef); err != nil || e.Amount != -(costAIMediaReply+costMessage) {
						t.Errorf("ledger entry %+v, %v", e, err)
					}
					runs, err := s.ts.AIRuns(ctx, 20)
					if err != nil {
						t.Fatal(err)
					}
					var run db.AIRun
					for _, x := range runs {
						if x.ReplyID != nil && *x.ReplyID == r.ID {
							run = x
						}
					}
					if run.AudioInputTokens != tc.audio || run.InputTokens <= run.AudioInputTokens {
						t.Errorf("model call recorded %d audio tokens of %d input, want %d of more", run.AudioInputTokens, run.InputTokens, tc.audio)
					}
					var stored *db.Message
					waitFor(t, 10*time.Second, "the transcript", func() bool {
						stored, _ = s.ts.Message(ctx, m.ID)
						return stored != nil && strings.Contains(stored.Transcript, tc.note)
					})
					// This package keeps files' bytes on disk (TestMain): the
					// row names them, and the page's file comes from there.
					if stored.MediaID == nil || countRows(t, "SELECT count(*) FROM media WHERE id = ? AND bytes IS NULL AND blob_key IS NOT NULL", *stored.MediaID) != 1 {
						t.Errorf("the file of message %d is not kept apart: media %v", m.ID, stored.MediaID)
					}
					page := s.b.get(fmt.Sprintf("/contacts/%d", m.ContactID))
					if testid(page, tc.shown).Length() != 1 {
						t.Errorf("the conversation does not show the %s (%s)", tc.name, tc.shown)
					}
					if got := testid(page, "message-transcript").Text(); !strings.Contains(got, tc.note) {
						t.Errorf("transcript shown %q, want %q", got, tc.note)
					}
					for _, secret := range []string{a.env.simURL, a.env.evoURL, simAPIKey, evoAPIKey, "/api/files/"} {
						if strings.Contains(page.body, secret) {
							t.Errorf("the page shows %q", secret)
						}
					}
					src, _ := testid(page, tc.shown).Attr("src")
					if src == "" {
						src, _ = testid(page, tc.shown).Attr("href")
					}
					if f := s.b.get(src); f.StatusCode != http.StatusOK || !bytes.Equal([]byte(f.body), tc.media.Data) {
						t.Errorf("the file at %q: %d, %d bytes", src, f.StatusCode, len(f.body))
					}
				})
			}
			// Contacts search finds words the AI heard.
			list := s.b.get("/contacts?q=" + url.QueryEscape("Sundays"))
			if testid(list, "contact-row").Length() == 0 {
				t.Error("searching the transcript's words finds no contact")
			}
		})
	}
}

// TestMediaTheAICannotReadGoesToAPerson: a file too large (never read
// whole), one that is not what it claims, one the gateway no longer has and
// one it is too slow to hand over: each hands the chat to the tenant with
// the reason, the lead gets the acknowledgement, and the reservation is
// refunded, so only the acknowledgement is paid. It does not run in
// parallel: its faults are on the shared stand-in's file route.
func TestMediaTheAICannotReadGoesToAPerson(t *testing.T) {
	a := newTestApp(t)
	s := newAIShop(t, a, nil)
	ctx := context.Background()
	big := append([]byte("OggS"), bytes.Repeat([]byte{0}, mediaLimit+100_000)...)
	html := []byte("<!DOCTYPE html><html><body><script>alert(1)</script></body></html>")
	for _, tc := range []struct {
		name  string
		media wahasim.Media
		fault func()
		why   string
	}{
		{"too large", wahasim.Media{Type: "audio", Mimetype: "audio/ogg; codecs=opus", Data: big}, nil, "larger than 256 KB"},
		{"not a photo", wahasim.Media{Type: "image", Mimetype: "image/jpeg", Data: html}, nil, "not a file type the AI reads"},
		{"gone", wahasim.Media{Type: "image", Mimetype: "image/jpeg", Data: samples.Photo()},
			func() { a.env.sim.FailNext("/api/files/{session}/{file}", http.StatusNotFound, 10) }, "could not be downloaded"},
		{"too slow", wahasim.Media{Type: "document", Mimetype: "application/pdf", Data: samples.PriceList()},
			func() { a.env.sim.Delay("/api/files/{session}/{file}", 4*time.Second) }, "did not hand the file over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				tc.fault()
				t.Cleanup(func() {
					a.env.sim.Delay("/api/files/{session}/{file}", 0)
					a.env.sim.FailNext("/api/files/{session}/{file}", 0, 0)
				})
			}
			lead := newLead()
			before := s.balance(t)
			m := s.sendsMedia(t, lead, tc.media)
			r := s.reply(t, m)
			if r.Status != db.ReplyRefunded || !strings.Contains(r.Error, tc.why) {
				t.Errorf("reply %s %q, want refunded because %q", r.Status, r.Error, tc.why)
			}
			c, err := s.ts.Contact(ctx, m.ContactID)
			if err != nil || c.AIMode != db.ModeHuman || !strings.Contains(c.HandoffReason, tc.why) {
				t.Errorf("chat %+v %v, want it handed over because %q", c, err, tc.why)
			}
			waitFor(t, 10*time.Second, "the acknowledgement", func() bool { return len(s.sentTo(lead)) == 1 })
			waitFor(t, 10*time.Second, "the refund", func() bool { return s.balance(t) == before-costMessage })
			if n := countRows(t, "SELECT count(*) FROM media WHERE tenant_id = ? AND contact_id = ?", s.ts.TenantID(), m.ContactID); n != 0 {
				t.Errorf("%d files stored", n)
			}
		})
	}
}

// TestUnansweredQuestionsBecomeKnowledge: a question the knowledge does not
// answer is recorded (asked twice, counted twice) and announced live once
// stored, listed on /questions (and in its live partial), answered there
// once (announced to the other tabs), and the next prompt contains the
// answer; a question dismissed is announced too.
func TestUnansweredQuestionsBecomeKnowledge(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	s := newAIShop(t, a, nil)
	ctx := context.Background()
	tab := s.b.openStream(t)
	var gaps []db.KnowledgeGap
	for i, text := range []string{"Do you sell gift cards?", "do you sell GIFT cards"} {
		m := s.says(t, newLead(), text)
		if !tab.until(t, live.QuestionsUpdated, 20*time.Second) {
			t.Fatalf("no %s after %q", live.QuestionsUpdated, text)
		}
		// Published after the commit: a page re-fetching on it finds the
		// question.
		gaps, _ = s.ts.OpenGaps(ctx, 10)
		if len(gaps) != 1 || gaps[0].TimesAsked != i+1 {
			t.Fatalf("when %s arrived, the open questions were %+v", live.QuestionsUpdated, gaps)
		}
		s.reply(t, m)
	}
	page := s.b.get("/questions")
	if got := testid(page, "question-text").Text(); !strings.Contains(got, "gift cards") {
		t.Fatalf("the questions page shows %q", got)
	}
	if got := testid(page, "question-times").Text(); !strings.Contains(got, "2 times") {
		t.Errorf("asked %q, want 2 times", got)
	}
	part := s.b.get("/questions", "HX-Request", "true")
	if got := part.doc.Find("body").Children().First(); got.AttrOr("id", "") != "question-list" || !strings.Contains(got.AttrOr("hx-trigger", ""), "sse:questions-updated") ||
		!strings.Contains(testid(part, "question-text").Text(), "gift cards") || testid(part, "question-answer-form").AttrOr("hx-preserve", "none") == "none" {
		t.Errorf("the live partial of /questions: %s", abbreviate(part.body))
	}
	if v := strings.Join(part.Header.Values("Vary"), ", "); !strings.Contains(v, "HX-Request") {
		t.Errorf("Vary = %q", v)
	}
	if dash := s.b.get("/dashboard"); !strings.Contains(testid(dash, "dash-top-questions").Text(), "gift cards") {
		t.Error("the dashboard's week does not list the question")
	}
	if week := s.b.get("/dashboard/week"); !strings.Contains(testid(week, "dash-top-questions").Text(), "gift cards") ||
		!strings.Contains(week.doc.Find("#dash-week").AttrOr("hx-trigger", ""), "sse:questions-updated") {
		t.Errorf("the dashboard's live week: %s", abbreviate(week.body))
	}
	otherTab := s.b.openStream(t)
	path := fmt.Sprintf("/questions/%d/answer", gaps[0].ID)
	r := s.b.post(path, url.Values{"_csrf": {s.b.csrf("/questions")}, "answer": {"  "}})
	if r.StatusCode != http.StatusUnprocessableEntity || testid(r, "error-answer").Length() != 1 {
		t.Errorf("an empty answer: %d", r.StatusCode)
	}
	r = s.b.post(path, url.Values{"_csrf": {s.b.csrf("/questions")}, "answer": {"Yes: gift cards of 25, 50 and 100 euros,\x00 in the shop.\xff"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("answer: %d %s", r.StatusCode, abbreviate(r.body))
	}
	if open, _ := s.ts.OpenGaps(ctx, 10); len(open) != 0 {
		t.Errorf("still open: %+v", open)
	}
	if !otherTab.until(t, live.QuestionsUpdated, 5*time.Second) {
		t.Errorf("another tab got no %s after the answer", live.QuestionsUpdated)
	}
	if got := testid(s.b.get("/questions", "HX-Request", "true"), "question").Length(); got != 0 {
		t.Errorf("the live partial still lists %d questions", got)
	}
	if ks, _ := s.ts.Knowledge(ctx); len(ks) == 0 || ks[len(ks)-1].Title != "Do you sell gift cards?" || strings.ContainsRune(ks[len(ks)-1].Body, 0) {
		t.Errorf("knowledge after the answer: %+v", ks)
	}
	// Another tenant cannot answer or dismiss it.
	stranger, _ := a.tenantOf(t, "Gap Stranger")
	if r := stranger.post(fmt.Sprintf("/questions/%d/dismiss", gaps[0].ID), url.Values{"_csrf": {stranger.csrf("/questions")}}); r.StatusCode != http.StatusNotFound {
		t.Errorf("another tenant's dismiss: %d", r.StatusCode)
	}
	m := s.says(t, newLead(), "Do you sell gift cards?")
	s.reply(t, m)
	found := false
	for _, req := range a.env.gemini.Requests() {
		if strings.Contains(req.SystemInstruction, "gift cards of 25, 50 and 100 euros") {
			found = true
		}
	}
	if !found {
		t.Error("no prompt after the answer contains it")
	}
	// A question dismissed is announced too.
	s.reply(t, s.says(t, newLead(), "Can I pay with bitcoin?"))
	open, _ := s.ts.OpenGaps(ctx, 10)
	if len(open) != 1 {
		t.Fatalf("open questions: %+v", open)
	}
	otherTab = s.b.openStream(t)
	wantRedirect(t, s.b.post(fmt.Sprintf("/questions/%d/dismiss", open[0].ID), url.Values{"_csrf": {s.b.csrf("/questions")}}), "/questions")
	if !otherTab.until(t, live.QuestionsUpdated, 5*time.Second) {
		t.Errorf("another tab got no %s after the dismissal", live.QuestionsUpdated)
	}
}

// TestBrowserQuestionsLive: a question the AI could not answer shows up
// without a reload on the dashboard's week and on /questions, and a new one
// arriving while an answer is being typed leaves the text and the focus in
// its box.
func TestBrowserQuestionsLive(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	s := newAIShop(t, a, nil)
	ctx := context.Background()
	c := newChrome(t, 1280, 900)
	u, _ := s.ts.Users(ctx)
	c.do(
		chromedp.Navigate(a.URL+"/sign-in"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), u[0].Email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in-submit"]`)),
	)
	c.waitPath("/dashboard")
	c.waitLive()
	if eval[bool](c, `document.querySelector('[data-testid="dash-week"]') !== null`) {
		t.Fatal("the week card shows before any question")
	}
	// Set on the page: a reload would lose it.
	eval[bool](c, `window.__sameDoc = true`)
	s.says(t, newLead(), "Do you sell gift cards?")
	c.waitText(`[data-testid="dash-top-questions"]`, 20*time.Second, func(s string) bool { return strings.Contains(s, "gift cards") })
	c.waitText(`[data-testid="dash-open-questions"]`, 5*time.Second, func(s string) bool { return strings.HasPrefix(s, "1 unanswered") })
	if !eval[bool](c, `window.__sameDoc === true`) {
		t.Error("the dashboard reloaded")
	}

	c.do(chromedp.Navigate(a.URL + "/questions"))
	c.waitLive()
	gaps, err := s.ts.OpenGaps(ctx, 10)
	if err != nil || len(gaps) != 1 {
		t.Fatalf("open questions: %+v, %v", gaps, err)
	}
	box := fmt.Sprintf("#answer-%d", gaps[0].ID)
	eval[bool](c, `window.__sameDoc = true`)
	c.do(chromedp.Focus(chromedp.CSS(box)), chromedp.SendKeys(chromedp.CSS(box), "Yes, of 25 and 50"))
	s.says(t, newLead(), "Can I pay with bitcoin?")
	c.waitText(`[data-testid="questions"]`, 20*time.Second, func(s string) bool { return strings.Contains(s, "bitcoin") })
	c.settle()
	if n := eval[int](c, `document.querySelectorAll('[data-testid="question"]').length`); n != 2 {
		t.Errorf("%d questions listed, want 2", n)
	}
	if !eval[bool](c, `window.__sameDoc === true`) {
		t.Error("the questions page reloaded")
	}
	if got := eval[string](c, fmt.Sprintf(`document.querySelector(%q).value`, box)); got != "Yes, of 25 and 50" {
		t.Errorf("the answer being typed reads %q after the update", got)
	}
	if got := c.active(); got != box {
		t.Errorf("focus moved to %s, want %s", got, box)
	}
	// Typing goes on where it was.
	c.do(chromedp.SendKeys(chromedp.CSS(box), " euros."))
	if got := eval[string](c, fmt.Sprintf(`document.querySelector(%q).value`, box)); got != "Yes, of 25 and 50 euros." {
		t.Errorf("the answer reads %q", got)
	}
	c.shot("questions-live")

	// An answer sent back with a problem keeps it through an update, and
	// focus stays in the box being typed in, not on the one in error.
	gift := gaps[0].ID
	gaps, _ = s.ts.OpenGaps(ctx, 10)
	var other int64
	for _, g := range gaps {
		if g.ID != gift {
			other = g.ID
		}
	}
	if len(gaps) != 2 || other == 0 {
		t.Fatalf("open questions: %+v", gaps)
	}
	c.do(chromedp.SetValue(chromedp.CSS(fmt.Sprintf("#answer-%d", other)), "   "))
	c.click(fmt.Sprintf(`#answer-form-%d [data-testid="question-answer"]`, other))
	c.waitPath(fmt.Sprintf("/questions/%d/answer", other))
	c.waitLive()
	c.do(chromedp.Focus(chromedp.CSS(box)), chromedp.SendKeys(chromedp.CSS(box), "Yes"))
	s.says(t, newLead(), "Do you repair bicycles?")
	c.waitText(`[data-testid="questions"]`, 20*time.Second, func(s string) bool { return strings.Contains(s, "bicycles") })
	c.settle()
	if got := c.active(); got != box {
		t.Errorf("with another answer in error, focus moved to %s, want %s", got, box)
	}
	if got := c.text(`[data-testid="error-answer"]`); got == "" {
		t.Error("the problem of the answer sent back is gone")
	}
	if got := eval[string](c, fmt.Sprintf(`document.querySelector(%q).value`, box)); got != "Yes" {
		t.Errorf("the answer being typed reads %q", got)
	}
}

// TestBrowserVoiceNote: the phone page sends the sample voice note; the
// conversation shows the player and what the AI heard, live, and the phone
// gets the answer.
func TestBrowserVoiceNote(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	s := newAIShop(t, a, nil)
	ctx := context.Background()
	if err := s.ts.SaveKnowledgeEntry(ctx, &db.KnowledgeEntry{Title: "Sunday deliveries", Body: "Yes, we deliver on Sundays from 10:00 to 14:00."}); err != nil {
		t.Fatal(err)
	}
	c := newChrome(t, 390, 844)
	u, _ := s.ts.Users(ctx)
	c.do(
		chromedp.Navigate(a.URL+"/sign-in"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), u[0].Email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in-submit"]`)),
	)
	c.waitPath("/dashboard")
	phone := c.newTab(t)
	phone.do(
		chromedp.Navigate(a.env.simURL+"/phone/"+s.inst.SessionName),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="lead-form"] textarea`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid="lead-form"] input[name="phone"]`), "+15553330001"),
		chromedp.SetValue(chromedp.CSS(`[data-testid="lead-form"] input[name="name"]`), "Vera"),
		chromedp.SetValue(chromedp.CSS(`[data-testid="lead-media"]`), "audio"),
		chromedp.Click(chromedp.CSS(`[data-testid="lead-form"] button.primary`)),
	)
	var contact *db.Contact
	waitFor(t, 10*time.Second, "the voice note in the store", func() bool {
		contact, _ = s.ts.ContactByPhone(ctx, "+15553330001")
		return contact != nil
	})
	c.do(chromedp.Navigate(fmt.Sprintf("%s/contacts/%d", a.URL, contact.ID)))
	c.waitText(`[data-testid="message-transcript"]`, 20*time.Second, func(s string) bool { return strings.Contains(s, samples.VoiceNoteTranscript) })
	c.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="message-audio"]`)))
	if !eval[bool](c, `document.documentElement.scrollWidth <= window.innerWidth`) {
		t.Error("the conversation scrolls sideways at 390 px")
	}
	c.shot("voice-note")
	deadline := time.Now().Add(15 * time.Second)
	for {
		phone.do(chromedp.Navigate(a.env.simURL + "/phone/" + s.inst.SessionName))
		if strings.Contains(eval[string](phone, `document.body.innerText`), "10:00") {
			break
		}
		if time.Now().After(deadline) {
			phone.shot("no-answer")
			t.Fatal("the phone did not get the answer about Sunday deliveries")
		}
		time.Sleep(300 * time.Millisecond)
	}
	phone.shot("voice-note-answer")
}
