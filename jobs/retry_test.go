package jobs

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/whatsapp"
)

func TestRetryDelay(t *testing.T) {
	plain := errors.New("boom")
	tests := []struct {
		name     string
		typ      string
		n        int
		err      error
		min, max time.Duration
	}{
		{"an AI answer's first retry", TypeAIReply, 0, plain, 250 * time.Millisecond, 500 * time.Millisecond},
		{"an AI answer's third retry", TypeAIReply, 2, plain, time.Second, 2 * time.Second},
		{"an AI answer's retries are capped", TypeAIReply, 12, plain, 5 * time.Second, 10 * time.Second},
		{"a webhook event's first retry", TypeProcessWebhook, 0, plain, 100 * time.Millisecond, 200 * time.Millisecond},
		{"housekeeping waits longer", TypeAuditLedger, 0, plain, 2500 * time.Millisecond, 5 * time.Second},
		{"Gemini's RetryInfo is honoured", TypeAIReply, 0, fmt.Errorf("ai reply: %w", &ai.RetryHint{Err: plain, After: 3 * time.Second}), 3 * time.Second, 3 * time.Second},
		{"a gateway's Retry-After is honoured", TypeSendMessage, 1, &whatsapp.GatewayError{Op: "send", RetryIn: 7 * time.Second}, 7 * time.Second, 7 * time.Second},
		{"a shorter Retry-After does not shorten the backoff", TypeAIReply, 4, &whatsapp.GatewayError{RetryIn: time.Millisecond}, 4 * time.Second, 8 * time.Second},
		{"an absurd Retry-After is bounded", TypeAIReply, 0, &whatsapp.GatewayError{RetryIn: 24 * time.Hour}, 5 * time.Minute, 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 50 { // jittered: every draw stays in bounds
				d := retryDelay(tt.n, tt.err, asynq.NewTask(tt.typ, nil))
				if d < tt.min || d > tt.max {
					t.Fatalf("delay %s, want between %s and %s", d, tt.min, tt.max)
				}
			}
		})
	}
	// Three brief Gemini 503s cost seconds, not minutes.
	var total time.Duration
	for n := range 3 {
		total += retryDelay(n, plain, asynq.NewTask(TypeAIReply, nil))
	}
	if total > 4*time.Second {
		t.Errorf("three retries wait %s", total)
	}
}
