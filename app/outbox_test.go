package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	wahasim "github.com/myaibud/aibud/app/sim/waha"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
	"github.com/myaibud/aibud/jobs"
)

// The tests of this file inject faults into the shared stand-ins, so they
// are not parallel (see ai_test.go).

// lookupRoute is WAHA's "did this message go out?" endpoint.
const lookupRoute = "/api/{session}/chats/{chatId}/messages/{messageId}"

// replyFromApp writes a manual reply to the lead's conversation through the
// page and returns the stored message.
func (s *aiShop) replyFromApp(t *testing.T, lead, text string) *db.Message {
	t.Helper()
	c, err := s.ts.ContactByPhone(context.Background(), "+"+lead)
	if err != nil {
		t.Fatal(err)
	}
	page := fmt.Sprintf("/contacts/%d", c.ID)
	tok := s.b.csrf(page)
	wantRedirect(t, s.b.post(page+"/reply", url.Values{"_csrf": {tok}, "body": {text}}), page)
	msgs, err := s.ts.Messages(context.Background(), c.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Sender == db.SenderApp && msgs[i].Body == whatsapp.CleanText(text) {
			return &msgs[i]
		}
	}
	t.Fatalf("the reply %q was not stored", text)
	return nil
}

// delivered returns the messages the gateway delivered to the lead (once per
// message id) and the send requests that carried them.
func (s *aiShop) delivered(lead string) (texts []string, requests int) {
	for _, m := range s.a.env.sim.Sent(s.inst.SessionName) {
		if m.ChatID == lead+"@c.us" {
			texts = append(texts, m.Text)
			requests += m.Requests
		}
	}
	return texts, requests
}

// settles waits for an outgoing message to leave the outbox and returns it.
func (s *aiShop) settles(t *testing.T, id int64, within time.Duration) *db.Message {
	t.Helper()
	var m *db.Message
	waitFor(t, within, "the message to be settled", func() bool {
		var err error
		m, err = s.ts.Message(context.Background(), id)
		return err == nil && m.DueAt == nil && m.Status != db.MessagePending && m.Status != db.MessageSending
	})
	return m
}

func (s *aiShop) refunds(t *testing.T) int {
	t.Helper()
	return countRows(t, "SELECT count(*) FROM credit_ledger WHERE tenant_id = ? AND kind = 'refund'", s.ts.TenantID())
}

func TestSendRetriesAGatewayErrorWithinSeconds(t *testing.T) {
	a := newTestApp(t)
	s := newAIShop(t, a, func(st *db.AISettings) { st.Enabled = false })
	lead := newLead()
	s.says(t, lead, "hello")
	before := s.balance(t)
	a.env.sim.FailNext("/api/sendText", http.StatusInternalServerError, 2)
	defer a.env.sim.FailNext("/api/sendText", 0, 0)
	m := s.replyFromApp(t, lead, "Hi! How can I help?")
	m = s.settles(t, m.ID, 10*time.Second)
	if m.Status != db.MessageSent && m.Status != db.MessageDelivered {
		t.Fatalf("message %+v, want sent", m)
	}
	texts, _ := s.delivered(lead)
	if len(texts) != 1 || texts[0] != "Hi! How can I help?" {
		t.Errorf("delivered %q, want the reply once", texts)
	}
	if got := s.balance(t); got != before-costMessage {
		t.Errorf("balance %d, want %d (charged once)", got, before-costMessage)
	}
	if m.Attempt < 2 {
		t.Errorf("sent at attempt %d, want at least 2 (after two failures)", m.Attempt)
	}
}

// TestSendWhenTheLookupCannotAnswer: the first send fails with a 500, so
// the outcome is unknown, and the "did it go out?" lookup never answers
// usefully. The message still reaches the lead exactly once.
func TestSendWhenTheLookupCannotAnswer(t *testing.T) {
	a := newTestApp(t)
	for _, status := range []int{http.StatusNotImplemented, http.StatusNotFound, http.StatusInternalServerError} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			s := newAIShop(t, a, func(st *db.AISettings) { st.Enabled = false })
			lead := newLead()
			s.says(t, lead, "hello")
			before := s.balance(t)
			a.env.sim.FailNext(lookupRoute, status, 1000)
			defer a.env.sim.FailNext(lookupRoute, 0, 0)
			a.env.sim.FailNext("/api/sendText", http.StatusInternalServerError, 1)
			defer a.env.sim.FailNext("/api/sendText", 0, 0)
			m := s.settles(t, s.replyFromApp(t, lead, "We open at nine.").ID, 10*time.Second)
			if m.Status == db.MessageFailed || m.Error != "" {
				t.Fatalf("message %+v, want sent", m)
			}
			if texts, _ := s.delivered(lead); len(texts) != 1 {
				t.Errorf("delivered %q, want once", texts)
			}
			if got := s.balance(t); got != before-costMessage || s.refunds(t) != 0 {
				t.Errorf("balance %d with %d refunds, want %d and none", got, s.refunds(t), before-costMessage)
			}
		})
	}
}

