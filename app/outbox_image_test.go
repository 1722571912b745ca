package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// TestImageThroughTheOutbox: an image queued through the outbox reaches the
// gateway as an image with its caption, once, charged once, under the id
// the message keeps; one whose file was deleted before it went out fails
// with the reason, refunded.
func TestImageThroughTheOutbox(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	b, tenantID := a.tenantOf(t, "Image Outbox Shop")
	inst := a.connect(t, b, tenantID)
	ts := a.store.Tenant(tenantID)
	ct, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+15557770043", Name: "Viewer"})
	if err != nil {
		t.Fatal(err)
	}
	pic := testPNG(t)
	media, err := ts.SaveMedia(ctx, "image/png", "offer.png", pic)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := ts.CreditBalance(ctx)
	out := whatsapp.Outgoing{Key: "test-image:1", InstanceID: inst.ID, ContactID: ct.ID, Sender: db.SenderCampaign,
		Cost: 1, Reason: "Campaign message", Body: "Our offer, just for you", MediaID: &media.ID}
	m, err := a.env.outbox.Queue(ctx, ts, out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != "image" || m.MediaID == nil || *m.MediaID != media.ID {
		t.Fatalf("queued %+v", m)
	}
	waitFor(t, 15*time.Second, "the image marked sent", func() bool {
		got, err := ts.Message(ctx, m.ID)
		return err == nil && got.Status != db.MessagePending && got.Status != db.MessageSending
	})
	got, _ := ts.Message(ctx, m.ID)
	sent := a.env.sim.Sent(inst.SessionName)
	if len(sent) != 1 || sent[0].Type != "image" || sent[0].Caption != "Our offer, just for you" || sent[0].Size != len(pic) ||
		sent[0].Mime != "image/png" || sent[0].Requests != 1 || sent[0].Key != got.WaID || got.Status == db.MessageFailed {
		t.Errorf("at the gateway %+v, stored %+v", sent, got)
	}
	if after, _ := ts.CreditBalance(ctx); after != before-1 {
		t.Errorf("balance %d → %d, want one credit charged", before, after)
	}

	// A second image, sent by hand after its file was deleted.
	gone, err := ts.SaveMedia(ctx, "image/png", "gone.png", pic)
	if err != nil {
		t.Fatal(err)
	}
	out.Key, out.MediaID, out.SendNow = "test-image:2", &gone.ID, true
	m2, err := a.env.outbox.Queue(ctx, ts, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dbtest.DB(t).ExecContext(ctx, "DELETE FROM media WHERE id = ?", gone.ID); err != nil {
		t.Fatal(err)
	}
	res, err := a.env.outbox.Send(ctx, ts, m2.ID, m2.Attempt)
	if err != nil || res.Message == nil || res.Message.Status != db.MessageFailed || !res.Refunded ||
		res.Message.Error != "The image was deleted before it could be sent." {
		t.Fatalf("send without its file: %+v, %v", res.Message, err)
	}
	if after, _ := ts.CreditBalance(ctx); after != before-1 {
		t.Errorf("balance %d → %d, want the second image refunded", before, after)
	}
	if n := len(a.env.sim.Sent(inst.SessionName)); n != 1 {
		t.Errorf("%d messages at the gateway, want 1", n)
	}
}

// listRoute is WAHA's list of a chat's messages, where the outbox looks for
// an image whose send had no answer.
const listRoute = "/api/{session}/chats/{chatId}/messages"

// imageShop is a tenant with a connected number, a contact and an image to
// send to it.
type imageShop struct {
	a       *testApp
	ts      *db.TenantStore
	inst    *db.Instance
	contact *db.Contact
	media   *db.Media
	before  int64
}

func newImageShop(t *testing.T, a *testApp, name, phone string) *imageShop {
	t.Helper()
	ctx := context.Background()
	b, tenantID := a.tenantOf(t, name)
	inst := a.connect(t, b, tenantID)
	ts := a.store.Tenant(tenantID)
	ct, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: phone, Name: "Viewer"})
	if err != nil {
		t.Fatal(err)
	}
	media, err := ts.SaveMedia(ctx, "image/png", "offer.png", testPNG(t))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := ts.CreditBalance(ctx)
	return &imageShop{a: a, ts: ts, inst: inst, contact: ct, media: media, before: before}
}

