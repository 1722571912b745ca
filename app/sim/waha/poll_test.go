package waha_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/sim/waha"
	"github.com/myaibud/aibud/app/whatsapp"
)

// sendPoll sends a poll through the API and returns its serialized id.
func (s *sim) sendPoll(t *testing.T, session, chatID string, multiple bool, options ...string) string {
	t.Helper()
	var m struct {
		ID string `json:"id"`
	}
	s.mustCall(t, http.MethodPost, "/api/sendPoll", map[string]any{
		"session": session, "chatId": chatID, "reply_to": "false_" + chatID + "_AAAA",
		"poll": map[string]any{"name": "Which day?", "options": options, "multipleAnswers": multiple},
	}, http.StatusCreated).json(t, &m)
	if !strings.HasPrefix(m.ID, "true_"+chatID+"_") {
		t.Fatalf("sendPoll answered id %q", m.ID)
	}
	return m.ID
}

// voteOf waits for the poll.vote event with the id, checks its signature
// and parses it with aibud's own parser.
func voteOf(t *testing.T, h *hook, eventID string) *whatsapp.PollVote {
	t.Helper()
	r := h.waitFor(t, "poll.vote "+eventID, func(r hookRequest) bool { return r.env.ID == eventID })
	checkSigned(t, r)
	e, err := whatsapp.NewWAHAWebhooks(testSecret).ParseWebhook(r.header, r.body)
	if err != nil {
		t.Fatalf("aibud refuses the vote: %v\n%s", err, r.body)
	}
	if e.Kind != whatsapp.EventPollVote || e.ID != eventID || e.Vote == nil {
		t.Fatalf("event %+v", e)
	}
	return e.Vote
}

// TestLeadVotes: a poll sent through the API is recorded with its options;
// each vote, change and withdrawal is a new signed poll.vote that aibud's
// parser reads; Redeliver posts the same event again.
func TestLeadVotes(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "pv1", h)
	pollID := s.sendPoll(t, "pv1", "15550100300@c.us", true, "Mon", "Tue", "Wed")
	sent := s.Sent("pv1")
	want := &waha.Poll{Name: "Which day?", Options: []string{"Mon", "Tue", "Wed"}, MultipleAnswers: true}
	if len(sent) != 1 || sent[0].ID != pollID || sent[0].Type != "poll" || sent[0].ReplyTo != "false_15550100300@c.us_AAAA" || !cmp.Equal(sent[0].Poll, want) {
		t.Fatalf("Sent %+v", sent)
	}

	steps := []struct {
		name    string
		options []string
	}{
		{"vote", []string{"Mon", "Wed"}},
		{"change", []string{"Tue"}},
		{"withdraw", nil},
	}
	var ids []string
	for _, st := range steps {
		id, err := s.LeadVotes("pv1", "+1 555 010 0300", whatsapp.WAHAMessageKey(pollID), st.options...)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		v := voteOf(t, h, id)
		wantSel := st.options
		if wantSel == nil {
			wantSel = []string{}
		}
		if v.PollID != pollID || v.PollKey != whatsapp.WAHAMessageKey(pollID) || v.Voter.Phone != "+15550100300" || !cmp.Equal(v.Selected, wantSel) || v.VoteID == "" {
			t.Errorf("%s: vote %+v", st.name, v)
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] || ids[1] == ids[2] {
		t.Errorf("event ids repeat: %v", ids)
	}

	// A duplicate delivery: the same bytes and event id, another request id.
	if err := s.Redeliver(ids[0]); err != nil {
		t.Fatal(err)
	}
	s.flush(t)
	var copies []hookRequest
	for _, r := range h.delivered("poll.vote") {
		if r.env.ID == ids[0] {
			copies = append(copies, r)
		}
	}
	if len(copies) != 2 || string(copies[0].body) != string(copies[1].body) ||
		copies[0].header.Get("X-Webhook-Request-Id") == copies[1].header.Get("X-Webhook-Request-Id") {
		t.Fatalf("%d deliveries of %s", len(copies), ids[0])
	}
	checkSigned(t, copies[1])
	if err := s.Redeliver("evt_01nothere"); !errors.Is(err, waha.ErrInvalid) {
		t.Errorf("Redeliver of an unknown event: %v", err)
	}
}

