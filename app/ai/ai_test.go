package ai_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/genai"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/sim/gemini"
	"github.com/myaibud/aibud/app/sim/samples"
)

func newClient(t *testing.T) (*ai.Client, *gemini.Server) {
	t.Helper()
	sim := gemini.New(gemini.Options{APIKey: "test-key"})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	c, err := ai.New(context.Background(), ai.Config{APIKey: "test-key", BaseURL: srv.URL, DefaultModel: "gemini-2.5-flash"})
	if err != nil {
		t.Fatal(err)
	}
	return c, sim
}

func request(turns ...ai.Turn) ai.Request {
	return ai.Request{
		BusinessName: "Lumen Coffee",
		Persona:      "You are Lumi, the cheerful assistant of Lumen Coffee.",
		Instructions: "Always greet by name when you know it.",
		Temperature:  0.3,
		Knowledge: []ai.Entry{
			{Title: "Opening hours", Body: "Monday to Friday 8:00-18:00, Saturday 9:00-14:00."},
			{Title: "Delivery", Body: "We deliver within 5 km for 2 EUR."},
		},
		Turns:    turns,
		Now:      time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC),
		Location: time.UTC,
	}
}

func TestReplyCarriesPersonaKnowledgeAndTurns(t *testing.T) {
	c, sim := newClient(t)
	r, err := c.Reply(context.Background(), request(
		ai.Turn{FromCustomer: true, Text: "hello"},
		ai.Turn{FromCustomer: false, Text: "Hi! How can I help?"},
		ai.Turn{FromCustomer: true, Text: "what are your opening hours?"},
	))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Text, "Monday to Friday 8:00-18:00") || r.Handoff {
		t.Errorf("reply = %+v", r)
	}
	if r.InputTokens <= 0 || r.OutputTokens <= 0 {
		t.Errorf("tokens not recorded: %+v", r)
	}
	reqs := sim.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	got := reqs[0]
	for _, want := range []string{"You are Lumi", "Always greet by name", "## Opening hours", "Saturday 9:00-14:00", "## Delivery", "Monday 23 November 2026, 10:00"} {
		if !strings.Contains(got.SystemInstruction, want) {
			t.Errorf("system instruction lacks %q:\n%s", want, got.SystemInstruction)
		}
	}
	if len(got.Contents) != 3 || got.Contents[0].Text != "hello" || got.Contents[1].Role != "model" || got.Contents[2].Text != "what are your opening hours?" {
		t.Errorf("contents = %+v", got.Contents)
	}
	if got.Config.ResponseMIMEType != "application/json" || got.Config.Temperature == nil || *got.Config.Temperature < 0.29 {
		t.Errorf("config = %+v", got.Config)
	}
	if got.Model != "gemini-2.5-flash" {
		t.Errorf("model = %q", got.Model)
	}
}

func TestReplyHandoff(t *testing.T) {
	c, _ := newClient(t)
	r, err := c.Reply(context.Background(), request(ai.Turn{FromCustomer: true, Text: "I want to talk to a human please"}))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Handoff || r.Reason == "" || r.Text == "" {
		t.Errorf("reply = %+v, want a handoff with a reason and a message", r)
	}
}

