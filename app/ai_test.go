package app_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/jobs"
)

var leadSeq atomic.Int64

// newLead returns a phone number no other test writes from.
func newLead() string {
	return fmt.Sprintf("1555%07d", time.Now().UnixNano()%1e7+leadSeq.Add(1))
}

// aiShop is a tenant with a connected number and its settings tuned for a
// test.
type aiShop struct {
	a    *testApp
	b    *browser
	ts   *db.TenantStore
	inst *db.Instance
}

func newAIShop(t *testing.T, a *testApp, tune func(*db.AISettings)) *aiShop {
	t.Helper()
	b, tenantID := a.tenantOf(t, "AI Shop")
	s := &aiShop{a: a, b: b, ts: a.store.Tenant(tenantID)}
	s.inst = a.connect(t, b, tenantID)
	st, err := s.ts.AISettings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st.BurstWaitMS = 0
	if tune != nil {
		tune(st)
	}
	if err := s.ts.SaveAISettings(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if err := s.ts.SaveKnowledgeEntry(context.Background(), &db.KnowledgeEntry{Title: "Opening hours", Body: "Monday to Friday 8:00-18:00."}); err != nil {
		t.Fatal(err)
	}
	return s
}

// says sends a lead's message and waits until it is stored.
func (s *aiShop) says(t *testing.T, phone, text string) *db.Message {
	t.Helper()
	id, err := s.a.simFor(s.inst).LeadSays(s.inst.SessionName, phone, "Lead", text)
	if err != nil {
		t.Fatal(err)
	}
	var m *db.Message
	waitFor(t, 10*time.Second, "the message "+text, func() bool {
		var err error
		m, err = s.ts.MessageByWaID(context.Background(), s.inst.ID, whatsapp.WAHAMessageKey(id))
		return err == nil
	})
	return m
}

// sentTo returns what the app sent to phone through the gateway.
func (s *aiShop) sentTo(phone string) []string {
	var out []string
	for _, m := range s.a.sentBy(s.inst) {
		if m.to(phone) {
			out = append(out, m.Text)
		}
	}
	return out
}

func (s *aiShop) balance(t *testing.T) int64 {
	t.Helper()
	b, err := s.ts.CreditBalance(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reply waits for the AI's reply to a message to end and returns it.
func (s *aiShop) reply(t *testing.T, m *db.Message) *db.AIReply {
	t.Helper()
	var r *db.AIReply
	waitFor(t, 20*time.Second, "the AI reply to end", func() bool {
		var err error
		r, err = s.ts.ReplyFor(context.Background(), m.ID)
		return err == nil && (r.Status == db.ReplySent || r.Status == db.ReplyRefunded || r.Status == db.ReplyFailed)
	})
	return r
}

// staysSilent checks that no reply is started for m within the burst wait
// and the job's run.
func (s *aiShop) staysSilent(t *testing.T, m *db.Message, phone string, sentBefore int) {
	t.Helper()
	time.Sleep(1500 * time.Millisecond)
	if r, err := s.ts.ReplyFor(context.Background(), m.ID); err == nil {
		t.Errorf("the AI started a reply: %+v", r)
	}
	if n := len(s.sentTo(phone)); n != sentBefore {
		t.Errorf("%d messages sent to the lead, want %d", n, sentBefore)
	}
}

func TestAIReplyChargesExactlyAndRecordsTheCall(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	s := newAIShop(t, a, func(st *db.AISettings) { st.Persona = "You are Lumi from the AI Shop." })
	lead := newLead()
	s.says(t, lead, "hello there")
	waitFor(t, 20*time.Second, "the first answer", func() bool { return len(s.sentTo(lead)) == 1 })
	before := s.balance(t)
	m := s.says(t, lead, "what are your opening hours?")
	r := s.reply(t, m)
	if r.Status != db.ReplySent || !strings.Contains(r.ReplyText, "Monday to Friday 8:00-18:00") {
		t.Fatalf("reply = %+v", r)
	}
	if got := s.balance(t); got != before-costAIReply-costMessage {
		t.Errorf("balance %d, want %d", got, before-costAIReply-costMessage)
	}
	e, err := s.ts.LedgerEntry(context.Background(), r.ChargeRef)
	if err != nil || e.Amount != -(costAIReply+costMessage) {
		t.Errorf("ledger entry = %+v, %v", e, err)
	}
	// The request carried the persona, the knowledge and the recent turns.
	var found bool
	for _, req := range a.env.gemini.Requests() {
		if !strings.Contains(req.SystemInstruction, "You are Lumi from the AI Shop.") {
			continue
		}
		last := req.Contents[len(req.Contents)-1]
		if last.Text == "what are your opening hours?" && len(req.Contents) == 3 && req.Contents[0].Text == "hello there" &&
			strings.Contains(req.SystemInstruction, "## Opening hours") {
			found = true
		}
	}
	if !found {
		t.Error("no model request carried the persona, the knowledge and the conversation")
	}
	runs, _ := s.ts.AIRuns(context.Background(), 10)
	if len(runs) != 2 || runs[0].InputTokens <= 0 || runs[0].OutputTokens <= 0 || runs[0].Outcome != "ok" {
		t.Errorf("runs = %+v", runs)
	}
	out, _ := s.ts.Message(context.Background(), *r.OutMessageID)
	if out.Sender != db.SenderAI || out.Body != r.ReplyText {
		t.Errorf("stored answer = %+v", out)
	}
	msgs, _ := s.ts.Messages(context.Background(), m.ContactID, 10)
	if len(msgs) != 4 {
		t.Errorf("%d messages in the conversation, want 4 (no duplicate echo)", len(msgs))
	}
}

// The fault-injection tests below are not parallel: the stand-ins are shared,
// and their faults would hit other tests' calls.

func TestAIGeminiFailsThenSucceedsChargesOnce(t *testing.T) {
	a := newTestApp(t)
	s := newAIShop(t, a, nil)
	before := s.balance(t)
	a.env.gemini.FailNext(1, 503)
	m := s.says(t, newLead(), "what are your opening hours?")
	r := s.reply(t, m)
	if r.Status != db.ReplySent {
		t.Fatalf("reply = %+v", r)
	}
	if got := s.balance(t); got != before-costAIReply-costMessage {
		t.Errorf("balance %d, want %d (charged once)", got, before-costAIReply-costMessage)
	}
	runs, _ := s.ts.AIRuns(context.Background(), 10)
	if len(runs) != 2 || runs[0].Outcome != "ok" || runs[1].Outcome != "error" {
		t.Errorf("runs = %+v, want an error then an ok", runs)
	}
}

func TestAIFinalFailureRefunds(t *testing.T) {
	a := newTestApp(t)
	s := newAIShop(t, a, nil)
	before := s.balance(t)
	lead := newLead()
	a.env.gemini.FailNext(100, 500)
	defer a.env.gemini.FailNext(0, 500)
	m := s.says(t, lead, "hello?")
	r := s.reply(t, m)
	a.env.gemini.FailNext(0, 500)
	if r.Status != db.ReplyRefunded {
		t.Fatalf("reply = %+v, want refunded", r)
	}
	if got := s.balance(t); got != before {
		t.Errorf("balance %d, want %d (refunded)", got, before)
	}
	if n := len(s.sentTo(lead)); n != 0 {
		t.Errorf("%d messages sent", n)
	}
	msgs, _ := s.ts.Messages(context.Background(), m.ContactID, 10)
	last := msgs[len(msgs)-1]
	if last.Sender != db.SenderSystem || !strings.Contains(last.Body, "could not answer: the AI service had a problem") {
		t.Errorf("the tenant is not told why: %+v", last)
	}
	// In plain words: the provider's raw error stays in the log and the
	// owner's cost view.
	for _, raw := range []string{"gemini", "Error 500", "INTERNAL", "simulated"} {
		if strings.Contains(last.Body, raw) {
			t.Errorf("the conversation shows the raw error (%q): %q", raw, last.Body)
		}
	}
	if runs, _ := s.ts.AIRuns(context.Background(), 1); len(runs) != 1 || !strings.Contains(runs[0].Error, "Error 500") {
		t.Errorf("the owner's detail is lost: %+v", runs)
	}
}

func TestAISendTimeoutDoesNotSendTwice(t *testing.T) {
	a := newTestApp(t)
	s := newAIShop(t, a, nil)
	before := s.balance(t)
	lead := newLead()
	// The gateway sends, but its answer comes after our client gave up.
	a.env.sim.Delay("/api/sendText", 5*time.Second)
	defer a.env.sim.Delay("/api/sendText", 0)
	m := s.says(t, lead, "what are your opening hours?")
	r := s.reply(t, m)
	a.env.sim.Delay("/api/sendText", 0)
	if r.Status != db.ReplySent {
		t.Fatalf("reply = %+v", r)
	}
	var requests int
	for _, sm := range a.env.sim.Sent(s.inst.SessionName) {
		if sm.ChatID == lead+"@c.us" {
			requests += sm.Requests
		}
	}
	if len(s.sentTo(lead)) != 1 || requests != 1 {
		t.Errorf("sent %d messages in %d requests, want 1 in 1", len(s.sentTo(lead)), requests)
	}
	if got := s.balance(t); got != before-costAIReply-costMessage {
		t.Errorf("balance %d, want %d", got, before-costAIReply-costMessage)
	}
}

func TestAIAtZeroBalanceSendsNothing(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	s := newAIShop(t, a, nil)
	// Leave one credit: the reply costs two.
	if _, err := s.ts.Charge(context.Background(), s.balance(t)-1, "test", "drain"); err != nil {
		t.Fatal(err)
	}
	lead := newLead()
	m := s.says(t, lead, "hi, are you open?")
	waitFor(t, 10*time.Second, "the chat to go to the tenant", func() bool {
		c, _ := s.ts.Contact(context.Background(), m.ContactID)
		return c.AIMode == db.ModeHuman
	})
	if n := len(s.sentTo(lead)); n != 0 {
		t.Errorf("%d messages sent without credits", n)
	}
	if got := s.balance(t); got != 1 {
		t.Errorf("balance %d, want 1", got)
	}
	r := s.b.get(fmt.Sprintf("/contacts/%d", m.ContactID))
	if !strings.Contains(testid(r, "messages").Text(), "not enough credits") {
		t.Errorf("the tenant is not told: %s", testid(r, "messages").Text())
	}
}

func TestAISilenceRules(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()

	t.Run("opted out", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, nil)
		lead := newLead()
		c, _, _ := s.ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+" + lead})
		if _, err := s.ts.SetOptOut(ctx, c.ID, true); err != nil {
			t.Fatal(err)
		}
		s.staysSilent(t, s.says(t, lead, "hello"), lead, 0)
	})
	t.Run("human mode", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, nil)
		lead := newLead()
		c, _, _ := s.ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+" + lead})
		until := time.Now().Add(time.Hour)
		if _, err := s.ts.SetChatMode(ctx, c.ID, db.ModeHuman, &until, "test"); err != nil {
			t.Fatal(err)
		}
		s.staysSilent(t, s.says(t, lead, "hello"), lead, 0)
	})
	t.Run("AI off for the chat", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, nil)
		lead := newLead()
		c, _, _ := s.ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+" + lead})
		if _, err := s.ts.SetChatMode(ctx, c.ID, db.ModeOff, nil, ""); err != nil {
			t.Fatal(err)
		}
		s.staysSilent(t, s.says(t, lead, "hello"), lead, 0)
	})
	t.Run("AI switched off", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, func(st *db.AISettings) { st.Enabled = false })
		lead := newLead()
		s.staysSilent(t, s.says(t, lead, "hello"), lead, 0)
	})
	t.Run("group", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, nil)
		m := s.postChat(t, "120363025555555555@g.us", "15550001234@c.us", "hi group")
		s.staysSilent(t, m, "120363025555555555@g", 0)
		if m.ChatKind != db.ContactGroup {
			t.Errorf("group message stored as %s", m.ChatKind)
		}
	})
	t.Run("group when enabled", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, func(st *db.AISettings) { st.AnswerGroups = true })
		m := s.postChat(t, "120363026666666666@g.us", "15550001235@c.us", "what are your opening hours?")
		if r := s.reply(t, m); r.Status != db.ReplySent {
			t.Errorf("group reply = %+v", r)
		}
	})
	t.Run("status broadcast", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, func(st *db.AISettings) { st.AnswerGroups = true })
		m := s.postChat(t, "status@broadcast", "15550001236@c.us", "my new status")
		s.staysSilent(t, m, "status@broadcast", 0)
		if m.ChatKind != db.ContactStatus {
			t.Errorf("status stored as %s", m.ChatKind)
		}
	})
	t.Run("message from the tenant's phone", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, nil)
		lead := newLead()
		if _, err := s.a.env.sim.OwnerSaysFromPhone(s.inst.SessionName, lead, "hi, it's the owner"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the owner's message", func() bool {
			c, err := s.ts.ContactByPhone(ctx, "+"+lead)
			if err != nil {
				return false
			}
			ms, _ := s.ts.Messages(ctx, c.ID, 5)
			return len(ms) == 1 && ms[0].Sender == db.SenderPhone
		})
		time.Sleep(time.Second)
		if n := len(s.sentTo(lead)); n != 0 {
			t.Errorf("the app sent %d messages in answer to the owner's own", n)
		}
	})
	t.Run("hourly limit", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, func(st *db.AISettings) { st.HourlyLimit = 2 })
		lead := newLead()
		for i := range 2 {
			s.reply(t, s.says(t, lead, fmt.Sprintf("question %d", i)))
		}
		s.staysSilent(t, s.says(t, lead, "question 3"), lead, 2)
	})
	t.Run("outside business hours", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, func(st *db.AISettings) {
			st.HoursEnabled = true
			st.Hours = make([]*db.DayHours, 7) // closed every day
			st.AfterHoursReply = "We are closed; we answer tomorrow."
		})
		lead := newLead()
		m1 := s.says(t, lead, "are you there?")
		waitFor(t, 10*time.Second, "the after-hours reply", func() bool { return len(s.sentTo(lead)) == 1 })
		if got := s.sentTo(lead)[0]; got != "We are closed; we answer tomorrow." {
			t.Errorf("after-hours reply = %q", got)
		}
		if _, err := s.ts.ReplyFor(ctx, m1.ID); err == nil {
			t.Error("the AI answered outside business hours")
		}
		// The conversation says an automatic reply went out, not the AI or the owner.
		ms, err := s.ts.Messages(ctx, m1.ContactID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(ms, func(m db.Message) bool { return m.Direction == db.DirectionOut }); i < 0 || ms[i].Sender != db.SenderAuto {
			t.Errorf("the after-hours reply is not stored as an automatic reply: %+v", ms)
		}
		s.staysSilent(t, s.says(t, lead, "hello??"), lead, 1) // once per closed period
	})
}

