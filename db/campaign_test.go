package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

func TestCampaignDraftAndRecipients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)

	c, err := ts.CreateCampaign(ctx, "Spring sale")
	if err != nil {
		t.Fatal(err)
	}
	if c.State != db.CampaignDraft || c.Step != "upload" || c.Kind != db.CampaignText {
		t.Fatalf("new campaign = %+v", c)
	}
	c.Kind, c.Step, c.FileName, c.Columns = db.CampaignPoll, "message", "leads.xlsx", []string{"Phone", "Name", "City"}
	c.Poll = &db.CampaignPollSpec{Question: "Which day suits you?", Options: []string{"Monday", "Friday"}}
	c.Variants = []string{"Hi {{name}}", "Hello {{name}}"}
	if err := ts.SaveCampaignDraft(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := ts.Campaign(ctx, c.ID)
	if err != nil || got.Kind != db.CampaignPoll || got.Poll == nil || got.Poll.Options[1] != "Friday" ||
		len(got.Columns) != 3 || len(got.Variants) != 2 || got.FileName != "leads.xlsx" {
		t.Fatalf("saved draft = %+v (%v)", got, err)
	}

	// 2,500 recipients go in batches; a second upload replaces the first.
	rs := make([]db.Recipient, 2500)
	for i := range rs {
		rs[i] = db.Recipient{RowNumber: i + 2, Phone: fmt.Sprintf("+3460%07d", i), Name: fmt.Sprintf("Lead %d", i), Vars: map[string]string{"city": "Madrid"}}
	}
	dropped := []db.DroppedRow{{RowNumber: 2600, Value: "12", Reason: "too short"}}
	if err := ts.ReplaceRecipients(ctx, c.ID, rs[:10], nil); err != nil {
		t.Fatal(err)
	}
	if err := ts.ReplaceRecipients(ctx, c.ID, rs, dropped); err != nil {
		t.Fatal(err)
	}
	counts, err := ts.CampaignCounts(ctx, c.ID)
	if err != nil || counts.Recipients != 2500 || counts.Pending != 2500 || counts.Dropped != 1 {
		t.Errorf("counts = %+v (%v)", counts, err)
	}
	page, total, err := ts.Recipients(ctx, c.ID, db.Page{Number: 2, PerPage: 100})
	if err != nil || total != 2500 || len(page) != 100 || page[0].RowNumber != 102 || page[0].Vars["city"] != "Madrid" {
		t.Errorf("page 2: %d of %d, first %+v (%v)", len(page), total, page[0], err)
	}
	if ds, _ := ts.DroppedRows(ctx, c.ID); len(ds) != 1 || ds[0].Reason != "too short" {
		t.Errorf("dropped = %+v", ds)
	}
	// A number twice in one campaign is a mistake of the caller.
	if err := ts.ReplaceRecipients(ctx, c.ID, []db.Recipient{rs[0], rs[0]}, nil); !errors.Is(err, db.ErrConflict) {
		t.Errorf("duplicate number: %v", err)
	}
	if counts, _ := ts.CampaignCounts(ctx, c.ID); counts.Recipients != 2500 {
		t.Errorf("a failed replace changed the recipients: %d", counts.Recipients)
	}
	if cs, n, _ := ts.Campaigns(ctx, db.Page{}); n != 1 || cs[0].ID != c.ID {
		t.Errorf("campaigns = %d", n)
	}

	// Launched, the campaign is no longer edited or deleted as a draft.
	if _, err := dbtest.DB(t).ExecContext(ctx, "UPDATE campaigns SET state = 'sending' WHERE id = ?", c.ID); err != nil {
		t.Fatal(err)
	}
	if err := ts.SaveCampaignDraft(ctx, c); !errors.Is(err, db.ErrNotDraft) {
		t.Errorf("save launched: %v", err)
	}
	if err := ts.ReplaceRecipients(ctx, c.ID, rs[:1], nil); !errors.Is(err, db.ErrNotDraft) {
		t.Errorf("replace recipients of launched: %v", err)
	}
	if err := ts.DeleteCampaignDraft(ctx, c.ID); !errors.Is(err, db.ErrNotDraft) {
		t.Errorf("delete launched: %v", err)
	}

	draft, _ := ts.CreateCampaign(ctx, "Drop me")
	if err := ts.ReplaceRecipients(ctx, draft.ID, rs[:3], dropped); err != nil {
		t.Fatal(err)
	}
	if err := ts.DeleteCampaignDraft(ctx, draft.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Campaign(ctx, draft.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("deleted draft: %v", err)
	}
}

func TestCampaignLaunchPauseResumeCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	inst := dbtest.NewInstance(t, s, tenant.ID)
	c, err := ts.CreateCampaign(ctx, "Autumn")
	if err != nil {
		t.Fatal(err)
	}
	launch := db.Launch{InstanceIDs: []int64{inst.ID}, Pace: []byte(`{}`), Price: 1}
	if _, err := ts.LaunchCampaign(ctx, c.ID, launch); !errors.Is(err, db.ErrNotDraft) {
		t.Errorf("a campaign without recipients launched: %v", err)
	}
	rs := []db.Recipient{{RowNumber: 2, Phone: "+34600000001"}, {RowNumber: 3, Phone: "+34600000002"}}
	if err := ts.ReplaceRecipients(ctx, c.ID, rs, nil); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(time.Hour)
	launch.At = &at
	got, err := ts.LaunchCampaign(ctx, c.ID, launch)
	if err != nil || got.State != db.CampaignScheduled || len(got.InstanceIDs) != 1 || got.InstanceIDs[0] != inst.ID {
		t.Fatalf("scheduled launch = %+v (%v)", got, err)
	}
	if _, err := ts.LaunchCampaign(ctx, c.ID, launch); !errors.Is(err, db.ErrNotDraft) {
		t.Errorf("launched twice: %v", err)
	}
	if ok, err := ts.PauseCampaign(ctx, c.ID, "Paused by you."); !ok || err != nil {
		t.Errorf("pause: %v %v", ok, err)
	}
	if ok, _ := ts.PauseCampaign(ctx, c.ID, "again"); ok {
		t.Error("paused a paused campaign")
	}
	if ok, err := ts.ResumeCampaign(ctx, c.ID); !ok || err != nil {
		t.Errorf("resume: %v %v", ok, err)
	}
	if ok, err := ts.CancelCampaign(ctx, c.ID); !ok || err != nil {
		t.Errorf("cancel: %v %v", ok, err)
	}
	counts, _ := ts.CampaignCounts(ctx, c.ID)
	if counts.Skipped != 2 || counts.Pending != 0 {
		t.Errorf("after cancelling: %+v", counts)
	}
	if ok, _ := ts.ResumeCampaign(ctx, c.ID); ok {
		t.Error("resumed a cancelled campaign")
	}
	other := s.Tenant(dbtestOtherTenant(t, s))
	if _, err := other.PauseCampaign(ctx, c.ID, "x"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("another tenant paused it: %v", err)
	}
}

