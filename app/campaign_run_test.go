package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// chatOf is the gateway chat of an E.164 phone number.
func chatOf(phone string) string { return strings.TrimPrefix(phone, "+") + "@c.us" }

func (s *campaignShop) counts(t testing.TB) db.CampaignCounts {
	t.Helper()
	c, err := s.ts.CampaignCounts(context.Background(), s.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recipients returns the campaign's recipients in file order.
func (s *campaignShop) recipients(t testing.TB) []db.Recipient {
	t.Helper()
	rs, _, err := s.ts.Recipients(context.Background(), s.c.ID, db.Page{PerPage: 100})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// campaignSends counts the campaign's messages the gateway received, per
// chat: replies such as an opt-out confirmation are not the campaign's.
func (s *campaignShop) campaignSends(a *testApp) map[string]int {
	out := map[string]int{}
	for chat, ms := range s.sent(a) {
		for _, m := range ms {
			if strings.Contains(m.Text, "our spring sale starts today") {
				out[chat]++
			}
		}
	}
	return out
}

// wantEachOnce checks that every recipient but those skipped got the
// campaign's message exactly once, and the skipped none.
func (s *campaignShop) wantEachOnce(t testing.TB, a *testApp, skipped ...string) {
	t.Helper()
	got := s.campaignSends(a)
	for i, r := range s.rs {
		want := 1
		for _, p := range skipped {
			if p == r.Phone {
				want = 0
			}
		}
		if n := got[chatOf(r.Phone)]; n != want {
			t.Errorf("recipient %d (%s) got the campaign %d times, want %d", i, r.Phone, n, want)
		}
	}
}

// stableFor waits, up to within, until f gives the same value for quiet,
// and returns it.
func stableFor(t testing.TB, within, quiet time.Duration, what string, f func() int) int {
	t.Helper()
	deadline := time.Now().Add(within)
	last, since := f(), time.Now()
	for time.Since(since) < quiet {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s to stay put for %s (last %d)", within, what, quiet, last)
		}
		time.Sleep(50 * time.Millisecond)
		if v := f(); v != last {
			last, since = v, time.Now()
		}
	}
	return last
}

// TestCampaignRetriesFailedRecipients: sends the gateway refuses end
// failed and refunded while the others go out and the campaign ends done;
// retried, the failed ones go out once more, each charged once, and the
// campaign ends done again.
func TestCampaignRetriesFailedRecipients(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	s := newCampaignShop(t, a, 5)
	refused := []string{s.rs[1].Phone, s.rs[3].Phone}
	for _, p := range refused {
		a.env.sim.RefuseSendsTo(p, true)
		defer a.env.sim.RefuseSendsTo(p, false)
	}
	before, _ := s.ts.CreditBalance(ctx)
	s.launch(t, a, campaign.Pace{PerMinute: 60})
	waitFor(t, 30*time.Second, "the campaign to finish with two failed", func() bool {
		return s.state(t) == db.CampaignDone && len(s.failed(t)) == 2
	})
	s.wantEachOnce(t, a, refused...)
	if after, _ := s.ts.CreditBalance(ctx); after != before-3 {
		t.Errorf("balance %d → %d, want 3 credits charged (2 refunded)", before, after)
	}

	for _, p := range refused {
		a.env.sim.RefuseSendsTo(p, false)
	}
	n, err := s.ts.RetryFailedRecipients(ctx, s.c.ID)
	if err != nil || n != 2 {
		t.Fatalf("retry = %d, %v", n, err)
	}
	if st := s.state(t); st != db.CampaignSending {
		t.Errorf("after the retry the campaign is %s", st)
	}
	// The sweeper asks for the number's dispatch.
	waitFor(t, 30*time.Second, "the campaign to finish again", func() bool {
		return s.state(t) == db.CampaignDone && s.counts(t).Pending == 0 && len(s.failed(t)) == 0
	})
	s.wantEachOnce(t, a)
	if after, _ := s.ts.CreditBalance(ctx); after != before-5 {
		t.Errorf("balance %d → %d, want 5 credits charged", before, after)
	}
	for _, r := range s.recipients(t) {
		want := 0
		if r.Phone == refused[0] || r.Phone == refused[1] {
			want = 1
		}
		if r.Retries != want || r.State != db.RecipientQueued {
			t.Errorf("recipient %s: %s after %d retries, want %d", r.Phone, r.State, r.Retries, want)
		}
	}
}

// failed returns the phones of the recipients whose message failed.
func (s *campaignShop) failed(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, r := range s.recipients(t) {
		if r.MessageID == nil {
			continue
		}
		m, err := s.ts.Message(context.Background(), *r.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status == db.MessageFailed {
			out = append(out, r.Phone)
		}
	}
	return out
}

// TestCampaignSkipsLeadWhoOptsOutMidRun: a lead who writes STOP while the
// campaign is sending is skipped, "Opted out", and never gets it; the
// others do.
func TestCampaignSkipsLeadWhoOptsOutMidRun(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	s := newCampaignShop(t, a, 6)
	lead := s.rs[4]
	s.launch(t, a, campaign.Pace{PerMinute: 30}) // one every 2 s
	waitFor(t, 20*time.Second, "the first message", func() bool { return s.counts(t).Queued >= 1 })
	if _, err := a.env.sim.LeadSays(s.inst.SessionName, lead.Phone, "Lead 4", "STOP"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the opt-out", func() bool {
		c, err := s.ts.ContactByPhone(ctx, lead.Phone)
		return err == nil && c.OptedOutAt != nil
	})
	if n := s.counts(t).Queued; n >= 5 {
		t.Fatalf("%d sent before the opt-out was recorded: the test's pace is too fast for this machine", n)
	}
	waitFor(t, 40*time.Second, "the campaign to finish", func() bool { return s.state(t) == db.CampaignDone })
	s.wantEachOnce(t, a, lead.Phone)
	for _, r := range s.recipients(t) {
		if r.Phone == lead.Phone && (r.State != db.RecipientSkipped || r.Reason != "Opted out" || r.MessageID != nil) {
			t.Errorf("the opted-out lead's row: %+v", r)
		}
	}
	if c := s.counts(t); c.Queued != 5 || c.Skipped != 1 {
		t.Errorf("counts = %+v", c)
	}
}

// stopSession stops a number's session on the gateway, as when WhatsApp
// drops it: the gateway tells aibud (session.status STOPPED).
func stopSession(t testing.TB, a *testApp, inst *db.Instance) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, a.env.simURL+"/api/sessions/"+inst.SessionName+"/stop", nil)
	req.Header.Set("X-Api-Key", simAPIKey)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("stop %s: %d", inst.SessionName, res.StatusCode)
	}
}