// postChat posts a signed incoming event of another kind of chat (groups,
// status) for the shop's session and waits until it is stored.
func (s *aiShop) postChat(t *testing.T, chatID, participant, text string) *db.Message {
	t.Helper()
	msgID := fmt.Sprintf("GRP%d", time.Now().UnixNano())
	body := []byte(fmt.Sprintf(`{"id":"evt_%s","timestamp":%d,"event":"message","session":%q,"payload":{"id":"false_%s_%s_%s","timestamp":%d,`+
		`"from":%q,"fromMe":false,"source":"app","to":"15550000000@c.us","participant":%q,"body":%q,"hasMedia":false,"media":null,"ack":1,"_data":{}}}`,
		msgID, time.Now().UnixMilli(), s.inst.SessionName, chatID, msgID, participant, time.Now().Unix(), chatID, participant, text))
	if got := postWebhook(t, s.a.URL, body, sign(body)); got != 200 {
		t.Fatalf("post: %d", got)
	}
	var m *db.Message
	waitFor(t, 10*time.Second, "the chat message", func() bool {
		var err error
		m, err = s.ts.MessageByWaID(context.Background(), s.inst.ID, msgID)
		return err == nil
	})
	return m
}

func TestAIBurstGetsOneReply(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	s := newAIShop(t, a, func(st *db.AISettings) { st.BurstWaitMS = 2500 })
	lead := newLead()
	s.says(t, lead, "hi")
	time.Sleep(700 * time.Millisecond)
	s.says(t, lead, "I wanted to ask")
	time.Sleep(700 * time.Millisecond)
	last := s.says(t, lead, "what are your opening hours?")
	r := s.reply(t, last)
	if r.Status != db.ReplySent {
		t.Fatalf("reply = %+v", r)
	}
	time.Sleep(time.Second)
	if sent := s.sentTo(lead); len(sent) != 1 {
		t.Errorf("%d replies to a burst of three, want 1: %q", len(sent), sent)
	}
}

