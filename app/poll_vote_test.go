package app_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db/dbtest"
)

// pollVoteEvent is WAHA's example poll.vote (or poll.vote.failed) event with
// the event id, session and selection replaced.
func pollVoteEvent(t *testing.T, file, eventID, session string, selected []string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "waha", "examples", file))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	env["id"], env["session"] = eventID, session
	delete(env, "metadata")
	env["payload"].(map[string]any)["vote"].(map[string]any)["selectedOptions"] = selected
	body, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestVotesOnPollsNoCampaignSentAreIgnored: votes on a poll no campaign
// sent are accepted and stored, and processing them succeeds at the first
// try without touching contacts or messages.
func TestVotesOnPollsNoCampaignSentAreIgnored(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	_, tenantID := a.tenantOf(t, "Poll Shop")
	inst := instanceRow(t, a.store, tenantID)
	tests := []struct {
		name     string
		file     string
		selected []string
	}{
		{"a vote", "poll.vote.json", []string{"Awesome!"}},
		{"a withdrawn vote", "poll.vote.json", []string{}},
		{"a vote that could not be decrypted", "poll.vote.failed.json", []string{}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evt := fmt.Sprintf("evt_poll_%d_%d", i, time.Now().UnixNano())
			body := pollVoteEvent(t, tc.file, evt, inst.SessionName, tc.selected)
			if got := postWebhook(t, a.URL, body, sign(body)); got != http.StatusOK {
				t.Fatalf("delivery: %d", got)
			}
			waitFor(t, 10*time.Second, "the vote to be processed", func() bool {
				return countRows(t, "SELECT count(*) FROM webhook_events WHERE event_id = ? AND processed_at IS NOT NULL", evt) == 1
			})
			var attempts int
			var lastError sql.NullString
			var dead sql.NullTime
			if err := dbtest.DB(t).QueryRowContext(context.Background(), "SELECT attempts, last_error, dead_at FROM webhook_events WHERE event_id = ?", evt).
				Scan(&attempts, &lastError, &dead); err != nil {
				t.Fatal(err)
			}
			if attempts != 1 || (lastError.Valid && lastError.String != "") || dead.Valid {
				t.Errorf("processed in %d attempts, error %q, dead %v", attempts, lastError.String, dead.Valid)
			}
		})
	}
	for _, table := range []string{"contacts", "messages"} {
		if n := countRows(t, "SELECT count(*) FROM "+table+" WHERE tenant_id = ?", tenantID); n != 0 {
			t.Errorf("%d %s from votes, want none", n, table)
		}
	}
}

// TestPollThroughTheSimulator: a poll sent with the real client reaches the
// simulated lead; their vote, delivered twice with the same event id, is
// stored and processed once.
func TestPollThroughTheSimulator(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Poll Sim Shop")
	inst := a.connect(t, b, tenantID)
	ctx := context.Background()
	prov, err := whatsapp.ProviderFor(ctx, a.store, a.env.gateways, inst)
	if err != nil {
		t.Fatal(err)
	}
	chat := newLead() + "@c.us"
	id, err := prov.(whatsapp.IDReserver).NewMessageID(ctx, inst.SessionName)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := prov.SendPoll(ctx, whatsapp.Poll{Session: inst.SessionName, ChatID: chat, ID: id, Name: "Which size?", Options: []string{"S", "M", "L"}})
	if err != nil {
		t.Fatal(err)
	}
	if whatsapp.WAHAMessageKey(sent.ID) != id {
		t.Fatalf("sent poll id %q, reserved %q", sent.ID, id)
	}
	evt, err := a.env.sim.LeadVotes(inst.SessionName, "", id, "M")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.env.sim.Redeliver(evt); err != nil {
		t.Fatal(err)
	}
	flush, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.env.sim.Flush(flush); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the vote to be processed", func() bool {
		return countRows(t, "SELECT count(*) FROM webhook_events WHERE event_id = ? AND processed_at IS NOT NULL", evt) == 1
	})
	if n := countRows(t, "SELECT count(*) FROM webhook_events WHERE event_id = ?", evt); n != 1 {
		t.Errorf("%d stored copies of the vote, want 1", n)
	}
	for _, e := range a.env.sim.Events() {
		if e.ID == evt && (len(e.Deliveries) != 2 || !e.Deliveries[0].Delivered || !e.Deliveries[1].Delivered) {
			t.Errorf("deliveries of the vote: %+v", e.Deliveries)
		}
	}
}