func (s *campaignShop) numberStatus(t testing.TB, id int64) string {
	t.Helper()
	inst, err := s.ts.Instance(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return inst.Status
}

// TestCampaignCarriesOnWhenANumberDisconnects: of a campaign's two
// numbers, one disconnects mid-run; the other sends the rest, nobody gets
// the message twice, and the campaign's numbers say which is disconnected.
func TestCampaignCarriesOnWhenANumberDisconnects(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	s := newCampaignShopOn(t, a, 10, 2)
	gone, stays := s.insts[1], s.insts[0]
	before, _ := s.ts.CreditBalance(ctx)
	s.launch(t, a, campaign.Pace{PerMinute: 30})
	waitFor(t, 20*time.Second, "both numbers to send", func() bool {
		return len(a.env.sim.Sent(gone.SessionName)) >= 1 && len(a.env.sim.Sent(stays.SessionName)) >= 1
	})
	stopSession(t, a, gone)
	sentByGone := len(a.env.sim.Sent(gone.SessionName))
	waitFor(t, 10*time.Second, "the number to show disconnected", func() bool {
		return s.numberStatus(t, gone.ID) == db.InstanceDisconnected
	})
	nums, err := s.ts.CampaignNumbers(ctx, s.c.ID)
	if err != nil || len(nums) != 2 || nums[0].ID != stays.ID || !nums[0].Connected() || nums[1].Connected() {
		t.Errorf("campaign numbers = %+v, %v", nums, err)
	}
	waitFor(t, 60*time.Second, "the campaign to finish", func() bool {
		return s.state(t) == db.CampaignDone && len(s.failed(t)) == 0
	})
	s.wantEachOnce(t, a)
	if n := len(a.env.sim.Sent(gone.SessionName)); n != sentByGone {
		t.Errorf("the stopped number sent %d after it stopped", n-sentByGone)
	}
	if after, _ := s.ts.CreditBalance(ctx); after != before-10 {
		t.Errorf("balance %d → %d, want 10 credits charged", before, after)
	}
	nums, _ = s.ts.CampaignNumbers(ctx, s.c.ID)
	if len(nums) != 2 || nums[0].Sent+nums[1].Sent != 10 || nums[1].Sent != sentByGone {
		t.Errorf("sent per number = %+v, want 10 with %d by the stopped one", nums, sentByGone)
	}
}

// TestCampaignWaitsForItsOnlyNumber: a campaign's only number disconnects
// mid-run; its share waits (pending, the campaign still sending) and goes
// out once it reconnects, each message once.
func TestCampaignWaitsForItsOnlyNumber(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	s := newCampaignShop(t, a, 6)
	s.launch(t, a, campaign.Pace{PerMinute: 60})
	waitFor(t, 20*time.Second, "two messages", func() bool { return s.counts(t).Queued >= 2 })
	stopSession(t, a, s.inst)
	waitFor(t, 10*time.Second, "the number to show disconnected", func() bool {
		return s.numberStatus(t, s.inst.ID) == db.InstanceDisconnected
	})
	// Nothing moves for three pace intervals, except a refused message
	// going back to pending.
	pending := stableFor(t, 20*time.Second, 3*time.Second, "the pending count", func() int { return s.counts(t).Pending })
	if pending == 0 || s.state(t) != db.CampaignSending {
		t.Fatalf("with its number disconnected: %d pending, campaign %s", pending, s.state(t))
	}
	sentWhileDown := len(a.env.sim.Sent(s.inst.SessionName))

	prov, err := whatsapp.ProviderFor(ctx, a.store, a.env.gateways, s.inst)
	if err != nil {
		t.Fatal(err)
	}
	if err := prov.StartSession(ctx, s.inst.SessionName); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the number to reconnect", func() bool {
		return s.numberStatus(t, s.inst.ID) == db.InstanceConnected
	})
	s.oldNumbers(t)
	waitFor(t, 60*time.Second, "the campaign to finish", func() bool {
		return s.state(t) == db.CampaignDone && len(s.failed(t)) == 0
	})
	s.wantEachOnce(t, a)
	if n := len(a.env.sim.Sent(s.inst.SessionName)); n-sentWhileDown != pending {
		t.Errorf("%d sent after reconnecting, want the %d pending", n-sentWhileDown, pending)
	}
}