// TestSendThatHangsButGoesOut: the gateway sends the message, but its answer
// comes after our client gave up, no echo or ack arrives, and the lookup
// fails. The message goes out once, is never refunded and never shown as
// failed.
func TestSendThatHangsButGoesOut(t *testing.T) {
	a := newTestApp(t)
	s := newAIShop(t, a, func(st *db.AISettings) { st.Enabled = false })
	lead := newLead()
	s.says(t, lead, "hello")
	before := s.balance(t)
	for _, ev := range []string{"message.any", "message.ack"} {
		a.env.sim.Mute(s.inst.SessionName, ev, true)
	}
	a.env.sim.Delay("/api/sendText", 5*time.Second) // the client gives up after 3 s
	defer a.env.sim.Delay("/api/sendText", 0)
	a.env.sim.FailNext(lookupRoute, http.StatusInternalServerError, 1000)
	defer a.env.sim.FailNext(lookupRoute, 0, 0)

	m := s.replyFromApp(t, lead, "Your order is on its way.")
	// The gateway recovers once it has carried out the send it answered
	// too late.
	waitFor(t, 10*time.Second, "the first send", func() bool { texts, _ := s.delivered(lead); return len(texts) == 1 })
	a.env.sim.Delay("/api/sendText", 0)
	var statuses []string
	waitFor(t, 30*time.Second, "the message to be settled", func() bool {
		cur, err := s.ts.Message(context.Background(), m.ID)
		if err != nil {
			return false
		}
		if len(statuses) == 0 || statuses[len(statuses)-1] != cur.Status {
			statuses = append(statuses, cur.Status)
		}
		m = cur
		return cur.DueAt == nil
	})
	for _, st := range statuses {
		if st == db.MessageFailed {
			t.Fatalf("the message was shown as failed on the way: %v", statuses)
		}
	}
	if m.Status != db.MessageSent {
		t.Errorf("message %+v, want sent", m)
	}
	texts, requests := s.delivered(lead)
	if len(texts) != 1 {
		t.Errorf("delivered %q, want once", texts)
	}
	if requests < 2 {
		t.Errorf("%d send requests: the unanswered send was not resolved by a resend with the same id", requests)
	}
	if got := s.balance(t); got != before-costMessage || s.refunds(t) != 0 {
		t.Errorf("balance %d with %d refunds, want %d and none", got, s.refunds(t), before-costMessage)
	}
}