// TestLeadVotesAsLID: a vote from a lead known by a linked id names them so.
func TestLeadVotesAsLID(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "pv2", h)
	pollID := s.sendPoll(t, "pv2", "153219082764294@lid", false, "Yes", "No")
	id, err := s.LeadVotes("pv2", "", pollID, "No")
	if err != nil {
		t.Fatal(err)
	}
	if v := voteOf(t, h, id); v.Voter.LID != "153219082764294@lid" || v.Voter.Phone != "" || !cmp.Equal(v.Selected, []string{"No"}) {
		t.Errorf("vote %+v", v)
	}
	id, err = s.LeadVoteFails("pv2", "", pollID)
	if err != nil {
		t.Fatal(err)
	}
	r := h.waitFor(t, "poll.vote.failed", func(r hookRequest) bool { return r.env.ID == id })
	e, err := whatsapp.NewWAHAWebhooks(testSecret).ParseWebhook(r.header, r.body)
	if err != nil || e.Kind != whatsapp.EventPollVoteFailed || !e.Vote.Failed || e.Vote.PollID != pollID {
		t.Errorf("failed vote %+v, %v", e.Vote, err)
	}
}

// TestPhonePageVotes: the lead sees the poll in the chat, votes with the
// page's form, changes the vote and withdraws it; each is a poll.vote.
func TestPhonePageVotes(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "pv3", h)
	pollID := s.sendPoll(t, "pv3", "15550100400@c.us", false, "Morning", "Afternoon")
	const chatPage = "/phone/pv3?chat=15550100400"

	form := s.page(t, chatPage).doc.Find(`[data-testid=conversation] [data-testid=poll]`)
	if id, _ := form.Attr("data-poll"); id != pollID || !strings.Contains(form.Text(), "Which day?") {
		t.Fatalf("poll on the page: %q %q", id, form.Text())
	}
	if n := form.Find(`[data-testid=poll-option] input[type=radio]`).Length(); n != 2 {
		t.Errorf("%d radio options, want 2", n)
	}
	if form.Find(`[data-testid=poll-withdraw]`).Length() != 0 {
		t.Error("withdraw offered before any vote")
	}

	steps := []struct {
		name   string
		form   url.Values
		want   []string
		chosen string
	}{
		{"vote", url.Values{"option": {"Morning"}}, []string{"Morning"}, "Morning"},
		{"change", url.Values{"option": {"Afternoon"}}, []string{"Afternoon"}, "Afternoon"},
		{"withdraw", url.Values{"withdraw": {"1"}, "option": {"Afternoon"}}, []string{}, ""},
	}
	seen := 0
	for _, st := range steps {
		st.form.Set("poll", pollID)
		st.form.Set("chat", "15550100400")
		if res := s.post(t, "/phone/pv3/vote", st.form, http.Header{"X-Phone-Fetch": {"1"}}); res.StatusCode != http.StatusNoContent {
			t.Fatalf("%s: %d", st.name, res.StatusCode)
		}
		s.flush(t)
		votes := h.delivered("poll.vote")
		if len(votes) != seen+1 {
			t.Fatalf("%s: %d poll.vote events, want %d", st.name, len(votes), seen+1)
		}
		seen++
		if v := voteOf(t, h, votes[len(votes)-1].env.ID); !cmp.Equal(v.Selected, st.want) || v.PollID != pollID {
			t.Errorf("%s: vote %+v", st.name, v)
		}
		form := s.page(t, chatPage).doc.Find(`[data-testid=poll]`)
		chosen, _ := form.Find(`input[name=option][checked]`).Attr("value")
		if chosen != st.chosen {
			t.Errorf("%s: the page shows %q chosen, want %q", st.name, chosen, st.chosen)
		}
		if got := form.Find(`[data-testid=poll-withdraw]`).Length() == 1; got != (st.chosen != "") {
			t.Errorf("%s: withdraw offered %v", st.name, got)
		}
	}

	// An option the poll does not have is refused, and nothing is emitted.
	res := s.post(t, "/phone/pv3/vote", url.Values{"poll": {pollID}, "option": {"Night"}}, http.Header{"X-Phone-Fetch": {"1"}})
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("a made-up option: %d", res.StatusCode)
	}
}