func TestRetryableErrors(t *testing.T) {
	c, sim := newClient(t)
	for _, tt := range []struct {
		status    int
		retryable bool
	}{{429, true}, {500, true}, {503, true}, {400, false}} {
		sim.FailNext(1, tt.status)
		_, err := c.Reply(context.Background(), request(ai.Turn{FromCustomer: true, Text: "hi"}))
		var apiErr genai.APIError
		if !errors.As(err, &apiErr) || apiErr.Code != tt.status {
			t.Errorf("status %d: err %v", tt.status, err)
		}
		if ai.Retryable(err) != tt.retryable {
			t.Errorf("status %d: retryable %v, want %v", tt.status, ai.Retryable(err), tt.retryable)
		}
	}
	if _, err := c.Reply(context.Background(), request(ai.Turn{FromCustomer: true, Text: "hi"})); err != nil {
		t.Errorf("after the faults: %v", err)
	}
	sim.SetDelay(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Reply(ctx, request(ai.Turn{FromCustomer: true, Text: "hi"})); err == nil || !ai.Retryable(err) {
		t.Errorf("timeout: %v (retryable %v)", err, ai.Retryable(err))
	}
}

func TestContentsBoundAndAlternate(t *testing.T) {
	long := strings.Repeat("word ", 400) // ~500 tokens each
	var turns []ai.Turn
	for i := range 20 {
		turns = append(turns, ai.Turn{FromCustomer: i%2 == 0, Text: long})
	}
	turns = append(turns, ai.Turn{FromCustomer: true, Text: "part one"}, ai.Turn{FromCustomer: true, Text: "part two"})
	cs := ai.Contents(turns, 3000)
	if len(cs) == 0 || len(cs) > 8 {
		t.Fatalf("%d contents for a 3000-token budget", len(cs))
	}
	if cs[0].Role != "user" {
		t.Errorf("first turn is %s, want user", cs[0].Role)
	}
	for i := 1; i < len(cs); i++ {
		if cs[i].Role == cs[i-1].Role {
			t.Errorf("turns %d and %d are both %s", i-1, i, cs[i].Role)
		}
	}
	last := cs[len(cs)-1]
	if last.Role != "user" || len(last.Parts) < 2 || last.Parts[len(last.Parts)-1].Text != "part two" {
		t.Errorf("the burst is not the last user turn: %+v", last)
	}
}

func TestContentsOpenWithTheBusinessMessage(t *testing.T) {
	biz := func(s string) ai.Turn { return ai.Turn{Text: s} }
	lead := func(s string) ai.Turn { return ai.Turn{FromCustomer: true, Text: s} }
	for _, tt := range []struct {
		name  string
		turns []ai.Turn
		want  []string // role: text of each content, parts joined by |
	}{
		{"campaign then reply", []ai.Turn{biz("Sale today!"), lead("On shoes?")},
			[]string{"user: " + ai.OpeningNote + "Sale today!|On shoes?"}},
		{"two openers", []ai.Turn{biz("Sale today!"), biz("Which day?"), lead("Friday"), biz("Great")},
			[]string{"user: " + ai.OpeningNote + "Sale today!\n\nWhich day?|Friday", "model: Great"}},
		{"customer first", []ai.Turn{lead("Hi"), biz("Hello")}, []string{"user: Hi", "model: Hello"}},
		{"business only", []ai.Turn{biz("Sale today!")}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, c := range ai.Contents(tt.turns, 10000) {
				var parts []string
				for _, p := range c.Parts {
					parts = append(parts, p.Text)
				}
				got = append(got, c.Role+": "+strings.Join(parts, "|"))
			}
			if strings.Join(got, " / ") != strings.Join(tt.want, " / ") {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestFailureReasonIsPlain(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{genai.APIError{Code: 429, Message: "Resource has been exhausted", Status: "RESOURCE_EXHAUSTED"}, "the AI service is busy"},
		{genai.APIError{Code: 400, Message: "Invalid JSON payload", Status: "INVALID_ARGUMENT"}, "the AI service refused the request"},
		{genai.APIError{Code: 403, Status: "PERMISSION_DENIED"}, "the AI service refused this server's key; the platform owner has been told"},
		{genai.APIError{Code: 503, Status: "UNAVAILABLE"}, "the AI service had a problem"},
		{fmt.Errorf("gemini: %w", context.DeadlineExceeded), "the AI service took too long to answer"},
		{fmt.Errorf("gemini: %w", ai.ErrEmpty), "the AI service returned no answer (it may have judged the conversation unsafe)"},
		{errors.New("dial tcp: connection refused"), "the AI service could not be reached"},
	} {
		if got := ai.FailureReason(tt.err); got != tt.want {
			t.Errorf("FailureReason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func TestReplyCountsAudioTokensApart(t *testing.T) {
	c, _ := newClient(t)
	voice := &ai.Media{Kind: "audio", Mime: samples.VoiceNoteMime, Data: samples.VoiceNote()}
	photo := &ai.Media{Kind: "image", Mime: samples.PhotoMime, Data: samples.Photo()}
	tests := []struct {
		name      string
		turn      ai.Turn
		wantAudio bool
	}{
		{"text", ai.Turn{FromCustomer: true, Text: "hello"}, false},
		{"a photo", ai.Turn{FromCustomer: true, Text: "how much is this?", Media: photo}, false},
		{"a voice note", ai.Turn{FromCustomer: true, Text: "[Voice note]", Media: voice}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := c.Reply(context.Background(), request(tt.turn))
			if err != nil {
				t.Fatal(err)
			}
			// The stand-in counts 32 tokens a second of audio, as Gemini
			// does; the sample is two seconds.
			if tt.wantAudio && (r.AudioInputTokens != 64 || r.InputTokens <= r.AudioInputTokens) {
				t.Errorf("audio tokens %d of %d input, want 64 of more", r.AudioInputTokens, r.InputTokens)
			}
			if !tt.wantAudio && r.AudioInputTokens != 0 {
				t.Errorf("audio tokens %d without audio", r.AudioInputTokens)
			}
		})
	}
}