func TestHandoffs(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()

	t.Run("by keyword", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, func(st *db.AISettings) { st.HandoffKeywords = []string{"human", "atendente"} })
		lead := newLead()
		m := s.says(t, lead, "Quero falar com um atendente")
		waitFor(t, 10*time.Second, "the handoff", func() bool {
			c, _ := s.ts.Contact(ctx, m.ContactID)
			return c.AIMode == db.ModeHuman && c.HumanUntil != nil
		})
		// The customer is told a person will answer, once; the AI says
		// nothing more.
		waitFor(t, 10*time.Second, "the handoff acknowledgement", func() bool { return len(s.sentTo(lead)) == 1 })
		// The keyword is Portuguese: so is the default acknowledgement.
		if got := s.sentTo(lead); got[0] != ai.DefaultReply(ai.ReplyHandoff, ai.LangPortuguese) {
			t.Errorf("sent %q, want the handoff acknowledgement in Portuguese", got)
		}
		s.staysSilent(t, m, lead, 1)
		s.staysSilent(t, s.says(t, lead, "hello?"), lead, 1)
		r := s.b.get("/dashboard")
		if testid(r, "dash-handoff").Length() != 1 {
			t.Error("the dashboard does not show the handoff")
		}
	})
	t.Run("by the tenant replying from the phone", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, nil)
		lead := newLead()
		s.reply(t, s.says(t, lead, "hello"))
		if _, err := s.a.env.sim.OwnerSaysFromPhone(s.inst.SessionName, lead, "Hi! Owner here."); err != nil {
			t.Fatal(err)
		}
		c, _ := s.ts.ContactByPhone(ctx, "+"+lead)
		waitFor(t, 10*time.Second, "the handoff", func() bool {
			c, _ = s.ts.Contact(ctx, c.ID)
			return c.AIMode == db.ModeHuman
		})
		s.staysSilent(t, s.says(t, lead, "thanks, one more thing"), lead, 1)
	})
	t.Run("by the model", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, func(st *db.AISettings) { st.HandoffKeywords = nil })
		lead := newLead()
		m := s.says(t, lead, "this is urgent, I need to speak to a real person")
		r := s.reply(t, m)
		if r.Status != db.ReplySent || !r.Handoff {
			t.Fatalf("reply = %+v", r)
		}
		c, _ := s.ts.Contact(ctx, m.ContactID)
		if c.AIMode != db.ModeHuman || !strings.Contains(c.HandoffReason, "The AI asked for a person") {
			t.Errorf("contact = %+v", c)
		}
	})
	t.Run("automatic return", func(t *testing.T) {
		t.Parallel()
		s := newAIShop(t, a, nil)
		lead := newLead()
		c, _, _ := s.ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+" + lead})
		past := time.Now().Add(-time.Minute)
		if _, err := s.ts.SetChatMode(ctx, c.ID, db.ModeHuman, &past, "earlier"); err != nil {
			t.Fatal(err)
		}
		task, _ := jobs.NewReturnHandoffsTask()
		if _, err := a.env.queue.Enqueue(task); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the AI to come back", func() bool {
			c, _ = s.ts.Contact(ctx, c.ID)
			return c.AIMode == db.ModeAI
		})
		if r := s.reply(t, s.says(t, lead, "hello again")); r.Status != db.ReplySent {
			t.Errorf("reply after return = %+v", r)
		}
	})
}

