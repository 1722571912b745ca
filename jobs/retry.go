package jobs

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
)

// retryBackoff is the wait before a task type's first retry and the most it
// grows to. Work a customer waits for (webhooks, AI answers, sends) retries
// within seconds; housekeeping waits longer.
var retryBackoff = map[string]struct{ first, max time.Duration }{
	TypeProcessWebhook:    {200 * time.Millisecond, 5 * time.Second},
	TypeAIReply:           {500 * time.Millisecond, 10 * time.Second},
	TypeSendMessage:       {500 * time.Millisecond, 10 * time.Second},
	TypeProvisionInstance: {time.Second, 30 * time.Second},
	// Someone waits for the email; a mail server that is down for long
	// gets retries every few minutes up to the link's hour.
	TypeSendPasswordReset: {2 * time.Second, 10 * time.Minute},
}

// retryDelay is the asynq RetryDelayFunc: a short exponential backoff per
// task type, with jitter so that many tasks do not retry in step, and at
// least the wait the failing service asked for (Retry-After, RetryInfo),
// within a bound.
func retryDelay(n int, err error, t *asynq.Task) time.Duration {
	b, ok := retryBackoff[t.Type()]
	if !ok {
		b = struct{ first, max time.Duration }{5 * time.Second, 2 * time.Minute}
	}
	d := b.first << min(n, 20)
	if d > b.max || d <= 0 {
		d = b.max
	}
	d = d/2 + rand.N(d/2+1)
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) && ra.RetryAfter() > d {
		d = min(ra.RetryAfter(), 5*time.Minute)
	}
	return d
}
