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

// adoptFixture is a tenant with a contact and an image queued to it, marked
// sending under the id we reserved.
type adoptFixture struct {
	ts      *db.TenantStore
	inst    *db.Instance
	contact *db.Contact
	msg     *db.Message
}

func newAdoptFixture(t *testing.T, key string) adoptFixture {
	t.Helper()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	inst := dbtest.NewInstance(t, s, tenant.ID)
	contact, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+15559991234"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Charge(ctx, 1, "Campaign message", "msg:"+key); err != nil {
		t.Fatal(err)
	}
	m, err := ts.QueueMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: contact.ID, OutboxKey: &key,
		Sender: db.SenderCampaign, ChatKind: db.ContactDirect, Type: "image", Body: "Our offer", ChargeRef: "msg:" + key},
		"3EB0OURS"+key, 0, "", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.MarkMessageSending(ctx, m.ID, m.WaID); err != nil {
		t.Fatal(err)
	}
	return adoptFixture{ts: ts, inst: inst, contact: contact, msg: m}
}

// echo stores the gateway's echo of the image under its own id, as the
// webhook does when it comes before the send's answer.
func (f adoptFixture) echo(t *testing.T, waID string, ack int) *db.Message {
	t.Helper()
	m, err := f.ts.SaveMessage(context.Background(), &db.Message{InstanceID: &f.inst.ID, ContactID: f.contact.ID, WaID: waID,
		ProviderID: "true_15559991234@c.us_" + waID, Direction: db.DirectionOut, Sender: db.SenderAPI, ChatKind: db.ContactDirect,
		Type: "image", Body: "Our offer", Status: db.AckStatus(ack), Ack: ack, SentAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (f adoptFixture) count(t *testing.T) int {
	t.Helper()
	ms, err := f.ts.Messages(context.Background(), f.contact.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

// TestAdoptWaID: a message re-keyed to the gateway's id is found by its
// acks; an echo stored first is folded in with its higher status, once,
// however often it runs; an id that is another message's is refused.
func TestAdoptWaID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("no echo yet", func(t *testing.T) {
		f := newAdoptFixture(t, "a1")
		got, err := f.ts.AdoptWaID(ctx, f.msg.ID, "3EB0GW1", "true_15559991234@c.us_3EB0GW1")
		if err != nil || got.MergedID != 0 || got.Message.WaID != "3EB0GW1" || got.Message.ProviderID != "true_15559991234@c.us_3EB0GW1" {
			t.Fatalf("adopt: %+v, %v", got, err)
		}
		// The echo and the acks now find our row.
		if e := f.echo(t, "3EB0GW1", 1); e.Inserted || e.ID != f.msg.ID {
			t.Errorf("echo stored as %+v, want our row", e)
		}
		if m, err := f.ts.ApplyAck(ctx, f.inst.ID, "3EB0GW1", 2); err != nil || m.ID != f.msg.ID || m.Status != db.MessageDelivered {
			t.Errorf("ack: %+v, %v", m, err)
		}
	})

	t.Run("echo first, run twice", func(t *testing.T) {
		f := newAdoptFixture(t, "a2")
		e := f.echo(t, "3EB0GW2", 2)
		for i := range 2 {
			got, err := f.ts.AdoptWaID(ctx, f.msg.ID, "3EB0GW2", "true_15559991234@c.us_3EB0GW2")
			if err != nil {
				t.Fatal(err)
			}
			m := got.Message
			wantMerged := map[int]int64{0: e.ID, 1: 0}[i]
			if got.MergedID != wantMerged || m.ID != f.msg.ID || m.WaID != "3EB0GW2" || m.Sender != db.SenderCampaign ||
				m.Body != "Our offer" || m.ChargeRef != "msg:a2" || m.Ack != 2 || m.Status != db.MessageDelivered || m.DueAt != nil {
				t.Errorf("run %d: %+v merged %d", i, m, got.MergedID)
			}
		}
		if n := f.count(t); n != 1 {
			t.Errorf("%d messages in the conversation, want 1", n)
		}
		if _, err := f.ts.Message(ctx, e.ID); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("the echo's row is still there: %v", err)
		}
	})

	t.Run("another message's id", func(t *testing.T) {
		f := newAdoptFixture(t, "a3")
		other, err := f.ts.SaveMessage(ctx, &db.Message{InstanceID: &f.inst.ID, ContactID: f.contact.ID, WaID: "3EB0PHONE",
			Direction: db.DirectionOut, Sender: db.SenderPhone, ChatKind: db.ContactDirect, Type: "text", Body: "hi",
			Status: db.MessageSent, Ack: 1, SentAt: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.ts.AdoptWaID(ctx, f.msg.ID, other.WaID, ""); !errors.Is(err, db.ErrConflict) {
			t.Errorf("adopt another message's id: %v, want ErrConflict", err)
		}
		if m, _ := f.ts.Message(ctx, f.msg.ID); m.WaID != f.msg.WaID {
			t.Errorf("re-keyed to %q", m.WaID)
		}
	})
}

// TestAdoptWaIDConcurrentEcho: the echo stored by a webhook at the same
// time as the re-key ends as one row, ours, whichever comes first.
func TestAdoptWaIDConcurrentEcho(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for i := range 10 {
		f := newAdoptFixture(t, "c"+string(rune('0'+i)))
		var wg sync.WaitGroup
		var adoptErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, adoptErr = f.ts.AdoptWaID(ctx, f.msg.ID, "3EB0RACE", "true_15559991234@c.us_3EB0RACE")
		}()
		go func() {
			defer wg.Done()
			f.echo(t, "3EB0RACE", 1)
		}()
		wg.Wait()
		if adoptErr != nil {
			t.Fatal(adoptErr)
		}
		m, err := f.ts.MessageByWaID(ctx, f.inst.ID, "3EB0RACE")
		if err != nil || m.ID != f.msg.ID || m.Sender != db.SenderCampaign {
			t.Fatalf("run %d: the id belongs to %+v, %v", i, m, err)
		}
		if n := f.count(t); n != 1 {
			t.Fatalf("run %d: %d messages, want 1", i, n)
		}
	}
}