// TestCampaignMessageRefusedByAStoppedNumberIsNotLost: the gateway stops
// a number without aibud hearing of it, so its campaign messages are handed
// to the outbox and refused (failed, refunded); they go back to the
// campaign and go out once the number works again, each once, charged once.
func TestCampaignMessageRefusedByAStoppedNumberIsNotLost(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	s := newCampaignShop(t, a, 5)
	before, _ := s.ts.CreditBalance(ctx)
	s.launch(t, a, campaign.Pace{PerMinute: 60})
	waitFor(t, 20*time.Second, "a message", func() bool { return s.counts(t).Queued >= 1 })
	a.env.sim.Mute(s.inst.SessionName, "session.status", true)
	defer a.env.sim.Mute(s.inst.SessionName, "session.status", false)
	stopSession(t, a, s.inst)
	waitFor(t, 20*time.Second, "a refused message given back to the campaign", func() bool {
		for _, r := range s.recipients(t) {
			if r.Retries > 0 {
				return true
			}
		}
		return false
	})
	if st := s.state(t); st != db.CampaignSending {
		t.Errorf("campaign %s while its number is stopped", st)
	}
	prov, err := whatsapp.ProviderFor(ctx, a.store, a.env.gateways, s.inst)
	if err != nil {
		t.Fatal(err)
	}
	if err := prov.StartSession(ctx, s.inst.SessionName); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the campaign to finish", func() bool {
		return s.state(t) == db.CampaignDone && len(s.failed(t)) == 0
	})
	s.wantEachOnce(t, a)
	if after, _ := s.ts.CreditBalance(ctx); after != before-5 {
		t.Errorf("balance %d → %d, want 5 credits charged", before, after)
	}
}