// queue hands an image with the caption to the outbox; with now, the test
// makes the first attempt itself.
func (s *imageShop) queue(t *testing.T, key, caption string, now bool) *db.Message {
	t.Helper()
	m, err := s.a.env.outbox.Queue(context.Background(), s.ts, whatsapp.Outgoing{Key: key, InstanceID: s.inst.ID,
		ContactID: s.contact.ID, Sender: db.SenderCampaign, Cost: 1, Reason: "Campaign message", Body: caption,
		MediaID: &s.media.ID, SendNow: now})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// conversation is the contact's messages, oldest first.
func (s *imageShop) conversation(t *testing.T) []db.Message {
	t.Helper()
	ms, err := s.ts.Messages(context.Background(), s.contact.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// status waits for the message to reach the status.
func (s *imageShop) status(t *testing.T, id int64, want string) *db.Message {
	t.Helper()
	var m *db.Message
	waitFor(t, 15*time.Second, "status "+want, func() bool {
		var err error
		m, err = s.ts.Message(context.Background(), id)
		return err == nil && m.Status == want
	})
	return m
}

// charged checks the balance went down by n credits, with no refund.
func (s *imageShop) charged(t *testing.T, n int64) {
	t.Helper()
	if after, _ := s.ts.CreditBalance(context.Background()); after != s.before-n {
		t.Errorf("balance %d → %d, want %d credits charged", s.before, after, n)
	}
}

// TestImageUnderTheGatewaysID: the gateway ignores the id we reserved for
// an image (WAHA's sendImage has none) and gives it its own. The message
// takes that id: its echo and acks find it, so the conversation has one
// row, which reaches delivered and read; it is charged once.
func TestImageUnderTheGatewaysID(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	s := newImageShop(t, a, "Gateway ID Shop", "+15557770044")
	m := s.queue(t, "gw-id:1", "Fresh bread today", false)

	got := s.status(t, m.ID, db.MessageDelivered)
	sent := a.env.sim.Sent(s.inst.SessionName)
	if len(sent) != 1 || sent[0].Key != got.WaID || sent[0].ID != got.ProviderID || sent[0].Requests != 1 {
		t.Fatalf("at the gateway %+v, stored %+v", sent, got)
	}
	if err := a.env.sim.Read(s.inst.SessionName, sent[0].ID); err != nil {
		t.Fatal(err)
	}
	s.status(t, m.ID, db.MessageRead)
	if err := a.env.sim.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ms := s.conversation(t); len(ms) != 1 || ms[0].ID != m.ID || ms[0].Sender != db.SenderCampaign {
		t.Errorf("conversation %+v, want our image alone", ms)
	}
	s.charged(t, 1)
}

// TestImageEchoBeforeTheAnswer: the gateway's echo of an image arrives, and
// is stored, before the send's answer (which is slow). The answer's id then
// folds the echo into our message: one row, sent, charged once.
func TestImageEchoBeforeTheAnswer(t *testing.T) {
	a := newTestApp(t)
	s := newImageShop(t, a, "Echo First Shop", "+15557770045")
	// The answer waits until the echo is stored (the client waits 3 s).
	release := a.env.sim.Hold("/api/sendImage")
	defer release()
	m := s.queue(t, "echo-first:1", "Two for one", true)

	done := make(chan whatsapp.Attempted, 1)
	go func() {
		res, err := a.env.outbox.Send(context.Background(), s.ts, m.ID, m.Attempt)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	waitFor(t, 2*time.Second, "the echo stored as a message of its own", func() bool {
		ms := s.conversation(t)
		return len(ms) == 2 && ms[1].Sender == db.SenderAPI
	})
	release()
	res := <-done
	if res.Message == nil || res.Message.ID != m.ID || res.MergedID == 0 || res.Message.Status == db.MessageFailed {
		t.Fatalf("send: %+v", res)
	}
	sent := a.env.sim.Sent(s.inst.SessionName)
	if len(sent) != 1 || sent[0].Key != res.Message.WaID {
		t.Errorf("at the gateway %+v, stored %+v", sent, res.Message)
	}
	s.status(t, m.ID, db.MessageDelivered)
	if ms := s.conversation(t); len(ms) != 1 || ms[0].ID != m.ID {
		t.Errorf("conversation %+v, want our image alone", ms)
	}
	s.charged(t, 1)
}

// TestImageWithoutAnswer: an image send whose answer never comes (the
// client gives up) went out all the same. The next attempt finds it among
// the chat's messages and takes its id instead of sending it again. While
// the gateway cannot list the chat, the image is not sent again: the check
// is made again later, and when the gateway refuses it the image fails
// with the reason, refunded.
func TestImageWithoutAnswer(t *testing.T) {
	a := newTestApp(t)
	defer a.env.sim.Delay("/api/sendImage", 0)

	t.Run("found in the chat", func(t *testing.T) {
		s := newImageShop(t, a, "No Answer Shop", "+15557770046")
		// The same caption, sent before: it is not taken for this one.
		old := s.queue(t, "no-answer:0", "Last chance", false)
		s.status(t, old.ID, db.MessageDelivered)
		a.env.sim.Delay("/api/sendImage", 5*time.Second) // the client gives up after 3 s

		m := s.queue(t, "no-answer:1", "Last chance", false)
		got := s.status(t, m.ID, db.MessageDelivered)
		sent := a.env.sim.Sent(s.inst.SessionName)
		if len(sent) != 2 || sent[1].Key != got.WaID || got.Attempt == 0 {
			t.Fatalf("at the gateway %+v, stored %+v", sent, got)
		}
		if err := a.env.sim.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if ms := s.conversation(t); len(ms) != 2 || ms[0].ID != old.ID || ms[1].ID != m.ID {
			t.Errorf("conversation %+v, want the two images", ms)
		}
		s.charged(t, 2)
	})

	t.Run("the chat cannot be listed for a while", func(t *testing.T) {
		s := newImageShop(t, a, "Slow List Shop", "+15557770048")
		a.env.sim.Delay("/api/sendImage", 5*time.Second)
		// One check (the client's two tries) fails: nothing is sent, and
		// the check is made again.
		a.env.sim.FailNext(listRoute, http.StatusServiceUnavailable, 2)
		defer a.env.sim.FailNext(listRoute, 0, 0)
		m := s.queue(t, "slow-list:1", "Weekend special", false)
		got := s.status(t, m.ID, db.MessageDelivered)
		sent := a.env.sim.Sent(s.inst.SessionName)
		if len(sent) != 1 || sent[0].Key != got.WaID || got.Attempt < 2 {
			t.Errorf("at the gateway %+v, stored %+v", sent, got)
		}
		s.charged(t, 1)
	})

	t.Run("the chat cannot be listed", func(t *testing.T) {
		s := newImageShop(t, a, "No List Shop", "+15557770047")
		a.env.sim.Delay("/api/sendImage", 5*time.Second)
		a.env.sim.FailNext(listRoute, http.StatusBadRequest, 1000)
		defer a.env.sim.FailNext(listRoute, 0, 0)
		m := s.queue(t, "no-list:1", "Only today", false)
		got := s.status(t, m.ID, db.MessageFailed)
		if !strings.Contains(got.Error, "not sent again") {
			t.Errorf("error %q", got.Error)
		}
		if sent := a.env.sim.Sent(s.inst.SessionName); len(sent) != 1 {
			t.Errorf("%d images at the gateway, want 1", len(sent))
		}
		s.charged(t, 0)
	})
}
