package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/db"
)

// TestCampaignReplyReachesTheAI: a lead who answers a campaign lands in the
// inbox, the campaign counts the reply, and the AI's request carries the
// campaign's message as the context of the lead's first turn.
func TestCampaignReplyReachesTheAI(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	s := newCampaignShop(t, a, 2)
	s.launch(t, a, campaign.Pace{PerMinute: 60})
	waitFor(t, 30*time.Second, "the campaign to finish", func() bool { return s.state(t) == db.CampaignDone })
	lead := s.rs[1].Phone
	if _, err := a.env.sim.LeadSays(s.inst.SessionName, lead, "Lead 1", "Is the sale on shoes too?"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the AI to answer the reply", func() bool {
		for _, req := range a.env.gemini.Requests() {
			want := ai.OpeningNote + "Hi Lead 1, our spring sale starts today!"
			if len(req.Contents) == 1 && req.Contents[0].Role == "user" && strings.HasPrefix(req.Contents[0].Text, want) &&
				strings.HasSuffix(req.Contents[0].Text, "Is the sale on shoes too?") {
				return true
			}
		}
		return false
	})
	waitFor(t, 10*time.Second, "the reply to count", func() bool {
		c, err := s.ts.CampaignCounts(ctx, s.c.ID)
		return err == nil && c.Replied == 1
	})
	rows, _, err := s.ts.CampaignRecipients(ctx, s.c.ID, db.RecipientFilter{Status: "replied"}, db.Page{Number: 1, PerPage: 10})
	if err != nil || len(rows) != 1 || rows[0].Phone != lead || !rows[0].Replied {
		t.Errorf("replied = %+v, %v", rows, err)
	}
	if !strings.HasPrefix(lead, "+") {
		t.Fatalf("lead %q", lead)
	}
}