func dbtestOtherTenant(t *testing.T, s *db.Store) int64 {
	t.Helper()
	tenant, _ := dbtest.NewTenant(t, s)
	return tenant.ID
}

func TestOptedOutPhones(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	alice, _ := dbtest.NewTenant(t, s)
	mallory, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(alice.ID)
	out, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+34600112233"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+34600112244"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.SetOptOut(ctx, out.ID, true); err != nil {
		t.Fatal(err)
	}
	got, err := ts.OptedOutPhones(ctx)
	if err != nil || len(got) != 1 || !got["+34600112233"] {
		t.Errorf("OptedOutPhones = %v, %v", got, err)
	}
	if got, _ := s.Tenant(mallory.ID).OptedOutPhones(ctx); len(got) != 0 {
		t.Errorf("another tenant sees %v", got)
	}
}

// sendingCampaign launches a campaign of n recipients on inst and hands
// every recipient's first message to the outbox, as the dispatcher does.
func sendingCampaign(t *testing.T, ts *db.TenantStore, inst *db.Instance, n int) (*db.Campaign, []db.Message) {
	t.Helper()
	ctx := context.Background()
	c, err := ts.CreateCampaign(ctx, "Retry sale")
	if err != nil {
		t.Fatal(err)
	}
	rs := make([]db.Recipient, n)
	for i := range rs {
		rs[i] = db.Recipient{RowNumber: i + 2, Phone: fmt.Sprintf("+3461%07d", i)}
	}
	if err := ts.ReplaceRecipients(ctx, c.ID, rs, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.LaunchCampaign(ctx, c.ID, db.Launch{InstanceIDs: []int64{inst.ID}, Pace: []byte(`{}`), Price: 1}); err != nil {
		t.Fatal(err)
	}
	var ms []db.Message
	for range n {
		ms = append(ms, queueNext(t, ts, inst))
	}
	return c, ms
}

// queueNext hands the number's next recipient to the outbox, charged one
// credit, keyed as the dispatcher keys it.
func queueNext(t *testing.T, ts *db.TenantStore, inst *db.Instance) db.Message {
	t.Helper()
	ctx := context.Background()
	r, _, err := ts.NextRecipient(ctx, inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	ct, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: r.Phone})
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("campaign:%d:%d", r.ID, r.Retries)
	m, err := ts.QueueMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: ct.ID, OutboxKey: &key, Sender: db.SenderCampaign,
		ChatKind: db.ContactDirect, Type: "text", Body: "Hello", ChargeRef: "msg:" + key}, "", 1, "Campaign", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.MarkRecipientQueued(ctx, r, ct.ID, inst.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	return *m
}

