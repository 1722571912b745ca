package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// TestPollThroughTheOutbox: a poll queued through the outbox reaches the
// gateway as a poll, once, charged once, with the id the message keeps, so
// votes on it can be matched to it; queueing it again changes nothing.
func TestPollThroughTheOutbox(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	b, tenantID := a.tenantOf(t, "Poll Outbox Shop")
	inst := a.connect(t, b, tenantID)
	ts := a.store.Tenant(tenantID)
	ct, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+15557770042", Name: "Voter"})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := ts.CreditBalance(ctx)
	out := whatsapp.Outgoing{
		Key: "test-poll:1", InstanceID: inst.ID, ContactID: ct.ID, Sender: db.SenderCampaign, Cost: 1, Reason: "Campaign message",
		Body: "Which day suits you?", Poll: &db.MessagePoll{Options: []string{"Monday", "Friday"}},
	}
	m, err := a.env.outbox.Queue(ctx, ts, out)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := a.env.outbox.Queue(ctx, ts, out); err != nil || again.ID != m.ID || again.Inserted {
		t.Fatalf("queued again: %+v %v", again, err)
	}
	var sent []string
	waitFor(t, 15*time.Second, "the poll at the gateway", func() bool {
		sent = nil
		for _, s := range a.env.sim.Sent(inst.SessionName) {
			if s.ChatID == "15557770042@c.us" && s.Type == "poll" && s.Poll != nil {
				sent = append(sent, s.Key)
				if s.Poll.Name != "Which day suits you?" || len(s.Poll.Options) != 2 || s.Poll.Options[1] != "Friday" || s.Requests != 1 {
					t.Errorf("poll at the gateway: %+v (%+v)", s, *s.Poll)
				}
			}
		}
		return len(sent) == 1
	})
	waitFor(t, 10*time.Second, "the poll marked sent", func() bool {
		got, err := ts.Message(ctx, m.ID)
		return err == nil && got.Status != db.MessagePending && got.Status != db.MessageSending
	})
	got, _ := ts.Message(ctx, m.ID)
	if got.Type != "poll" || got.Poll == nil || got.WaID != sent[0] || got.Status == db.MessageFailed {
		t.Errorf("stored poll message: %+v", got)
	}
	if after, _ := ts.CreditBalance(ctx); after != before-1 {
		t.Errorf("balance %d → %d, want one credit charged", before, after)
	}
	// The conversation shows the poll with its options.
	r := b.get(fmt.Sprintf("/contacts/%d", ct.ID))
	if opts := testid(r, "poll-options").Text(); !strings.Contains(opts, "Monday") || !strings.Contains(opts, "Friday") {
		t.Errorf("the conversation shows the poll as %q", testid(r, "messages").Text())
	}
}