// TestCampaignPausesAndResumesWithinSeconds: paused mid-run, the campaign
// sends nothing more (at most the message being handed over as the pause
// came); resumed, it sends the rest, each once.
func TestCampaignPausesAndResumesWithinSeconds(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	s := newCampaignShop(t, a, 8)
	s.launch(t, a, campaign.Pace{PerMinute: 60})
	waitFor(t, 20*time.Second, "two messages", func() bool { return s.counts(t).Queued >= 2 })
	if ok, err := s.ts.PauseCampaign(ctx, s.c.ID, "Paused by you."); !ok || err != nil {
		t.Fatalf("pause: %v %v", ok, err)
	}
	atPause := s.counts(t).Queued
	gateway := func() int { return len(a.env.sim.Sent(s.inst.SessionName)) }
	// Stable for three pace intervals: nothing more goes out.
	sent := stableFor(t, 10*time.Second, 3*time.Second, "the gateway's count", gateway)
	if c := s.counts(t); sent > atPause+1 || c.Queued != sent || s.state(t) != db.CampaignPaused {
		t.Fatalf("paused at %d: %d at the gateway, counts %+v, campaign %s", atPause, sent, c, s.state(t))
	}
	if ok, err := s.ts.ResumeCampaign(ctx, s.c.ID); !ok || err != nil {
		t.Fatalf("resume: %v %v", ok, err)
	}
	waitFor(t, 30*time.Second, "the campaign to finish", func() bool { return s.state(t) == db.CampaignDone })
	s.wantEachOnce(t, a)
}

// TestCampaignCancelsWithinSeconds: cancelled mid-run, the campaign sends
// nothing more, and the recipients not reached are skipped "Cancelled".
func TestCampaignCancelsWithinSeconds(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	s := newCampaignShop(t, a, 8)
	before, _ := s.ts.CreditBalance(ctx)
	s.launch(t, a, campaign.Pace{PerMinute: 60})
	waitFor(t, 20*time.Second, "two messages", func() bool { return s.counts(t).Queued >= 2 })
	if ok, err := s.ts.CancelCampaign(ctx, s.c.ID); !ok || err != nil {
		t.Fatalf("cancel: %v %v", ok, err)
	}
	atCancel := s.counts(t).Queued
	sent := stableFor(t, 10*time.Second, 3*time.Second, "the gateway's count", func() int {
		return len(a.env.sim.Sent(s.inst.SessionName))
	})
	c := s.counts(t)
	if sent > atCancel+1 || c.Queued != sent || c.Skipped != 8-sent || c.Pending != 0 || s.state(t) != db.CampaignCancelled {
		t.Fatalf("cancelled at %d: %d at the gateway, counts %+v, campaign %s", atCancel, sent, c, s.state(t))
	}
	for _, r := range s.recipients(t) {
		if r.State == db.RecipientSkipped && r.Reason != "Cancelled" {
			t.Errorf("skipped %s: %q", r.Phone, r.Reason)
		}
	}
	if after, _ := s.ts.CreditBalance(ctx); after != before-int64(sent) {
		t.Errorf("balance %d → %d, want %d charged", before, after, sent)
	}
}

// TestScheduledCampaignStartsOnTime: a campaign scheduled 3 s ahead waits
// and is started by the sweeper on time, with no task asked for.
func TestScheduledCampaignStartsOnTime(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	s := newCampaignShop(t, a, 3)
	at := time.Now().Add(3 * time.Second)
	s.launchAt(t, a, campaign.Pace{PerMinute: 60}, &at)
	if st := s.state(t); st != db.CampaignScheduled {
		t.Fatalf("campaign %s, want scheduled", st)
	}
	waitFor(t, 20*time.Second, "the first message", func() bool { return len(a.env.sim.Sent(s.inst.SessionName)) >= 1 })
	first := a.env.sim.Sent(s.inst.SessionName)[0].Time
	// The sweeper runs every second here; a task is picked up within one.
	if first.Before(at) || first.After(at.Add(4*time.Second)) {
		t.Errorf("first message %s after the scheduled time, want 0 to 4 s", first.Sub(at))
	}
	waitFor(t, 20*time.Second, "the campaign to finish", func() bool { return s.state(t) == db.CampaignDone })
	s.wantEachOnce(t, a)
}
