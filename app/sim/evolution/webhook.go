package evolution

// Webhook delivery, as Evolution's webhook.controller does it:
//
//   - one POST of the envelope per event the instance's webhook takes, to
//     its url (with byEvents, plus /<event-in-kebab-case>), with its
//     headers verbatim, except that a jwt_key header becomes
//     Authorization: Bearer <HS256 JWT signed with it>;
//   - no signature and no event id;
//   - a try fails on a network error or a non-2xx answer; it is retried
//     with exponential backoff (Timing.RetryBase, doubled, capped at
//     Timing.MaxRetryDelay, ±20% jitter) up to Timing.RetryAttempts tries,
//     except after 400, 401, 403, 404 and 422, which are final.
//
// Evolution fires its webhooks without waiting, so their order is not
// guaranteed; the stand-in keeps an instance's events in order unless told
// otherwise (DelayNext), so that tests are repeatable.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/myaibud/aibud/app/sim"
	"github.com/myaibud/aibud/app/sim/delivery"
)

// envelope is Evolution's webhook body; the field order is Evolution's.
type envelope struct {
	Event       string  `json:"event"`
	Instance    string  `json:"instance"`
	Data        any     `json:"data"`
	Destination string  `json:"destination"`
	DateTime    string  `json:"date_time"`
	Sender      string  `json:"sender,omitempty"`
	ServerURL   string  `json:"server_url"`
	APIKey      *string `json:"apikey"`
}

// Event is an event an instance emitted, with its posts. Its ID is the
// stand-in's own name for it ("evo_1", …), for Redeliver: Evolution's
// events carry no id, and Body has none.
type Event = delivery.Event

// Flush waits, until ctx ends, for the webhook posts queued so far to be
// delivered or given up; events that timers emit later (acks, QR
// rotations, reconnects) are not waited for.
func (s *Server) Flush(ctx context.Context) error {
	return s.poster.Flush(ctx)
}

// DelayNext holds the instance's next event of a type (dotted, e.g.
// "messages.update") back by d, on a queue of its own, so that the events
// after it overtake it: out-of-order delivery, as Evolution's
// fire-and-forget webhooks give.
func (s *Server) DelayNext(name, event string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delayNext[name+"\x00"+event] = d
}

// Redeliver posts an event already emitted again, byte for byte, to the
// instance's webhook: a duplicate delivery, as Evolution makes after a
// lost answer. The new delivery is added to the event's Deliveries.
func (s *Server) Redeliver(eventID string) error {
	s.mu.Lock()
	rec := s.events.Find(eventID)
	s.mu.Unlock()
	if rec == nil {
		return fmt.Errorf("redeliver %q: no such event: %w", eventID, ErrInvalid)
	}
	return s.control("redeliver "+eventID+" of", rec.Session, func(in *instance) error {
		s.notifyLocked()
		s.fanOutLocked(in, rec, hookURL(in.hook, rec.Type), 1)
		return nil
	})
}

// Events returns what the instances emitted so far, oldest first (the
// last 10000 at most), each with its posts.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events.Events()
}

// hookURL is where an event goes: the webhook's url, plus the event in
// kebab case with byEvents.
func hookURL(h hookConfig, event string) string {
	if !h.ByEvents {
		return h.URL
	}
	return strings.TrimSuffix(h.URL, "/") + "/" + strings.ReplaceAll(event, ".", "-")
}

// emitLocked builds an event of the instance and queues it for the
// instance's webhook if that takes it. It returns the event's id, "" when
// it could not be encoded.
func (s *Server) emitLocked(in *instance, event string, data any) string {
	s.notifyLocked()
	now := time.Now()
	url := hookURL(in.hook, event)
	env := envelope{
		Event: event, Instance: in.name, Data: data, Destination: url,
		DateTime: now.UTC().Format("2006-01-02T15:04:05.000Z"), Sender: in.wuid, ServerURL: s.serverURL,
	}
	body, err := sim.Marshal(env)
	if err != nil {
		s.log.Error("evolution stand-in: encode event", "event", event, "instance", in.name, "err", err)
		return ""
	}
	s.seq++
	rec := delivery.NewRecord(Event{ID: "evo_" + strconv.Itoa(s.seq), Type: event, Session: in.name, Time: now, Body: body})
	s.events.Add(rec)
	s.fanOutLocked(in, rec, url, 1+s.duplicates)
	return rec.ID
}

// fanOutLocked queues n posts of the event to the instance's webhook, if
// that takes the event.
func (s *Server) fanOutLocked(in *instance, rec *delivery.Record, url string, n int) {
	h := in.hook
	if !h.wants(rec.Type) || in.muted[rec.Type] {
		return
	}
	queue := in.name + "\x00" + url
	var wait time.Duration
	key := in.name + "\x00" + rec.Type
	if d, ok := s.delayNext[key]; ok {
		delete(s.delayNext, key)
		queue, wait = queue+"\x00"+rec.ID, d
	}
	for range n {
		d := rec.Add(url, "")
		ok := s.poster.Enqueue(delivery.Job{
			Queue:   queue,
			URL:     url,
			Body:    rec.Body,
			Header:  func(int) http.Header { return webhookHeader(h.Headers) },
			Tries:   s.timing.RetryAttempts,
			Backoff: s.retryDelay,
			Final:   finalStatus,
			Wait:    wait,
			Report: func(r delivery.Result) {
				s.mu.Lock()
				defer s.mu.Unlock()
				d.Update(r)
			},
			Log: s.log.With("event", rec.Type, "instance", rec.Session, "url", url),
		})
		if !ok {
			d.GaveUp, d.Err = true, "stand-in closed"
		}
	}
}

// finalStatus tells the answers Evolution does not retry
// (WEBHOOK_RETRY_NON_RETRYABLE_STATUS_CODES).
func finalStatus(status int) bool {
	switch status {
	case 400, 401, 403, 404, 422:
		return true
	}
	return false
}

// retryDelay is the wait before try n (n >= 2): RetryBase doubled for each
// retry, capped at MaxRetryDelay, ±20% jitter.
func (s *Server) retryDelay(n int) time.Duration {
	d := s.timing.RetryBase << min(n-2, 30)
	if d > s.timing.MaxRetryDelay || d <= 0 {
		d = s.timing.MaxRetryDelay
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64())) //nolint:gosec // jitter needs no secure randomness
}

// webhookHeader is the headers of one post: the webhook's own, verbatim
// (names as given), with jwt_key turned into a Bearer token.
func webhookHeader(custom map[string]string) http.Header {
	h := http.Header{}
	for k, v := range custom {
		if k == "jwt_key" {
			h.Set("Authorization", "Bearer "+webhookJWT(v, time.Now()))
			continue
		}
		h[k] = []string{v}
	}
	return h
}

// webhookJWT is the token Evolution signs with a jwt_key: HS256, claims
// iat, exp (+10 min), app "evolution", action "webhook".
func webhookJWT(secret string, now time.Time) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"}) // maps of strings encode
	claims, _ := json.Marshal(map[string]any{                                  // numbers and strings encode
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "app": "evolution", "action": "webhook",
	})
	unsigned := enc.EncodeToString(header) + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(mac.Sum(nil))
}
