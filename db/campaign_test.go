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