func TestOptOutAndResubscribe(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	for _, tt := range []struct{ lang, stop, start string }{
		{"English", "STOP", "START"},
		{"Spanish", "Baja", "ALTA"},
		{"French", "Arrêt", "Start"},
		{"Indonesian", "berhenti", "mulai"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			t.Parallel()
			s := newAIShop(t, a, func(st *db.AISettings) {
				st.OptOutReply = "Unsubscribed."
				st.OptInReply = "Welcome back."
			})
			lead := newLead()
			m := s.says(t, lead, tt.stop)
			waitFor(t, 10*time.Second, "the confirmation", func() bool { return len(s.sentTo(lead)) == 1 })
			c, _ := s.ts.Contact(ctx, m.ContactID)
			if c.OptedOutAt == nil || s.sentTo(lead)[0] != "Unsubscribed." {
				t.Fatalf("after %q: contact %+v, sent %q", tt.stop, c, s.sentTo(lead))
			}
			s.says(t, lead, tt.stop) // once only
			s.staysSilent(t, s.says(t, lead, "what are your opening hours?"), lead, 1)
			s.says(t, lead, tt.start)
			waitFor(t, 10*time.Second, "the welcome back", func() bool { return len(s.sentTo(lead)) == 2 })
			c, _ = s.ts.Contact(ctx, m.ContactID)
			if c.OptedOutAt != nil || s.sentTo(lead)[1] != "Welcome back." {
				t.Errorf("after %q: contact %+v, sent %q", tt.start, c, s.sentTo(lead))
			}
			if r := s.reply(t, s.says(t, lead, "what are your opening hours?")); r.Status != db.ReplySent {
				t.Errorf("no answer after re-subscribing: %+v", r)
			}
		})
	}
}

