package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// TestKilledWorkerSendsACampaignOnce: a campaign of 12 is being sent, one a
// second, when the worker process is killed with SIGKILL; a fresh worker
// finishes it. Every recipient gets the message exactly once, charged
// exactly once, and the campaign ends done.
func TestKilledWorkerSendsACampaignOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	ctx := context.Background()
	e := newCrashEnv(t)
	ts, inst := e.shop(t)
	sqlDB := dbtest.DB(t)
	if _, err := sqlDB.ExecContext(ctx, "UPDATE instances SET status_changed_at = now() - interval '30 days' WHERE id = ?", inst.ID); err != nil {
		t.Fatal(err)
	}
	const n = 12
	c, rs := crashCampaign(t, ts, n)
	before, _ := ts.CreditBalance(ctx)
	pace, _ := json.Marshal(campaign.Pace{PerMinute: 60})
	w := e.startWorker(t)
	if _, err := ts.LaunchCampaign(ctx, c.ID, db.Launch{InstanceIDs: []int64{inst.ID}, Pace: pace, Price: 1}); err != nil {
		t.Fatal(err)
	}
	// The sweeper starts the dispatch; kill once a few went out.
	waitUntil(t, 30*time.Second, "four messages handed to the outbox", func() bool {
		counts, _ := ts.CampaignCounts(ctx, c.ID)
		return counts.Queued >= 4
	})
	w.kill()
	w = e.startWorker(t)
	waitUntil(t, 60*time.Second, "the campaign to finish", func() bool {
		got, _ := ts.Campaign(ctx, c.ID)
		var work int
		_ = sqlDB.QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE tenant_id = ? AND due_at IS NOT NULL", ts.TenantID()).Scan(&work)
		return got.State == db.CampaignDone && work == 0
	})

	delivered := map[string][]string{}
	for _, m := range e.sim.Sent(inst.SessionName) {
		delivered[strings.TrimSuffix(m.ChatID, "@c.us")] = append(delivered[strings.TrimSuffix(m.ChatID, "@c.us")], m.Text)
	}
	for i, r := range rs {
		if got := delivered[r.Phone[1:]]; len(got) != 1 || got[0] != fmt.Sprintf("Hello Lead %d!", i) {
			t.Errorf("recipient %d got %q, want one greeting", i, got)
		}
	}
	if after, _ := ts.CreditBalance(ctx); after != before-n {
		t.Errorf("balance %d → %d, want %d credits charged", before, after, n)
	}
	var stored int
	_ = sqlDB.QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE tenant_id = ? AND sender = 'campaign'", ts.TenantID()).Scan(&stored)
	if stored != n {
		t.Errorf("%d campaign messages stored, want %d\n%s", stored, n, tail(w.logs.String(), 2000))
	}
}

// crashCampaign is a draft "Hello {{name}}!" campaign of n recipients.
func crashCampaign(t *testing.T, ts *db.TenantStore, n int) (*db.Campaign, []db.Recipient) {
	t.Helper()
	ctx := context.Background()
	c, err := ts.CreateCampaign(ctx, "Crash sale")
	if err != nil {
		t.Fatal(err)
	}
	c.Body = "Hello {{name}}!"
	if err := ts.SaveCampaignDraft(ctx, c); err != nil {
		t.Fatal(err)
	}
	rs := make([]db.Recipient, n)
	for i := range rs {
		rs[i] = db.Recipient{RowNumber: i + 2, Phone: fmt.Sprintf("+1666%07d", time.Now().UnixNano()%1e6*10+int64(i)),
			Vars: map[string]string{"name": fmt.Sprintf("Lead %d", i)}}
	}
	if err := ts.ReplaceRecipients(ctx, c.ID, rs, nil); err != nil {
		t.Fatal(err)
	}
	return c, rs
}

// TestScheduledCampaignStartsAfterWorkerRestart: a campaign is scheduled
// 3 s ahead and the worker process is killed; a fresh worker starts it on
// time (the schedule is in the database, not in a task) and sends each
// message once.
func TestScheduledCampaignStartsAfterWorkerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	ctx := context.Background()
	e := newCrashEnv(t)
	ts, inst := e.shop(t)
	if _, err := dbtest.DB(t).ExecContext(ctx, "UPDATE instances SET status_changed_at = now() - interval '30 days' WHERE id = ?", inst.ID); err != nil {
		t.Fatal(err)
	}
	const n = 3
	c, rs := crashCampaign(t, ts, n)
	w := e.startWorker(t)
	pace, _ := json.Marshal(campaign.Pace{PerMinute: 60})
	at := time.Now().Add(3 * time.Second)
	if _, err := ts.LaunchCampaign(ctx, c.ID, db.Launch{InstanceIDs: []int64{inst.ID}, Pace: pace, Price: 1, At: &at}); err != nil {
		t.Fatal(err)
	}
	w.kill()
	e.startWorker(t)
	ready := time.Now()
	waitUntil(t, 30*time.Second, "the campaign to finish", func() bool {
		got, _ := ts.Campaign(ctx, c.ID)
		return got.State == db.CampaignDone
	})
	sent := e.sim.Sent(inst.SessionName)
	if len(sent) != n {
		t.Fatalf("%d messages sent, want %d", len(sent), n)
	}
	// The worker sweeps every 2 s and picks a due task up within a second.
	latest := at
	if ready.After(at) {
		latest = ready
	}
	if first := sent[0].Time; first.Before(at) || first.After(latest.Add(4*time.Second)) {
		t.Errorf("first message %s after the scheduled time (worker ready %s after it)", first.Sub(at), ready.Sub(at))
	}
	for i, r := range rs {
		var got int
		for _, m := range sent {
			if m.ChatID == r.Phone[1:]+"@c.us" {
				got++
			}
		}
		if got != 1 {
			t.Errorf("recipient %d got %d messages", i, got)
		}
	}
}
