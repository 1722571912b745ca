package app_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// sendForm is the sending step's form with safe values; fields override.
func sendForm(tok string, numbers []string, fields ...string) url.Values {
	v := url.Values{"_csrf": {tok}, "number": numbers, "when": {"now"}, "per_minute": {"60"}, "daily_cap": {"300"},
		"pause_every": {"0"}, "pause_minutes": {"5"}, "quiet_start": {"21:00"}, "quiet_end": {"08:00"}, "action": {"launch"}}
	for i := 0; i+1 < len(fields); i += 2 {
		v.Set(fields[i], fields[i+1])
	}
	return v
}

// draftToSend uploads leadsCSV (3 recipients) into a new campaign with a
// message, and returns its base path.
func draftToSend(t *testing.T, b *browser) (int64, string) {
	t.Helper()
	id := newCampaign(t, b)
	base := fmt.Sprintf("/campaigns/%d", id)
	wantRedirect(t, b.upload(base+"/upload", b.csrf(base+"/upload"), "leads.csv", []byte(leadsCSV)), base+"/map")
	tok := b.csrf(base + "/message")
	wantRedirect(t, b.post(base+"/message", url.Values{"_csrf": {tok}, "name": {"Spring Sale"}, "kind": {"text"},
		"text": {"Hola {{nombre|amigo}}", "", "", "", ""}, "next": {"send"}}), base+"/send")
	return id, base
}

func TestCampaignSendStepLaunches(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	b, tenantID := wizardTenant(t, a, "Launch Shop")
	ts := a.store.Tenant(tenantID)
	inst := a.connect(t, b, tenantID)
	if _, err := dbtest.DB(t).ExecContext(ctx, "UPDATE instances SET status_changed_at = now() - interval '30 days' WHERE id = ?", inst.ID); err != nil {
		t.Fatal(err)
	}
	id, base := draftToSend(t, b)
	num := []string{fmt.Sprint(inst.ID)}

	r := b.get(base + "/send")
	wantStatus(t, r, http.StatusOK)
	if testid(r, "send-number").AttrOr("checked", "no") == "no" {
		t.Error("the connected number is not offered checked")
	}
	if got := testid(r, "estimate-cost").Text(); !strings.Contains(got, "3 credits") || !strings.Contains(got, "3 messages") {
		t.Errorf("cost = %q", got)
	}
	if testid(r, "estimate-short").Length() != 0 {
		t.Error("400 credits warned as short for 3 messages")
	}

	// Problems at their fields, nothing launched.
	tok := b.csrf(base + "/send")
	r = b.post(base+"/send", sendForm(tok, num, "per_minute", "0", "when", "later", "at", "2020-01-01T10:00"))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if testid(r, "error-per_minute").Length() != 1 || !strings.Contains(testid(r, "error-at").Text(), "passed") {
		t.Errorf("errors: %s", abbreviate(testid(r, "send-form").Text()))
	}
	r = b.post(base+"/send", sendForm(tok, nil))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if testid(r, "error-numbers").Length() != 1 {
		t.Error("a launch without a number is not refused at the numbers")
	}
	r = b.post(base+"/send", sendForm(tok, []string{"999999"}))
	wantStatus(t, r, http.StatusUnprocessableEntity) // another tenant's or unknown number: not taken
	if cp, _ := ts.Campaign(ctx, id); cp.State != db.CampaignDraft {
		t.Fatalf("launched by a bad form: %s", cp.State)
	}

	// The estimate follows the pace.
	r = b.post(base+"/estimate", sendForm(tok, num), "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	if !finishesSoon(testid(r, "estimate-finish").Text()) {
		t.Errorf("estimate: %s", abbreviate(r.body))
	}

	// Saved, then launched.
	wantRedirect(t, b.post(base+"/send", sendForm(tok, num, "action", "save", "per_minute", "30")), base+"/send")
	if got := testid(b.get(base+"/send"), "send-form").Find(`input[name="per_minute"]`).AttrOr("value", ""); got != "30" {
		t.Errorf("saved pace shows %q", got)
	}
	wantRedirect(t, b.post(base+"/send", sendForm(tok, num)), base)
	cp, _ := ts.Campaign(ctx, id)
	if cp.State != db.CampaignSending || !slices.Equal(cp.InstanceIDs, []int64{inst.ID}) || cp.Price != 1 || cp.QuietStart != nil {
		t.Errorf("launched = %s %v price %d quiet %v", cp.State, cp.InstanceIDs, cp.Price, cp.QuietStart)
	}
	// Every recipient is a contact tagged with the campaign.
	rs, _, _ := ts.Recipients(ctx, id, db.Page{Number: 1, PerPage: 10})
	for _, r := range rs {
		if r.ContactID == nil {
			t.Fatalf("recipient %s has no contact", r.Phone)
		}
		c, _ := ts.Contact(ctx, *r.ContactID)
		if !slices.Contains(c.Tags, "spring sale") {
			t.Errorf("contact %s tags = %v", r.Phone, c.Tags)
		}
	}

	// The page follows it to the end.
	waitFor(t, 30*time.Second, "the campaign to finish", func() bool {
		r := b.get(base + "/progress")
		return strings.Contains(testid(r, "campaign-done").Text(), "3 of 3") && testid(r, "campaign-state").Text() == "Done"
	})
	if got := len(a.env.sim.Sent(inst.SessionName)); got != 3 {
		t.Errorf("gateway got %d messages", got)
	}
	r = b.get(base)
	wantStatus(t, r, http.StatusOK)
	if n := testid(r, "recipient-row").Length(); n != 3 {
		t.Errorf("%d recipient rows", n)
	}
	if testid(r, "campaign-pause").Length()+testid(r, "campaign-cancel").Length() != 0 {
		t.Error("a finished campaign offers pause or cancel")
	}
	if got := testid(b.get("/campaigns"), "campaign-sent").First().Text(); got != "3" {
		t.Errorf("list says %q sent", got)
	}

	// The results download, one line per recipient.
	r = b.get(base + "/results.csv")
	wantStatus(t, r, http.StatusOK)
	lines, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(r.body, "\uFEFF"))).ReadAll()
	if err != nil || len(lines) != 4 || lines[1][1] != "+34600112233" || !slices.Contains([]string{"sent", "delivered", "read"}, lines[1][3]) {
		t.Errorf("results = %v (%v)", lines, err)
	}
}

