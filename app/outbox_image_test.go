package app_test

import (
	"context"
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