// TestAIPromptFitsTheBudgetWithOversizeKnowledge: knowledge saved before
// the caps existed (100 entries of 19,500 characters, written straight into
// the database) no longer makes a multi-megabyte request: the request the
// Gemini stand-in receives fits the input budget, and the entry the customer
// asks about is in it.
func TestAIPromptFitsTheBudgetWithOversizeKnowledge(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	persona := "You are Maxi from the Oversize Shop " + newLead() + "."
	s := newAIShop(t, a, func(st *db.AISettings) { st.Persona = persona })
	ctx := context.Background()
	filler := strings.Repeat("Our catalogue lists many things in great detail. ", 400)[:19_500]
	_, err := a.store.DB().NewRaw(`INSERT INTO knowledge_entries (tenant_id, title, body, position)
		SELECT ?, 'Catalogue part ' || n, ?, n FROM generate_series(1, 100) AS n
		UNION ALL SELECT ?, 'Parking', 'Free parking behind the shop.', 101`, s.ts.TenantID(), filler, s.ts.TenantID()).Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lead := newLead()
	m := s.says(t, lead, "is there parking?")
	// Two megabytes of knowledge to read and rank: slower than a usual
	// answer on a busy machine.
	var r *db.AIReply
	waitFor(t, 60*time.Second, "the AI reply to end", func() bool {
		var err error
		r, err = s.ts.ReplyFor(ctx, m.ID)
		return err == nil && (r.Status == db.ReplySent || r.Status == db.ReplyRefunded || r.Status == db.ReplyFailed)
	})
	if r.Status != db.ReplySent || !strings.Contains(r.ReplyText, "Free parking behind the shop") {
		t.Errorf("reply = %+v", r)
	}
	var size int
	for _, req := range a.env.gemini.Requests() {
		if strings.Contains(req.SystemInstruction, persona) {
			size = len(req.Raw)
		}
	}
	t.Logf("request of %d bytes with %d characters of knowledge", size, 100*len(filler))
	if size == 0 || size > 3*ai.DefaultInputTokenBudget {
		t.Errorf("request of %d bytes, want at most %d (the budget of %d tokens at three bytes a token)",
			size, 3*ai.DefaultInputTokenBudget, ai.DefaultInputTokenBudget)
	}
}