func TestCampaignActionsAndScope(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	b, tenantID := wizardTenant(t, a, "Schedule Shop")
	ts := a.store.Tenant(tenantID)
	inst := a.connect(t, b, tenantID)
	id, base := draftToSend(t, b)
	tok := b.csrf(base + "/send")
	at := time.Now().In(time.UTC).Add(30 * time.Hour).Format("2006-01-02T15:04")
	wantRedirect(t, b.post(base+"/send", sendForm(tok, []string{fmt.Sprint(inst.ID)}, "when", "later", "at", at, "quiet", "on")), base)
	cp, _ := ts.Campaign(ctx, id)
	if cp.State != db.CampaignScheduled || cp.ScheduledAt == nil || cp.QuietStart == nil || *cp.QuietStart != 21*60 {
		t.Fatalf("scheduled = %s %v %v", cp.State, cp.ScheduledAt, cp.QuietStart)
	}
	if got := testid(b.get("/dashboard"), "dash-campaign").Text(); !strings.Contains(got, "Spring Sale") || !strings.Contains(got, "Scheduled") {
		t.Errorf("dashboard card = %q", got)
	}
	r := b.get(base)
	if !strings.HasPrefix(testid(r, "campaign-when").Text(), "Starts") {
		t.Errorf("when = %q", testid(r, "campaign-when").Text())
	}

	// Another tenant sees nothing and changes nothing.
	other, _ := a.tenantOf(t, "Nosy Shop")
	otok := other.csrf("/campaigns")
	for _, r := range []*response{other.get(base), other.get(base + "/progress"), other.get(base + "/results.csv"),
		other.post(base+"/cancel", url.Values{"_csrf": {otok}})} {
		wantStatus(t, r, http.StatusNotFound)
	}

	// Pause, resume (scheduled again: its time has not come), cancel.
	tok = b.csrf(base)
	r = b.post(base+"/pause", url.Values{"_csrf": {tok}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	if testid(r, "campaign-state").Text() != "Paused" || testid(r, "campaign-resume").Length() != 1 {
		t.Errorf("after pause: %s", abbreviate(r.body))
	}
	wantRedirect(t, b.post(base+"/resume", url.Values{"_csrf": {tok}}), base)
	if cp, _ := ts.Campaign(ctx, id); cp.State != db.CampaignScheduled {
		t.Errorf("resumed before its time: %s", cp.State)
	}
	wantRedirect(t, b.post(base+"/cancel", url.Values{"_csrf": {tok}}), base)
	counts, _ := ts.CampaignCounts(ctx, id)
	if cp, _ := ts.Campaign(ctx, id); cp.State != db.CampaignCancelled || counts.Skipped != 3 {
		t.Errorf("cancelled: %s, %+v", cp.State, counts)
	}
	r = b.post(base+"/resume", url.Values{"_csrf": {tok}}, "HX-Request", "true")
	if testid(r, "campaign-state").Text() != "Cancelled" || testid(r, "campaign-resume").Length() != 0 {
		t.Errorf("resume of a cancelled campaign: %s", abbreviate(r.body))
	}
	wantStatus(t, b.post(base+"/explode", url.Values{"_csrf": {tok}}), http.StatusNotFound)
	if n := testid(b.get("/dashboard"), "dash-campaign").Length(); n != 0 {
		t.Errorf("a cancelled campaign is on the dashboard (%d)", n)
	}
	if got := len(a.env.sim.Sent(inst.SessionName)); got != 0 {
		t.Errorf("a cancelled scheduled campaign sent %d messages", got)
	}
}

// TestCampaignPageRetriesAndWarns: the page shows a failed message with its
// reason and a Retry button that sends it again once; a disconnected number
// is named with what it means for the campaign.
func TestCampaignPageRetriesAndWarns(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	s := newCampaignShop(t, a, 3)
	refused := s.rs[2].Phone
	a.env.sim.RefuseSendsTo(refused, true)
	defer a.env.sim.RefuseSendsTo(refused, false)
	s.launch(t, a, campaign.Pace{PerMinute: 60})
	base := fmt.Sprintf("/campaigns/%d", s.c.ID)
	waitFor(t, 30*time.Second, "the campaign to end with a failure", func() bool {
		r := s.b.get(base + "/progress")
		return testid(r, "campaign-state").Text() == "Done" && testid(r, "stat-failed").Text() == "1"
	})
	r := s.b.get(base + "/recipients?status=failed")
	if testid(r, "recipient-row").Length() != 1 || testid(r, "recipient-reason").Text() == "" {
		t.Errorf("failed rows: %s", abbreviate(testid(r, "campaign-recipients").Text()))
	}
	if got := testid(s.b.get(base), "campaign-numbers").Text(); !strings.Contains(got, "2 sent") && !strings.Contains(got, "3 sent") {
		t.Errorf("numbers = %q", got)
	}
	a.env.sim.RefuseSendsTo(refused, false)
	tok := s.b.csrf(base)
	r = s.b.post(base+"/retry", url.Values{"_csrf": {tok}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	if st := testid(r, "campaign-state").Text(); st != "Sending" {
		t.Errorf("after retry: %q", st)
	}
	waitFor(t, 30*time.Second, "the retried message to go", func() bool {
		r := s.b.get(base + "/progress")
		return testid(r, "campaign-state").Text() == "Done" && testid(r, "stat-failed").Text() == "0" && testid(r, "stat-sent").Text() == "3"
	})
	chat := strings.TrimPrefix(refused, "+") + "@c.us"
	if n := len(s.sent(a)[chat]); n != 1 {
		t.Errorf("the retried lead got %d messages", n)
	}
	r = s.b.post(base+"/retry", url.Values{"_csrf": {tok}})
	wantRedirect(t, r, base) // nothing left to retry: said, nothing sent

	// A disconnected number is named on the page of a campaign under way.
	if _, err := dbtest.DB(t).ExecContext(ctx, "UPDATE campaigns SET state = 'paused' WHERE id = ?", s.c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := dbtest.DB(t).ExecContext(ctx, "UPDATE instances SET status = 'disconnected' WHERE id = ?", s.inst.ID); err != nil {
		t.Fatal(err)
	}
	if got := testid(s.b.get(base+"/progress"), "number-warning").Text(); !strings.Contains(got, "disconnected") || !strings.Contains(got, "waits until it reconnects") {
		t.Errorf("warning = %q", got)
	}
}

// finishesSoon reports whether an estimate says the campaign ends within
// minutes: "today at 21:24", or "tomorrow, 00:00" when run just before
// midnight.
func finishesSoon(s string) bool {
	return strings.Contains(s, "today at") || strings.Contains(s, "tomorrow, 00:0")
}