func TestRetryFailedRecipients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	inst := dbtest.NewInstance(t, s, tenant.ID)
	c, ms := sendingCampaign(t, ts, inst, 3)
	if _, err := ts.MarkMessageSent(ctx, ms[0].ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.FailMessage(ctx, ms[1].ID, "WhatsApp refused the message."); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.MarkMessageSent(ctx, ms[2].ID, ""); err != nil {
		t.Fatal(err)
	}
	if ids, _ := ts.FinishCampaigns(ctx); len(ids) != 1 || ids[0] != c.ID {
		t.Fatalf("finished %v", ids)
	}
	before, _ := ts.CreditBalance(ctx)

	n, err := ts.RetryFailedRecipients(ctx, c.ID)
	if err != nil || n != 1 {
		t.Fatalf("retry = %d, %v", n, err)
	}
	got, _ := ts.Campaign(ctx, c.ID)
	if got.State != db.CampaignSending || got.FinishedAt != nil {
		t.Errorf("after the retry the campaign is %s (finished %v)", got.State, got.FinishedAt)
	}
	rs, _, _ := ts.Recipients(ctx, c.ID, db.Page{})
	if r := rs[1]; r.State != db.RecipientPending || r.Retries != 1 || r.MessageID != nil || r.InstanceID != nil {
		t.Errorf("retried recipient = %+v", r)
	}
	if r := rs[0]; r.State != db.RecipientQueued || r.Retries != 0 || r.MessageID == nil || *r.MessageID != ms[0].ID {
		t.Errorf("sent recipient changed: %+v", r)
	}
	// Nothing failed now: a second retry does nothing.
	if n, err := ts.RetryFailedRecipients(ctx, c.ID); n != 0 || err != nil {
		t.Errorf("second retry = %d, %v", n, err)
	}

	// The new attempt is a new message, charged once more.
	again := queueNext(t, ts, inst)
	if again.ID == ms[1].ID || *again.OutboxKey != fmt.Sprintf("campaign:%d:1", rs[1].ID) {
		t.Errorf("the retry reused the failed message: %d %s", again.ID, *again.OutboxKey)
	}
	if after, _ := ts.CreditBalance(ctx); after != before-1 {
		t.Errorf("balance %d → %d, want one credit for the retry", before, after)
	}
	if ids, _ := ts.FinishCampaigns(ctx); len(ids) != 1 {
		t.Errorf("the retried campaign did not finish: %v", ids)
	}

	// A cancelled campaign and a draft refuse.
	if _, err := dbtest.DB(t).ExecContext(ctx, "UPDATE campaigns SET state = 'cancelled' WHERE id = ?", c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.RetryFailedRecipients(ctx, c.ID); !errors.Is(err, db.ErrCampaignCancelled) {
		t.Errorf("retry of a cancelled campaign: %v", err)
	}
	draft, _ := ts.CreateCampaign(ctx, "Draft")
	if _, err := ts.RetryFailedRecipients(ctx, draft.ID); !errors.Is(err, db.ErrNotLaunched) {
		t.Errorf("retry of a draft: %v", err)
	}
}

// TestRequeueUnsentAndCampaignNumbers: a message failed because its number
// was not connected gives its recipient back to the campaign (reopened if
// done), other failures stay failed; the campaign's numbers say how many
// each sent.
func TestRequeueUnsentAndCampaignNumbers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	inst := dbtest.NewInstance(t, s, tenant.ID)
	c, ms := sendingCampaign(t, ts, inst, 3)
	const notConnected = "The WhatsApp number is not connected (test)."
	if _, err := ts.FailMessage(ctx, ms[0].ID, notConnected); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.FailMessage(ctx, ms[1].ID, "WhatsApp refused the message."); err != nil {
		t.Fatal(err)
	}
	if ids, _ := ts.FinishCampaigns(ctx); len(ids) != 1 {
		t.Fatalf("finished %v", ids)
	}
	nums, err := ts.CampaignNumbers(ctx, c.ID)
	if err != nil || len(nums) != 1 || nums[0].ID != inst.ID || nums[0].Sent != 3 || nums[0].Name != "Test number" || nums[0].Connected() {
		t.Errorf("numbers = %+v, %v", nums, err)
	}

	n, err := s.RequeueUnsentAllTenants(ctx, notConnected)
	if err != nil || n != 1 {
		t.Fatalf("requeued %d, %v", n, err)
	}
	rs, _, _ := ts.Recipients(ctx, c.ID, db.Page{})
	if rs[0].State != db.RecipientPending || rs[0].Retries != 1 || rs[1].State != db.RecipientQueued {
		t.Errorf("recipients after the requeue: %+v / %+v", rs[0], rs[1])
	}
	if got, _ := ts.Campaign(ctx, c.ID); got.State != db.CampaignSending {
		t.Errorf("campaign %s after the requeue, want sending", got.State)
	}
	if n, _ := s.RequeueUnsentAllTenants(ctx, notConnected); n != 0 {
		t.Errorf("requeued %d again", n)
	}
	if nums, _ := ts.CampaignNumbers(ctx, c.ID); len(nums) != 1 || nums[0].Sent != 2 {
		t.Errorf("numbers after the requeue = %+v", nums)
	}
}