// TestAMessageMarkedFailedThatWentOutIsSentAfterAll: the gateway later says
// a message we gave up on did reach the customer. It becomes sent and is
// charged again, once, however often the gateway says so.
func TestAMessageMarkedFailedThatWentOutIsSentAfterAll(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	s := newAIShop(t, a, func(st *db.AISettings) { st.Enabled = false })
	ctx := context.Background()
	lead := newLead()
	s.says(t, lead, "hello")
	c, _ := s.ts.ContactByPhone(ctx, "+"+lead)
	key := "test:" + lead
	m, err := a.env.outbox.Queue(ctx, s.ts, whatsapp.Outgoing{Key: key, InstanceID: s.inst.ID, ContactID: c.ID,
		Sender: db.SenderApp, Body: "late", Cost: costMessage, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	m = s.settles(t, m.ID, 10*time.Second)
	waitFor(t, 10*time.Second, "the delivery ack", func() bool {
		cur, err := s.ts.Message(ctx, m.ID)
		return err == nil && cur.Status == db.MessageDelivered
	})
	before := s.balance(t)
	// Pretend our attempts had concluded it failed.
	if _, err := dbtest.DB(t).ExecContext(ctx, "UPDATE messages SET status = 'pending', due_at = NULL WHERE id = ?", m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ts.FailMessage(ctx, m.ID, "The WhatsApp server could not be reached."); err != nil {
		t.Fatal(err)
	}
	if got := s.balance(t); got != before+costMessage {
		t.Fatalf("balance %d after the refund, want %d", got, before+costMessage)
	}
	for range 3 {
		_, _ = s.ts.ApplyAck(ctx, s.inst.ID, m.WaID, whatsapp.AckServer)
	}
	_, _ = s.ts.ApplyAck(ctx, s.inst.ID, m.WaID, whatsapp.AckDevice)
	got, _ := s.ts.Message(ctx, m.ID)
	if got.Status != db.MessageDelivered || got.Error != "" {
		t.Errorf("message %+v, want delivered without an error", got)
	}
	if b := s.balance(t); b != before {
		t.Errorf("balance %d, want %d (charged again once)", b, before)
	}
}

func TestGeminiBusyThreeTimesThenAnswersWithinSeconds(t *testing.T) {
	a := newTestApp(t)
	s := newAIShop(t, a, nil)
	before := s.balance(t)
	a.env.gemini.FailNext(3, http.StatusServiceUnavailable)
	defer a.env.gemini.FailNext(0, 0)
	lead := newLead()
	m := s.says(t, lead, "what are your opening hours?")
	var r *db.AIReply
	waitFor(t, 15*time.Second, "the answer", func() bool {
		var err error
		r, err = s.ts.ReplyFor(context.Background(), m.ID)
		return err == nil && r.Status == db.ReplySent
	})
	if texts, _ := s.delivered(lead); len(texts) != 1 {
		t.Errorf("delivered %q, want one answer", texts)
	}
	if got := s.balance(t); got != before-costAIReply-costMessage {
		t.Errorf("balance %d, want %d (charged once)", got, before-costAIReply-costMessage)
	}
	runs, _ := s.ts.AIRuns(context.Background(), 10)
	if len(runs) != 4 || runs[0].Outcome != "ok" {
		t.Errorf("%d model calls (%+v), want three failures then an answer", len(runs), runs)
	}
}

// signedEvent posts a raw WAHA event body, signed, to the app.
func signedEvent(t *testing.T, a *testApp, body []byte) {
	t.Helper()
	if got := postWebhook(t, a.URL, body, sign(body)); got != http.StatusOK {
		t.Fatalf("webhook: status %d", got)
	}
}

// rawMessageEvent is a message event whose push name and body are spliced
// in as raw JSON string contents (so they may hold invalid UTF-8 bytes).
func rawMessageEvent(eventID, session, key, phone, rawName, rawBody, extra string) []byte {
	return []byte(`{"id":"` + eventID + `","timestamp":` + fmt.Sprint(time.Now().UnixMilli()) + `,"event":"message","session":"` + session + `",` +
		`"payload":{"id":"false_` + phone + `@c.us_` + key + `","timestamp":` + fmt.Sprint(time.Now().Unix()) + `,"from":"` + phone + `@c.us",` +
		`"fromMe":false,"source":"app","to":"15550000000@c.us","body":"` + rawBody + `","ack":2` + extra + `,` +
		`"_data":{"Info":{"PushName":"` + rawName + `"}}}}`)
}

// TestTextThatPostgreSQLRefusesIsStoredAndAnswered: NUL characters and
// invalid UTF-8 in a lead's name, message and caption.
func TestTextThatPostgreSQLRefusesIsStoredAndAnswered(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	s := newAIShop(t, a, nil)
	ctx := context.Background()
	lead := newLead()
	id := fmt.Sprintf("%d", time.Now().UnixNano())
	signedEvent(t, a, rawMessageEvent("evt_nul_"+id, s.inst.SessionName, "NUL"+id, lead,
		`Ana\u0000 `+"\xff"+`Lopez`, `what are your opening hours?\u0000 caf`+"\xe9\xff", ""))
	var m *db.Message
	waitFor(t, 10*time.Second, "the message", func() bool {
		var err error
		m, err = s.ts.MessageByWaID(ctx, s.inst.ID, "NUL"+id)
		return err == nil
	})
	if m.Body != "what are your opening hours? caf\uFFFD\uFFFD" {
		t.Errorf("body %q", m.Body)
	}
	c, _ := s.ts.Contact(ctx, m.ContactID)
	if c.Name != "Ana \uFFFDLopez" {
		t.Errorf("name %q", c.Name)
	}
	if r := s.reply(t, m); r.Status != db.ReplySent {
		t.Errorf("reply %+v, want sent", r)
	}
	// A photo with such a caption is stored too, and hands the chat over.
	signedEvent(t, a, rawMessageEvent("evt_nulimg_"+id, s.inst.SessionName, "NULIMG"+id, lead, `Ana`, `how much\u0000 is this`+"\xc3",
		`,"hasMedia":true,"media":{"url":"http://waha.invalid/f.jpg","mimetype":"image/jpeg","filename":null}`))
	waitFor(t, 10*time.Second, "the photo", func() bool {
		var err error
		m, err = s.ts.MessageByWaID(ctx, s.inst.ID, "NULIMG"+id)
		return err == nil && m.HandledAt != nil
	})
	if m.Type != "image" || m.Body != "how much is this\uFFFD" {
		t.Errorf("photo stored as %q %q", m.Type, m.Body)
	}
	// The tenant's own reply with such text is cleaned the same way.
	sent := s.replyFromApp(t, lead, "Hi Ana\x00, "+"caf\xe9 is 2\u20ac")
	if sent.Body != "Hi Ana, caf\uFFFD is 2\u20ac" {
		t.Errorf("reply stored as %q", sent.Body)
	}
}

// TestPoisonEventIsParkedAndNewerEventsProcess: an event PostgreSQL refuses
// on every attempt (here a trigger refuses its message) is parked as dead
// after MaxWebhookAttempts, shown to the owner, and never holds up the
// events that come after it.
func TestPoisonEventIsParkedAndNewerEventsProcess(t *testing.T) {
	a := newTestApp(t, withAdmins("owner-poison@example.com"))
	s := newAIShop(t, a, func(st *db.AISettings) { st.Enabled = false })
	ctx := context.Background()
	sqlDB := dbtest.DB(t)
	poison := fmt.Sprintf("poison-%d", time.Now().UnixNano())
	for _, q := range []string{
		`CREATE FUNCTION refuse_` + strings.ReplaceAll(poison, "-", "_") + `() RETURNS trigger LANGUAGE plpgsql AS $$
		 BEGIN IF NEW.body = '` + poison + `' THEN RAISE EXCEPTION 'refused by the test: %', NEW.body; END IF; RETURN NEW; END $$`,
		`CREATE TRIGGER ` + strings.ReplaceAll(poison, "-", "_") + ` BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_` + strings.ReplaceAll(poison, "-", "_") + `()`,
	} {
		if _, err := sqlDB.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = sqlDB.ExecContext(context.Background(), `DROP TRIGGER IF EXISTS `+strings.ReplaceAll(poison, "-", "_")+` ON messages`)
	})
	lead := newLead()
	if _, err := a.env.sim.LeadSays(s.inst.SessionName, lead, "Lead", poison); err != nil {
		t.Fatal(err)
	}
	var dead db.WebhookEvent
	waitFor(t, 30*time.Second, "the poison event to be parked", func() bool {
		err := dbtest.DB(t).QueryRowContext(ctx, `SELECT id, attempts, last_error FROM webhook_events
			WHERE tenant_id = ? AND dead_at IS NOT NULL AND event_type = 'message' AND due_at IS NULL`, s.ts.TenantID()).
			Scan(&dead.ID, &dead.Attempts, &dead.LastError)
		return err == nil
	})
	if dead.Attempts != db.MaxWebhookAttempts || !strings.Contains(dead.LastError, "refused by the test") {
		t.Errorf("parked event: %d attempts, error %q", dead.Attempts, dead.LastError)
	}
	// Newer events from the same lead go through.
	later := s.says(t, lead, "hello again")
	if later.Body != "hello again" {
		t.Errorf("later message %+v", later)
	}
	owner := a.newBrowser(t)
	wantRedirect(t, owner.signUp("Owner", "owner-poison@example.com", "password123"), "/dashboard")
	r := owner.get("/admin/failures")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(testid(r, "dead-events").Text(), "refused by the test") {
		t.Errorf("the owner's console does not show the parked event:\n%s", abbreviate(testid(r, "dead-events").Text()))
	}
}

// TestMediaFromALeadHandsTheChatOver: a video and a Word document, which
// the AI does not read, are stored and shown, the chat goes to the tenant
// with the reason, and the lead is told a person will answer.
func TestMediaFromALeadHandsTheChatOver(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	s := newAIShop(t, a, nil)
	ctx := context.Background()
	ack := db.DefaultAISettings(0, "").HandoffReply
	for _, tt := range []struct {
		media  wahasim.Media
		reason string
		label  string
	}{
		{wahasim.Media{Type: "video", Mimetype: "video/mp4", Caption: "how much is this?"}, "The customer sent a video", "Video"},
		{wahasim.Media{Type: "document", Mimetype: "application/msword"}, "The customer sent a document", "Document"},
	} {
		t.Run(tt.media.Type, func(t *testing.T) {
			lead := newLead()
			id, err := a.env.sim.LeadSendsMedia(s.inst.SessionName, lead, "Lead", tt.media)
			if err != nil {
				t.Fatal(err)
			}
			var m *db.Message
			waitFor(t, 10*time.Second, "the media message", func() bool {
				m, err = s.ts.MessageByWaID(ctx, s.inst.ID, whatsapp.WAHAMessageKey(id))
				return err == nil
			})
			if m.Type != tt.media.Type || m.Body != tt.media.Caption || m.MediaType != tt.media.Mimetype {
				t.Errorf("stored %q %q %q", m.Type, m.Body, m.MediaType)
			}
			waitFor(t, 10*time.Second, "the acknowledgement", func() bool { texts, _ := s.delivered(lead); return len(texts) == 1 })
			if texts, _ := s.delivered(lead); texts[0] != ack {
				t.Errorf("the lead got %q, want the handoff acknowledgement", texts)
			}
			c, _ := s.ts.Contact(ctx, m.ContactID)
			if c.AIMode != db.ModeHuman || !strings.HasPrefix(c.HandoffReason, tt.reason) {
				t.Errorf("chat %q (%q), want it handed over: %q", c.AIMode, c.HandoffReason, tt.reason)
			}
			r := s.b.get(fmt.Sprintf("/contacts/%d", c.ID))
			if got := testid(r, "message-media").Text(); !strings.Contains(got, tt.label) {
				t.Errorf("the conversation shows %q, want %q", got, tt.label)
			}
			if tt.media.Caption != "" && !strings.Contains(testid(r, "messages").Text(), tt.media.Caption) {
				t.Error("the caption is not shown")
			}
			if strings.Contains(r.body, "waha.invalid") {
				t.Error("the page shows the gateway's media address")
			}
			// No AI answer, and no second acknowledgement for more media.
			if _, err := a.env.sim.LeadSendsMedia(s.inst.SessionName, lead, "Lead", tt.media); err != nil {
				t.Fatal(err)
			}
			s.staysSilent(t, m, lead, 1)
		})
	}
}

// TestGiveUpIsVisibleToTheOwner: a task that fails for good is logged,
// counted in /metrics and listed on the owner's failures page.
func TestGiveUpIsVisibleToTheOwner(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, withAdmins("owner-giveup@example.com"))
	e := a.env
	id := fmt.Sprintf("broken-%d", time.Now().UnixNano())
	if _, err := e.queue.Enqueue(asynq.NewTask(jobs.TypeAIReply, []byte(`{"tenant_id": "not a number"`), asynq.TaskID(id), asynq.Queue(jobs.QueueCritical))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the give-up to be recorded", func() bool {
		return countRows(t, "SELECT count(*) FROM job_failures WHERE task_id = ?", id) == 1
	})
	rec := httptest.NewRecorder()
	e.metrics.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `aibud_jobs_total{outcome="giveup",type="ai:reply"}`) {
		t.Error("the give-up is not counted in /metrics")
	}
	owner := a.newBrowser(t)
	wantRedirect(t, owner.signUp("Owner", "owner-giveup@example.com", "password123"), "/dashboard")
	r := owner.get("/admin/failures")
	if got := testid(r, "job-failures").Text(); !strings.Contains(got, id) || !strings.Contains(got, "decode ai:reply payload") {
		t.Errorf("the failures page does not list the give-up:\n%s", abbreviate(got))
	}
	// Tenants do not see the owner's console.
	b, _ := a.tenantOf(t, "Not an owner")
	if r := b.get("/admin/failures"); r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusForbidden {
		t.Errorf("a tenant got %d for the failures page", r.StatusCode)
	}
}
