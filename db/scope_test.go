package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// TestTenantScope calls every TenantStore method that takes an id or a
// reference with another tenant's: each must answer not found or nothing.
// A new TenantStore method gets a row here.
func TestTenantScope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	alice, aliceUser := dbtest.NewTenant(t, s)
	bob, _ := dbtest.NewTenant(t, s)
	if _, err := s.Tenant(alice.ID).Charge(ctx, 1, "x", "alice-charge"); err != nil {
		t.Fatal(err)
	}
	mallory := s.Tenant(bob.ID)
	aliceStore := s.Tenant(alice.ID)
	inst := dbtest.NewInstance(t, s, alice.ID)
	if _, err := aliceStore.SetInstanceState(ctx, inst.ID, db.SessionState{Status: db.InstanceScanQR}); err != nil {
		t.Fatal(err)
	}
	contact, _, err := aliceStore.UpsertContact(ctx, db.ContactIdentity{Phone: "+15559990000"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := aliceStore.SaveMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: contact.ID, WaID: "alice-msg", Direction: db.DirectionOut,
		Sender: db.SenderAI, ChatKind: db.ContactDirect, Type: "text", Body: "secret", Status: db.MessageSent, Ack: 1, SentAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	ev, _, err := s.RecordWebhookEvent(ctx, "waha", "alice-evt-"+inst.SessionName, "message", inst.SessionName, []byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	// An outgoing message in the outbox, and an incoming one waiting for
	// its AI answer.
	key := "alice-out"
	queued, err := aliceStore.QueueMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: contact.ID, OutboxKey: &key,
		Sender: db.SenderApp, ChatKind: db.ContactDirect, Type: "text", Body: "queued", ChargeRef: "alice-charge"}, "", 0, "", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	incoming, err := aliceStore.SaveMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: contact.ID, WaID: "alice-in", Direction: db.DirectionIn,
		Sender: db.SenderLead, ChatKind: db.ContactDirect, Type: "text", Body: "hi", Status: db.MessageReceived, SentAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dbtest.DB(t).ExecContext(ctx, "UPDATE messages SET due_at = now() + interval '1 hour' WHERE id = ?", incoming.ID); err != nil {
		t.Fatal(err)
	}

	campaign, err := aliceStore.CreateCampaign(ctx, "Alice's sale")
	if err != nil {
		t.Fatal(err)
	}
	if err := aliceStore.ReplaceRecipients(ctx, campaign.ID, []db.Recipient{{RowNumber: 2, Phone: "+15559990001"}},
		[]db.DroppedRow{{RowNumber: 3, Reason: "invalid"}}); err != nil {
		t.Fatal(err)
	}
	alicePaid := db.Payment{StripeID: "in_alice_" + inst.SessionName, Kind: db.PaymentSubscription, AmountCents: 2900, Currency: "usd", PaidAt: time.Now()}
	if _, err := aliceStore.RecordPayment(ctx, alicePaid, 0, ""); err != nil {
		t.Fatal(err)
	}
	media, err := aliceStore.SaveMedia(ctx, "image/png", "alice.png", []byte("\x89PNG\r\n\x1a\nalice"))
	if err != nil {
		t.Fatal(err)
	}

	aliceGap, err := aliceStore.RecordGap(ctx, "Do you open on Sundays?", contact.ID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	notFound := []struct {
		name string
		call func() error
	}{
		{"User", func() error { _, err := mallory.User(ctx, aliceUser.ID); return err }},
		{"SetUserEmail", func() error { return mallory.SetUserEmail(ctx, aliceUser.ID, "mallory@example.com") }},
		{"SetUserPassword", func() error { _, err := mallory.SetUserPassword(ctx, aliceUser.ID, "stolen"); return err }},
		{"LedgerEntry", func() error { _, err := mallory.LedgerEntry(ctx, "alice-charge"); return err }},
		{"Refund", func() error { _, err := mallory.Refund(ctx, "alice-charge", "steal"); return err }},
		{"Instance", func() error { _, err := mallory.Instance(ctx, inst.ID); return err }},
		{"RenameInstance", func() error { return mallory.RenameInstance(ctx, inst.ID, "mine") }},
		{"SetInstanceState", func() error {
			_, err := mallory.SetInstanceState(ctx, inst.ID, db.SessionState{Status: db.InstanceFailed})
			return err
		}},
		{"SetPairingCode", func() error { return mallory.SetPairingCode(ctx, inst.ID, "X") }},
		{"ClaimInstanceRestart", func() error { _, err := mallory.ClaimInstanceRestart(ctx, inst.ID); return err }},
		{"ClaimSilentRestart", func() error { _, err := mallory.ClaimSilentRestart(ctx, inst.ID, time.Minute); return err }},
		{"DeleteInstance", func() error { return mallory.DeleteInstance(ctx, inst.ID) }},
		{"Contact", func() error { _, err := mallory.Contact(ctx, contact.ID); return err }},
		{"ContactByPhone", func() error { _, err := mallory.ContactByPhone(ctx, "+15559990000"); return err }},
		{"MessageByWaID", func() error { _, err := mallory.MessageByWaID(ctx, inst.ID, "alice-msg"); return err }},
		{"ApplyAck", func() error { _, err := mallory.ApplyAck(ctx, inst.ID, "alice-msg", 3); return err }},
		{"WebhookEvent", func() error { _, err := mallory.WebhookEvent(ctx, ev.ID); return err }},
		{"MarkWebhookEvent", func() error { _, err := mallory.MarkWebhookEvent(ctx, ev.ID, nil, false); return err }},
		{"ApplyAck failure", func() error { _, err := mallory.ApplyAck(ctx, inst.ID, "alice-msg", -1); return err }},
		{"ClaimSend", func() error { _, err := mallory.ClaimSend(ctx, queued.ID, 0, time.Minute); return err }},
		{"RetryMessageLater", func() error { _, err := mallory.RetryMessageLater(ctx, queued.ID, 0, time.Now()); return err }},
		{"MarkMessageSent", func() error { _, err := mallory.MarkMessageSent(ctx, queued.ID, ""); return err }},
		{"FailMessage", func() error { _, err := mallory.FailMessage(ctx, queued.ID, "stolen"); return err }},
		{"AdoptWaID", func() error { _, err := mallory.AdoptWaID(ctx, queued.ID, "alice-msg", "stolen"); return err }},
		{"ClaimAIWork", func() error { _, err := mallory.ClaimAIWork(ctx, incoming.ID, 0, time.Minute); return err }},
		{"DecideInbound", func() error {
			_, _, err := mallory.DecideInbound(ctx, incoming, nil, func(*db.Contact, db.InboundFacts) db.Inbound {
				return db.Inbound{Action: db.InboundOptOut}
			})
			return err
		}},
		{"Campaign", func() error { _, err := mallory.Campaign(ctx, campaign.ID); return err }},
		{"Media", func() error { _, err := mallory.Media(ctx, media.ID); return err }},
		{"SaveCampaignDraft", func() error { return mallory.SaveCampaignDraft(ctx, &db.Campaign{ID: campaign.ID, Name: "mine"}) }},
		{"DeleteCampaignDraft", func() error { return mallory.DeleteCampaignDraft(ctx, campaign.ID) }},
		{"ReplaceRecipients", func() error { return mallory.ReplaceRecipients(ctx, campaign.ID, nil, nil) }},
		{"LaunchCampaign", func() error {
			_, err := mallory.LaunchCampaign(ctx, campaign.ID, db.Launch{InstanceIDs: []int64{inst.ID}, Pace: []byte("{}")})
			return err
		}},
		{"PauseCampaign", func() error { _, err := mallory.PauseCampaign(ctx, campaign.ID, "x"); return err }},
		{"ResumeCampaign", func() error { _, err := mallory.ResumeCampaign(ctx, campaign.ID); return err }},
		{"CancelCampaign", func() error { _, err := mallory.CancelCampaign(ctx, campaign.ID); return err }},
		{"RetryFailedRecipients", func() error { _, err := mallory.RetryFailedRecipients(ctx, campaign.ID); return err }},
		{"CampaignNumbers", func() error { _, err := mallory.CampaignNumbers(ctx, campaign.ID); return err }},
		{"LockNumberPace", func() error {
			return mallory.RunInTx(ctx, func(ctx context.Context, tx *db.TenantStore) error {
				_, err := tx.LockNumberPace(ctx, inst.ID)
				return err
			})
		}},
		{"NextRecipient", func() error { _, _, err := mallory.NextRecipient(ctx, inst.ID); return err }},
		{"RecordVote", func() error {
			_, err := mallory.RecordVote(ctx, inst.ID, "alice-msg", []string{"x"}, time.Now())
			return err
		}},
		{"HandReplyToOutbox", func() error {
			return mallory.HandReplyToOutbox(ctx, &db.AIReply{ID: 1, TriggerMessageID: incoming.ID}, queued)
		}},
		{"RecordUnreadableVote", func() error {
			_, err := mallory.RecordUnreadableVote(ctx, inst.ID, "alice-msg", time.Now())
			return err
		}},
		{"SaveReceivedMedia", func() error {
			_, err := mallory.SaveReceivedMedia(ctx, incoming.ID, "image/png", "x.png", []byte("x"), time.Now().Add(time.Hour))
			return err
		}},
		{"DeleteContact", func() error { return mallory.DeleteContact(ctx, contact.ID) }},
		{"AnswerGap", func() error { _, err := mallory.AnswerGap(ctx, aliceGap.ID, "b"); return err }},
		{"DismissGap", func() error { return mallory.DismissGap(ctx, aliceGap.ID) }},
	}
	for _, tt := range notFound {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, db.ErrNotFound) {
				t.Errorf("err = %v, want ErrNotFound", err)
			}
		})
	}

	t.Run("zero rows", func(t *testing.T) {
		if is, _ := mallory.Instances(ctx); len(is) != 0 {
			t.Errorf("Instances saw %d", len(is))
		}
		if n, _ := mallory.InstanceCount(ctx); n != 0 {
			t.Errorf("InstanceCount = %d", n)
		}
		if ms, _ := mallory.Messages(ctx, contact.ID, 10); len(ms) != 0 {
			t.Errorf("Messages saw %d", len(ms))
		}
		if cs, _ := mallory.RecentConversations(ctx, 10); len(cs) != 0 {
			t.Errorf("RecentConversations saw %d", len(cs))
		}
		if rs, n, _ := mallory.Recipients(ctx, campaign.ID, db.Page{}); n+len(rs) != 0 {
			t.Errorf("Recipients saw %d", n)
		}
		if rs, _ := mallory.RecipientsFrom(ctx, campaign.ID, 0, 10); len(rs) != 0 {
			t.Errorf("RecipientsFrom saw %d", len(rs))
		}
		if ds, _ := mallory.DroppedRows(ctx, campaign.ID); len(ds) != 0 {
			t.Errorf("DroppedRows saw %d", len(ds))
		}
		if c, _ := mallory.CampaignCounts(ctx, campaign.ID); c.Recipients+c.Dropped != 0 {
			t.Errorf("CampaignCounts saw %+v", c)
		}
		if vs, _ := mallory.CampaignTally(ctx, campaign.ID); len(vs) != 0 {
			t.Errorf("CampaignTally saw %d", len(vs))
		}
		if ids, _ := mallory.FinishCampaigns(ctx); len(ids) != 0 {
			t.Errorf("FinishCampaigns finished %v", ids)
		}
		if cs, n, _ := mallory.Campaigns(ctx, db.Page{}); n+len(cs) != 0 {
			t.Errorf("Campaigns saw %d", n)
		}
		if ps, _ := mallory.Payments(ctx, 10); len(ps) != 0 {
			t.Errorf("Payments saw %d", len(ps))
		}
		if paid, _ := mallory.Paid(ctx, alicePaid.StripeID); paid {
			t.Error("Paid saw another tenant's payment")
		}
		if n, _ := mallory.ContactCount(ctx); n != 0 {
			t.Errorf("ContactCount = %d", n)
		}
		if in, out, _ := mallory.MessageCountSince(ctx, time.Now().Add(-time.Hour)); in+out != 0 {
			t.Errorf("MessageCountSince = %d", in+out)
		}
		if changed, _ := mallory.SetInstanceQR(ctx, inst.ID, []byte("x"), "h"); changed {
			t.Error("SetInstanceQR changed another tenant's instance")
		}
		if got, _ := aliceStore.WebhookEvent(ctx, ev.ID); got.Attempts != 0 {
			t.Error("MarkWebhookEvent touched another tenant's event")
		}
		// An upsert by another tenant makes its own contact.
		c, created, _ := mallory.UpsertContact(ctx, db.ContactIdentity{Phone: "+15559990000"})
		if !created || c.ID == contact.ID {
			t.Error("UpsertContact reached another tenant's contact")
		}
	})
	if got, err := aliceStore.Instance(ctx, inst.ID); err != nil || got.Name != "Test number" || got.Status != db.InstanceScanQR || got.QRPNG != nil {
		t.Errorf("alice's instance changed: %+v %v", got, err)
	}
	if m, _ := aliceStore.MessageByWaID(ctx, inst.ID, "alice-msg"); m.Ack != 1 || m.Status != db.MessageSent {
		t.Errorf("alice's message changed: ack %d, status %s", m.Ack, m.Status)
	}
	// Writes that answer nothing must not have touched alice's work either.
	_ = mallory.MarkMessageSending(ctx, queued.ID, "stolen-id")
	_ = mallory.FinishWork(ctx, incoming.ID)
	_ = mallory.MarkInboundHandled(ctx, incoming.ID)
	if m, _ := aliceStore.Message(ctx, queued.ID); m.Status != db.MessagePending || m.DueAt == nil || m.WaID != db.PlaceholderWaID(key) || m.LeaseUntil != nil {
		t.Errorf("alice's queued message changed: %+v", m)
	}
	if m, _ := aliceStore.Message(ctx, incoming.ID); m.DueAt == nil || m.HandledAt != nil || m.Action != "" || m.LeaseUntil != nil {
		t.Errorf("alice's incoming message changed: %+v", m)
	}
	// Another tenant's campaign or message cannot point at alice's file.
	own, err := mallory.CreateCampaign(ctx, "Mallory's")
	if err != nil {
		t.Fatal(err)
	}
	own.MediaID = &media.ID
	if err := mallory.SaveCampaignDraft(ctx, own); err == nil {
		t.Error("SaveCampaignDraft attached another tenant's media")
	}
	if c, _ := aliceStore.Contact(ctx, contact.ID); c.OptedOutAt != nil {
		t.Error("another tenant's decision opted alice's contact out")
	}
	if b, _ := aliceStore.CreditBalance(ctx); b != 399 {
		t.Errorf("alice's balance %d, want 399 (nothing refunded by another tenant)", b)
	}

	t.Run("Users", func(t *testing.T) {
		us, err := mallory.Users(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range us {
			if u.TenantID != bob.ID {
				t.Errorf("saw user of tenant %d", u.TenantID)
			}
		}
	})
	t.Run("Ledger", func(t *testing.T) {
		es, _, err := mallory.Ledger(ctx, db.Page{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.TenantID != bob.ID || e.Reference == "alice-charge" {
				t.Errorf("saw entry %+v", e)
			}
		}
	})
	t.Run("CreditUsageByDay", func(t *testing.T) {
		days, err := mallory.CreditUsageByDay(ctx, time.Now(), time.Now(), time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if len(days) != 1 || days[0].Charged != 0 {
			t.Errorf("days = %+v, want no charges", days)
		}
	})
	if bal, _ := s.Tenant(alice.ID).CreditBalance(ctx); bal != 399 {
		t.Errorf("alice's balance = %d, want 399 (untouched by bob)", bal)
	}
	if u, _ := s.UserByID(ctx, aliceUser.ID); u.Email != aliceUser.Email || u.PasswordHash != aliceUser.PasswordHash {
		t.Errorf("alice's user changed: %+v", u)
	}
	// SetProfile writes the store's own tenant, whatever it is given.
	if err := mallory.SetProfile(ctx, db.Profile{Name: "Bob's", Timezone: "UTC", Country: "ES"}); err != nil {
		t.Fatal(err)
	}
	if a, _ := s.TenantByID(ctx, alice.ID); a.Name != alice.Name || a.DefaultCountry != alice.DefaultCountry {
		t.Errorf("alice's tenant changed: %+v", a)
	}
}