// TestAutomaticMessagesSpeakTheCustomersLanguage: with the default texts
// kept, a lead who writes "baja" is answered in Spanish, "alta" too, and a
// handoff asked for in Spanish is acknowledged in Spanish.
func TestAutomaticMessagesSpeakTheCustomersLanguage(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	s := newAIShop(t, a, nil)
	lead := newLead()
	s.says(t, lead, "baja")
	waitFor(t, 10*time.Second, "the confirmation", func() bool { return len(s.sentTo(lead)) == 1 })
	if got := s.sentTo(lead)[0]; got != ai.DefaultReply(ai.ReplyOptOut, ai.LangSpanish) {
		t.Errorf("opt-out confirmation %q, want the Spanish one", got)
	}
	s.says(t, lead, "Alta")
	waitFor(t, 10*time.Second, "the welcome back", func() bool { return len(s.sentTo(lead)) == 2 })
	if got := s.sentTo(lead)[1]; got != ai.DefaultReply(ai.ReplyOptIn, ai.LangSpanish) {
		t.Errorf("opt-in confirmation %q, want the Spanish one", got)
	}
	other := newLead()
	s.says(t, other, "quiero hablar con un humano")
	waitFor(t, 10*time.Second, "the handoff acknowledgement", func() bool { return len(s.sentTo(other)) == 1 })
	if got := s.sentTo(other)[0]; got != ai.DefaultReply(ai.ReplyHandoff, ai.LangSpanish) {
		t.Errorf("handoff acknowledgement %q, want the Spanish one", got)
	}
}