// TestNumbersOfATenantDispatchWithoutDeadlock: two numbers of a tenant
// dispatch at once, each writing a new contact and then charging its
// message, as the dispatcher does; both commit (before the pace lock took
// the tenant's lock first, the second charge deadlocked on the first's key
// share of the tenant row).
func TestNumbersOfATenantDispatchWithoutDeadlock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	insts := []*db.Instance{dbtest.NewInstance(t, s, tenant.ID), dbtest.NewInstance(t, s, tenant.ID)}
	written := []chan struct{}{make(chan struct{}, 1), make(chan struct{}, 1)}
	errs := make(chan error, 2)
	for i, inst := range insts {
		go func() {
			errs <- ts.RunInTx(ctx, func(ctx context.Context, tx *db.TenantStore) error {
				if _, err := tx.LockNumberPace(ctx, inst.ID); err != nil {
					return err
				}
				if _, _, err := tx.UpsertContact(ctx, db.ContactIdentity{Phone: fmt.Sprintf("+3462%07d", i)}); err != nil {
					return err
				}
				written[i] <- struct{}{}
				// Wait for the other number to write its contact too, if
				// it can get that far.
				select {
				case <-written[1-i]:
				case <-time.After(500 * time.Millisecond):
				}
				_, err := tx.Charge(ctx, 1, "Campaign", fmt.Sprintf("msg:deadlock:%d", i))
				return err
			})
		}()
	}
	for range insts {
		if err := <-errs; err != nil {
			t.Errorf("dispatch: %v", err)
		}
	}
}
