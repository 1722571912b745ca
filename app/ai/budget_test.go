package ai_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/sim/gemini"
)

func TestEstimateTokens(t *testing.T) {
	tests := []struct {
		name string
		text string
		want int
	}{
		{"empty", "", 0},
		{"one byte", "a", 1},
		{"three bytes", "abc", 1},
		{"four bytes", "abcd", 2},
		{"English sentence (40 bytes, ~10 real tokens)", "What are your opening hours on Saturday?", 14},
		{"accented letters count their bytes", "Olá, não", 4},
		{"Arabic is two bytes a letter", "توقف", 3},
		{"emoji is four bytes", "👍", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ai.EstimateTokens(tt.text); got != tt.want {
				t.Errorf("EstimateTokens(%q) = %d, want %d", tt.text, got, tt.want)
			}
		})
	}
}

func entry(title string, size int) ai.Entry {
	return ai.Entry{Title: title, Body: strings.Repeat("x", size)}
}

func titles(es []ai.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Title)
	}
	return out
}

func texts(ts []ai.Turn) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Text)
	}
	return out
}

func TestFit(t *testing.T) {
	long := strings.Repeat("y", 3000) // ~1000 tokens
	conversation := []ai.Turn{
		{FromCustomer: true, Text: "oldest " + long},
		{FromCustomer: false, Text: "old answer " + long},
		{FromCustomer: true, Text: "recent " + long},
		{FromCustomer: false, Text: "recent answer"},
		{FromCustomer: true, Text: "do you deliver to Madrid?"},
	}
	tests := []struct {
		name        string
		budget      int
		knowledge   []ai.Entry
		turns       []ai.Turn
		wantEntries []string
		wantTurns   []string
		truncated   bool
	}{
		{
			name: "everything fits", budget: 50_000,
			knowledge: []ai.Entry{entry("Hours", 100), entry("Delivery", 100)}, turns: conversation[3:],
			wantEntries: []string{"Hours", "Delivery"}, wantTurns: texts(conversation[3:]),
		},
		{
			name: "history over its own share: the oldest turns go", budget: 50_000,
			knowledge: []ai.Entry{entry("Hours", 100)}, turns: conversation,
			wantEntries: []string{"Hours"}, wantTurns: texts(conversation[1:]),
		},
		{
			name: "knowledge over the budget: the least related entries go, history keeps the room left, newest first", budget: 16_000,
			knowledge:   []ai.Entry{entry("Prices", 30_000), entry("Opening hours", 30_000), entry("Delivery to Madrid", 30_000), entry("Returns", 100)},
			turns:       conversation,
			wantEntries: []string{"Delivery to Madrid", "Returns"}, wantTurns: texts(conversation[1:]),
		},
		{
			name: "knowledge filling the budget: all history goes before the related entry", budget: 16_000,
			knowledge:   []ai.Entry{entry("Prices", 44_000), entry("Delivery to Madrid", 44_000)},
			turns:       []ai.Turn{conversation[0], conversation[1], conversation[2], conversation[4]},
			wantEntries: []string{"Delivery to Madrid"}, wantTurns: []string{"do you deliver to Madrid?"},
		},
		{
			name: "on a tie the earlier entry stays", budget: 16_000,
			knowledge:   []ai.Entry{entry("Prices", 30_000), entry("Opening hours", 30_000), entry("Team", 30_000)},
			turns:       []ai.Turn{{FromCustomer: true, Text: "hello"}},
			wantEntries: []string{"Prices"}, wantTurns: []string{"hello"},
		},
		{
			name: "a message after the customer's latest one counts as history", budget: 50_000,
			turns:     []ai.Turn{{FromCustomer: true, Text: "hi"}, {FromCustomer: false, Text: "a person answered"}},
			wantTurns: []string{"hi", "a person answered"},
		},
		{
			name: "the latest message alone over the budget is cut, never dropped", budget: 1000,
			knowledge: []ai.Entry{entry("Hours", 10)},
			turns:     []ai.Turn{{FromCustomer: false, Text: "before"}, {FromCustomer: true, Text: strings.Repeat("z", 10_000)}},
			wantTurns: nil, truncated: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := ai.Request{BusinessName: "Lumen", Persona: "You are Lumi.", Knowledge: tt.knowledge, Turns: tt.turns}
			got, fitted := ai.Fit(req, tt.budget)
			if diff := cmp.Diff(tt.wantEntries, titles(got.Knowledge)); diff != "" {
				t.Errorf("knowledge (-want +got):\n%s", diff)
			}
			if tt.truncated {
				if !fitted.Truncated || len(got.Turns) != 1 || !got.Turns[0].FromCustomer || got.Turns[0].Text == "" {
					t.Errorf("turns = %d, fitted = %+v, want the latest message cut", len(got.Turns), fitted)
				}
			} else if diff := cmp.Diff(tt.wantTurns, texts(got.Turns)); diff != "" {
				t.Errorf("turns (-want +got):\n%s", diff)
			}
			if fitted.Tokens > tt.budget {
				t.Errorf("estimated %d tokens, over the budget of %d", fitted.Tokens, tt.budget)
			}
			if n := len(tt.knowledge) - len(got.Knowledge); fitted.DroppedEntries != n {
				t.Errorf("dropped entries %d, want %d", fitted.DroppedEntries, n)
			}
		})
	}
}

// TestReplyStaysWithinTheInputBudget sends oversize knowledge through the
// real client to the stand-in: the request it receives fits the budget,
// measured in bytes (three a token), and still carries the entry the
// question is about.
func TestReplyStaysWithinTheInputBudget(t *testing.T) {
	sim := gemini.New(gemini.Options{APIKey: "test-key"})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	const budget = 20_000
	c, err := ai.New(context.Background(), ai.Config{APIKey: "test-key", BaseURL: srv.URL, DefaultModel: "gemini-2.5-flash", InputTokenBudget: budget})
	if err != nil {
		t.Fatal(err)
	}
	req := request(ai.Turn{FromCustomer: true, Text: "hello"}, ai.Turn{FromCustomer: false, Text: "Hi!"},
		ai.Turn{FromCustomer: true, Text: "do you deliver to Madrid?"})
	req.Knowledge = nil
	for range 100 {
		req.Knowledge = append(req.Knowledge, ai.Entry{Title: "Menu", Body: strings.Repeat("Coffee, tea and cake. ", 900)})
	}
	req.Knowledge = append(req.Knowledge, ai.Entry{Title: "Delivery", Body: "We deliver to Madrid within 5 km for 2 EUR."})
	r, err := c.Reply(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	reqs := sim.Requests()
	size := len(reqs[len(reqs)-1].Raw)
	t.Logf("request of %d bytes for %d entries of %d characters (budget %d tokens)", size, len(req.Knowledge), len(req.Knowledge[0].Body), budget)
	if size > 3*budget {
		t.Errorf("request of %d bytes, over the budget of %d tokens (%d bytes)", size, budget, 3*budget)
	}
	if !strings.Contains(r.Text, "We deliver to Madrid") || r.Fitted.DroppedEntries == 0 {
		t.Errorf("reply %q, fitted %+v: want the delivery entry kept and others dropped", r.Text, r.Fitted)
	}
	if got := reqs[len(reqs)-1].Contents; got[len(got)-1].Text != "do you deliver to Madrid?" {
		t.Errorf("the customer's latest message is not the last turn: %+v", got)
	}
}
