package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

func TestGapWordsAndSimilarity(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"Do you deliver on Sundays?", "do you DELIVER on sundays", true},
		{"Do you deliver on Sundays?", "Do you deliver on Sunday mornings?", false},
		{"¿Hacen envíos los domingos?", "hacen envios los domingos", true},
		{"What is the price of the blue vase?", "blue vase price?", true},
		{"Do you deliver on Sundays?", "Is parking free?", false},
		{"", "anything", false},
	} {
		a, b := db.GapWords(tc.a), db.GapWords(tc.b)
		if got := db.Similarity(a, b) >= db.SameGap; got != tc.same {
			t.Errorf("%q ~ %q: %v (%v vs %v, %.2f)", tc.a, tc.b, got, a, b, db.Similarity(a, b))
		}
	}
	if diff := cmp.Diff([]string{"deliver", "sundays"}, db.GapWords("Do you deliver on Sundays? Sundays!")); diff != "" {
		t.Errorf("words: %s", diff)
	}
}

func TestKnowledgeGaps(t *testing.T) {
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	c, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+15557771234"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	first, err := ts.RecordGap(ctx, "Do you deliver on Sundays?", c.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ts.RecordGap(ctx, "do you DELIVER on sundays", c.ID, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	other, err := ts.RecordGap(ctx, "Is there parking?", c.ID, now)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != first.ID || again.TimesAsked != 2 || other.ID == first.ID {
		t.Fatalf("grouping: first %d, again %d (%d times), other %d", first.ID, again.ID, again.TimesAsked, other.ID)
	}
	open, err := ts.OpenGaps(ctx, 10)
	if err != nil || len(open) != 2 || open[0].ID != first.ID {
		t.Fatalf("open gaps: %+v %v", open, err)
	}
	entry, err := ts.AnswerGap(ctx, first.ID, "Yes, 10:00 to 14:00.")
	if err != nil {
		t.Fatal(err)
	}
	if k, err := ts.KnowledgeEntry(ctx, entry.ID); err != nil || k.Body != "Yes, 10:00 to 14:00." || k.Title != "Do you deliver on Sundays?" {
		t.Fatalf("entry: %+v %v", k, err)
	}
	if _, err := ts.AnswerGap(ctx, first.ID, "again"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("answering twice: %v", err)
	}
	if err := ts.DismissGap(ctx, other.ID); err != nil {
		t.Fatal(err)
	}
	if open, _ := ts.OpenGaps(ctx, 10); len(open) != 0 {
		t.Errorf("still open: %+v", open)
	}
	// Another tenant sees none of them.
	stranger, _ := dbtest.NewTenant(t, s)
	if err := s.Tenant(stranger.ID).DismissGap(ctx, first.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("another tenant's gap: %v", err)
	}
	sum, err := ts.WeekSummary(ctx, now.Add(-7*24*time.Hour))
	if err != nil || len(sum.TopQuestions) != 1 || sum.TopQuestions[0].TimesAsked != 2 || sum.OpenGaps != 0 {
		t.Errorf("summary: %+v %v", sum, err)
	}
}

// TestReceivedMediaExpires: a customer's file is kept until its retention
// ends; then it is deleted, and its message keeps the transcript.
func TestReceivedMediaExpires(t *testing.T) {
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	inst := dbtest.NewInstance(t, s, tenant.ID)
	c, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+15557774321"})
	if err != nil {
		t.Fatal(err)
	}
	save := func(key string, expires time.Time) (*db.Message, *db.Media) {
		m, err := ts.SaveMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: c.ID, WaID: key, Direction: db.DirectionIn,
			Sender: db.SenderLead, ChatKind: db.ContactDirect, Type: "audio", Status: db.MessageReceived, SentAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		f, err := ts.SaveReceivedMedia(ctx, m.ID, "audio/ogg", "v.ogg", []byte("OggS voice"), expires)
		if err != nil {
			t.Fatal(err)
		}
		// A retried download stores nothing again.
		if again, err := ts.SaveReceivedMedia(ctx, m.ID, "audio/ogg", "v.ogg", []byte("OggS other"), expires); err != nil || again.ID != f.ID {
			t.Fatalf("second save: %+v %v", again, err)
		}
		if err := ts.SetTranscript(ctx, m.ID, "hello"); err != nil {
			t.Fatal(err)
		}
		return m, f
	}
	oldMsg, old := save("EXPIRED1", time.Now().Add(-time.Minute))
	_, fresh := save("FRESH1", time.Now().Add(time.Hour))
	if _, err := s.DeleteExpiredMediaAllTenants(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Media(ctx, old.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the expired file: %v", err)
	}
	if _, err := ts.Media(ctx, fresh.ID); err != nil {
		t.Errorf("the fresh file: %v", err)
	}
	m, err := ts.Message(ctx, oldMsg.ID)
	if err != nil || m.MediaID != nil || m.Transcript != "hello" {
		t.Errorf("the expired file's message: %+v %v", m, err)
	}
}
