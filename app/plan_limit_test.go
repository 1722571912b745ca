package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// changePlan moves a tenant to a plan through the console.
func changePlan(t *testing.T, ob *browser, tenantID int64, plan string) {
	t.Helper()
	page := fmt.Sprintf("/admin/tenants/%d", tenantID)
	wantRedirect(t, ob.post(page+"/plan", url.Values{"_csrf": {ob.csrf(page)}, "plan": {plan}, "reason": {"Test"}}), page)
}

// noNumbersPlan adds a plan (not on sale) allowing no number at all, so
// that a tenant's only number pauses on it.
func noNumbersPlan(t *testing.T) string {
	t.Helper()
	id := fmt.Sprintf("none-%d", time.Now().UnixNano())
	_, err := dbtest.DB(t).ExecContext(context.Background(),
		"INSERT INTO plans (id, name, instance_limit, active, sort_order) VALUES (?, 'No numbers', 0, false, 99)", id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPlanLimitPausesNumbers: on a plan allowing fewer numbers the number
// beyond it is paused: it still receives, but its AI stays silent and a
// manual reply fails clearly (refunded); the numbers page and the
// dashboard say so. Back on a larger plan it resumes and the AI answers.
func TestPlanLimitPausesNumbers(t *testing.T) {
	t.Parallel()
	owner := uniqueEmail("pause-owner")
	a := newTestApp(t, withAdmins(owner))
	ob := signedInOwner(t, a, owner)
	s := newAIShop(t, a, nil)
	changePlan(t, ob, s.ts.TenantID(), noNumbersPlan(t))
	if inst, _ := s.ts.Instance(context.Background(), s.inst.ID); inst.PausedAt == nil {
		t.Fatal("the number beyond the plan's limit is not paused")
	}

	lead := newLead()
	m := s.says(t, lead, "hello, anyone there?")
	s.staysSilent(t, m, lead, 0)
	before := s.balance(t)
	page := s.b.get(fmt.Sprintf("/contacts/%d", m.ContactID))
	if got := testid(page, "reply-form").Text(); !strings.Contains(got, "This number is paused") || testid(page, "reply-form").Find(`input[name="body"]`).Length() != 0 {
		t.Errorf("the reply form of a paused number says %q", strings.TrimSpace(got))
	}
	// A reply posted anyway (an old tab) fails clearly at the outbox.
	tok := s.b.csrf(fmt.Sprintf("/contacts/%d", m.ContactID))
	wantStatus(t, s.b.post(fmt.Sprintf("/contacts/%d/reply", m.ContactID), url.Values{"_csrf": {tok}, "body": {"Manual answer"}, "key": {"k1"}}), http.StatusSeeOther)
	waitFor(t, 10*time.Second, "the manual reply to fail", func() bool {
		return countRows(t, "SELECT count(*) FROM messages WHERE tenant_id = ? AND status = 'failed' AND error = ?", s.ts.TenantID(), whatsapp.ReasonPaused) == 1
	})
	if n := len(s.sentTo(lead)); n != 0 {
		t.Errorf("%d messages sent from a paused number", n)
	}
	if got := s.balance(t); got != before {
		t.Errorf("balance %d → %d: the failed message was not refunded", before, got)
	}
	for _, path := range []string{"/instances", "/dashboard"} {
		r := s.b.get(path)
		if txt := testid(r, "number-paused").Text(); !strings.Contains(txt, "your plan allows 0 numbers") ||
			!strings.Contains(r.body, `href="/billing"`) {
			t.Errorf("%s does not say the number is paused: %q", path, txt)
		}
	}

	changePlan(t, ob, s.ts.TenantID(), db.PlanPro)
	if inst, _ := s.ts.Instance(context.Background(), s.inst.ID); inst.PausedAt != nil {
		t.Fatal("the number did not resume on a larger plan")
	}
	m2 := s.says(t, newLead(), "hello again?")
	if r := s.reply(t, m2); r.Status != db.ReplySent {
		t.Errorf("after the upgrade, the AI reply is %s (%s)", r.Status, r.Error)
	}
}

// TestPlanLimitHoldsCampaigns: a campaign's share on a paused number waits;
// after the upgrade the campaign finishes.
func TestPlanLimitHoldsCampaigns(t *testing.T) {
	t.Parallel()
	owner := uniqueEmail("pause-campaign-owner")
	a := newTestApp(t, withAdmins(owner))
	ob := signedInOwner(t, a, owner)
	s := newCampaignShop(t, a, 3)
	changePlan(t, ob, s.ts.TenantID(), noNumbersPlan(t))
	s.launch(t, a, campaign.Pace{PerMinute: 60})
	if n := stableFor(t, 10*time.Second, 3*time.Second, "nothing sent from a paused number", func() int { return len(s.campaignSends(a)) }); n != 0 {
		t.Fatalf("%d recipients got the campaign from a paused number", n)
	}
	if r := s.b.get(fmt.Sprintf("/campaigns/%d", s.c.ID)); !strings.Contains(testid(r, "number-warning").Text(), "paused") {
		t.Errorf("the campaign page does not say its number is paused: %q", testid(r, "number-warning").Text())
	}
	// A new campaign's sending step does not offer the paused number.
	draft := phonePoll(t, s.ts)
	r := s.b.get(fmt.Sprintf("/campaigns/%d/send", draft.ID))
	if n := testid(r, "send-number"); n.Length() != 1 || n.AttrOr("disabled", "no") == "no" || n.AttrOr("checked", "no") != "no" {
		t.Errorf("the paused number is offered: %s", abbreviate(testid(r, "send-numbers").Text()))
	}
	changePlan(t, ob, s.ts.TenantID(), db.PlanStarter)
	// A newly connected number's warm-up pace spaces the sends out.
	waitFor(t, 60*time.Second, "the campaign to finish", func() bool { return s.state(t) == db.CampaignDone })
	s.wantEachOnce(t, a)
}
