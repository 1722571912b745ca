package db_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

func newConversation(t *testing.T, s *db.Store, credits int64) (*db.TenantStore, *db.Contact, *db.Message) {
	t.Helper()
	ctx := context.Background()
	tenant, _ := dbtest.NewTenant(t, s, dbtest.WithCredits(credits))
	ts := s.Tenant(tenant.ID)
	inst := dbtest.NewInstance(t, s, tenant.ID)
	c, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+15557770000"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := ts.SaveMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: c.ID, WaID: "in-" + time.Now().Format("150405.000000"), Direction: db.DirectionIn,
		Sender: db.SenderLead, ChatKind: db.ContactDirect, Type: "text", Body: "hi", Status: db.MessageReceived, SentAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return ts, c, m
}

func TestStartReplyChargesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	ts, c, m := newConversation(t, s, 10)

	var wg sync.WaitGroup
	ids := make([]int64, 6)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := ts.StartReply(ctx, &db.AIReply{ContactID: c.ID, TriggerMessageID: m.ID, ChargeRef: "ai:" + m.WaID}, 2, "AI reply")
			if err != nil {
				t.Errorf("start: %v", err)
				return
			}
			ids[i] = r.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("several replies for one message: %v", ids)
		}
	}
	if bal, _ := ts.CreditBalance(ctx); bal != 8 {
		t.Errorf("balance %d, want 8 (charged once)", bal)
	}
	r, _ := ts.ReplyFor(ctx, m.ID)
	for range 2 {
		if err := ts.FailReply(ctx, r, "Gemini failed", true); err != nil {
			t.Fatal(err)
		}
	}
	if bal, _ := ts.CreditBalance(ctx); bal != 10 {
		t.Errorf("balance %d after refund, want 10 (refunded once)", bal)
	}
	r, _ = ts.ReplyFor(ctx, m.ID)
	if r.Status != db.ReplyRefunded || r.Error != "Gemini failed" {
		t.Errorf("reply = %+v", r)
	}
}

func TestStartReplyWithoutCredits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	ts, c, m := newConversation(t, s, 1)
	_, err := ts.StartReply(ctx, &db.AIReply{ContactID: c.ID, TriggerMessageID: m.ID, ChargeRef: "ai:x"}, 2, "AI reply")
	if !errors.Is(err, db.ErrInsufficientCredits) {
		t.Fatalf("err = %v, want ErrInsufficientCredits", err)
	}
	if _, err := ts.ReplyFor(ctx, m.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("a refused reply was recorded: %v", err)
	}
	if bal, _ := ts.CreditBalance(ctx); bal != 1 {
		t.Errorf("balance %d, want 1", bal)
	}
}

func TestChatModesAndOptOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	ts, c, _ := newConversation(t, s, 10)
	if c.AIMode != db.ModeAI {
		t.Fatalf("new contact mode %q", c.AIMode)
	}
	past := time.Now().Add(-time.Minute)
	if _, err := ts.SetChatMode(ctx, c.ID, db.ModeHuman, &past, "keyword"); err != nil {
		t.Fatal(err)
	}
	back, err := s.ReturnExpiredHandoffsAllTenants(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, b := range back {
		found = found || b.ID == c.ID
	}
	got, _ := ts.Contact(ctx, c.ID)
	if !found || got.AIMode != db.ModeAI || got.HumanUntil != nil {
		t.Errorf("expired handoff not returned: %+v", got)
	}
	later := time.Now().Add(time.Hour)
	got, started, err := ts.ExtendHumanMode(ctx, c.ID, later, "tenant replied")
	if err != nil || !started || got.AIMode != db.ModeHuman || got.HandoffReason != "tenant replied" {
		t.Errorf("extend: %+v started %v err %v", got, started, err)
	}
	if changed, _ := ts.SetOptOut(ctx, c.ID, true); !changed {
		t.Error("opt-out did not change")
	}
	if changed, _ := ts.SetOptOut(ctx, c.ID, true); changed {
		t.Error("second opt-out changed again")
	}
	if changed, _ := ts.SetOptOut(ctx, c.ID, false); !changed {
		t.Error("opt-in did not change")
	}
	since := time.Now().Add(-time.Hour)
	if first, _ := ts.MarkAfterHoursReplied(ctx, c.ID, since); !first {
		t.Error("first after-hours reply refused")
	}
	if again, _ := ts.MarkAfterHoursReplied(ctx, c.ID, since); again {
		t.Error("after-hours reply allowed twice in one closed period")
	}
}

func TestAISettingsDefaultsAndSave(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	st, err := ts.AISettings(ctx)
	if err != nil || !st.Enabled || st.BurstWaitMS == 0 || len(st.Hours) != 7 {
		t.Fatalf("defaults = %+v, %v", st, err)
	}
	st.Persona, st.BurstWaitMS, st.HandoffKeywords = "You are Bob.", 0, []string{"humano"}
	if err := ts.SaveAISettings(ctx, st); err != nil {
		t.Fatal(err)
	}
	st2, _ := ts.AISettings(ctx)
	if st2.Persona != "You are Bob." || st2.BurstWaitMS != 0 || st2.HandoffKeywords[0] != "humano" || st2.Hours[5] != nil || st2.Hours[0].Open != 540 {
		t.Errorf("saved = %+v", st2)
	}
	k := &db.KnowledgeEntry{Title: "Opening hours", Body: "Mon-Fri 9-18"}
	if err := ts.SaveKnowledgeEntry(ctx, k); err != nil {
		t.Fatal(err)
	}
	k2 := &db.KnowledgeEntry{Title: "Prices", Body: "Coffee 3 EUR"}
	_ = ts.SaveKnowledgeEntry(ctx, k2)
	ks, _ := ts.Knowledge(ctx)
	if len(ks) != 2 || ks[0].Title != "Opening hours" || ks[1].Position <= ks[0].Position {
		t.Errorf("knowledge = %+v", ks)
	}
	other, _ := dbtest.NewTenant(t, s)
	if err := s.Tenant(other.ID).DeleteKnowledgeEntry(ctx, k.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("another tenant deleted the entry: %v", err)
	}
	if err := s.Tenant(other.ID).SaveKnowledgeEntry(ctx, &db.KnowledgeEntry{ID: k.ID, Title: "x", Body: "y"}); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("another tenant updated the entry: %v", err)
	}
	if _, err := s.Tenant(other.ID).SetChatMode(ctx, 1<<40, db.ModeOff, nil, ""); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("unknown contact: %v", err)
	}
}
