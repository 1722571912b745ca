package waha

// Webhook delivery, as WAHA does it:
//
//   - every event gets an id "evt_" + a lower-case ULID, the same for every
//     webhook and every retry;
//   - each webhook whose events list the event (or "*") gets one POST of
//     the envelope, with X-Webhook-Request-Id (per webhook, the same across
//     retries), X-Webhook-Timestamp (ms, per try), and, when the webhook has
//     an hmac key, X-Webhook-Hmac (lower-case hex HMAC-SHA512 of the exact
//     body) and X-Webhook-Hmac-Algorithm: sha512; plus its customHeaders;
//   - a try fails on a network error or a non-2xx answer and is retried
//     retries.attempts times (so attempts+1 tries), waiting delaySeconds
//     (constant), delaySeconds×n (linear) or delaySeconds×2^(n-1)
//     (exponential) before retry n; a webhook without retries config takes
//     constant, 2 s, 15 retries.
//
// Deliveries run in the background and never hold up an API call. Each
// webhook of a session has one queue, sent in order: a failing event holds
// back the later ones until it is delivered or given up, so that the app
// sees a session's events in the order they happened. Because of that the
// wait before a retry is capped at Timing.MaxRetryDelay (WAHA has no cap).

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/myaibud/aibud/app/sim"
	"github.com/myaibud/aibud/app/sim/delivery"
)

// WAHA's version and engine, as the events' environment says.
const (
	wahaVersion = "2026.7.1"
	wahaEngine  = "GOWS"
)

// webhookConfig is one entry of a session's config.webhooks.
type webhookConfig struct {
	URL     string
	Events  []string
	HMACKey string
	Retries retries
	Headers []customHeader
}

// retries is a webhook's retry policy.
type retries struct {
	Policy       string
	DelaySeconds float64
	Attempts     int
}

type customHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// wants tells whether the webhook takes the event.
func (h webhookConfig) wants(event string) bool {
	return slices.Contains(h.Events, event) || slices.Contains(h.Events, "*")
}

// parseConfig validates a session config and returns its metadata and
// webhooks, or the problems to answer with 400.
func parseConfig(raw json.RawMessage) (json.RawMessage, []webhookConfig, []string) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, nil
	}
	var cfg struct {
		Metadata json.RawMessage   `json:"metadata"`
		Webhooks []json.RawMessage `json:"webhooks"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, nil, []string{"config must be an object: " + err.Error()}
	}
	var problems []string
	var metadata json.RawMessage
	if len(cfg.Metadata) > 0 && string(cfg.Metadata) != "null" {
		var m map[string]string
		if err := json.Unmarshal(cfg.Metadata, &m); err != nil {
			problems = append(problems, "config.metadata must be an object of strings")
		} else {
			metadata = cfg.Metadata
		}
	}
	var hooks []webhookConfig
	for i, rawHook := range cfg.Webhooks {
		h, errs := parseWebhook(rawHook)
		for _, e := range errs {
			problems = append(problems, fmt.Sprintf("config.webhooks.%d.%s", i, e))
		}
		hooks = append(hooks, h)
	}
	return metadata, hooks, problems
}

func parseWebhook(raw json.RawMessage) (webhookConfig, []string) {
	var in struct {
		URL    string          `json:"url"`
		Events json.RawMessage `json:"events"`
		HMAC   *struct {
			Key *string `json:"key"`
		} `json:"hmac"`
		Retries *struct {
			DelaySeconds *float64 `json:"delaySeconds"`
			Attempts     *float64 `json:"attempts"`
			Policy       *string  `json:"policy"`
		} `json:"retries"`
		CustomHeaders []customHeader `json:"customHeaders"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return webhookConfig{}, []string{"must be an object: " + err.Error()}
	}
	var problems []string
	h := webhookConfig{URL: in.URL, Headers: in.CustomHeaders, Retries: retries{Policy: "constant", DelaySeconds: 2, Attempts: 15}}
	if u, err := url.Parse(in.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, "url must be an http or https URL")
	}
	if err := json.Unmarshal(in.Events, &h.Events); err != nil || len(h.Events) == 0 {
		problems = append(problems, "events must be a non-empty list of event names")
	}
	if in.HMAC != nil && in.HMAC.Key != nil {
		h.HMACKey = *in.HMAC.Key
	}
	if r := in.Retries; r != nil {
		if r.Policy != nil {
			switch *r.Policy {
			case "constant", "linear", "exponential":
				h.Retries.Policy = *r.Policy
			default:
				problems = append(problems, "retries.policy must be one of the following values: linear, exponential, constant")
			}
		}
		if r.DelaySeconds != nil {
			if *r.DelaySeconds < 0 {
				problems = append(problems, "retries.delaySeconds must not be negative")
			}
			h.Retries.DelaySeconds = *r.DelaySeconds
		}
		if r.Attempts != nil {
			if *r.Attempts < 0 || *r.Attempts != math.Trunc(*r.Attempts) {
				problems = append(problems, "retries.attempts must be a whole number, 0 or more")
			}
			h.Retries.Attempts = int(*r.Attempts)
		}
	}
	for _, ch := range in.CustomHeaders {
		if ch.Name == "" {
			problems = append(problems, "customHeaders.name should not be empty")
		}
	}
	return h, problems
}

// envelope is WAHA's event body; the field order is WAHA's.
type envelope struct {
	ID          string          `json:"id"`
	Timestamp   int64           `json:"timestamp"`
	Event       string          `json:"event"`
	Session     string          `json:"session"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	Me          *envelopeMe     `json:"me"`
	Payload     any             `json:"payload"`
	Engine      string          `json:"engine"`
	Environment environment     `json:"environment"`
}

type envelopeMe struct {
	ID       string `json:"id"`
	PushName string `json:"pushName"`
}

type environment struct {
	Version  string  `json:"version"`
	Engine   string  `json:"engine"`
	Tier     string  `json:"tier"`
	Browser  *string `json:"browser"`
	Platform string  `json:"platform"`
	Worker   struct {
		ID *string `json:"id"`
	} `json:"worker"`
}

// Event is an event a session emitted, with its deliveries; its ID is the
// event id ("evt_…"), the same in every delivery and retry.
type Event = delivery.Event

// Delivery is the delivery of an event to one webhook, with the
// X-Webhook-Request-Id it carries on every try.
type Delivery = delivery.Delivery

// Events returns the events emitted so far, oldest first (at most the last
// 10000), with their deliveries.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events.Events()
}

// Flush waits until every webhook delivery queued so far has ended
// (delivered or given up), or ctx ends. Events that timers emit later (acks,
// QR rotations) are not waited for.
func (s *Server) Flush(ctx context.Context) error {
	return s.poster.Flush(ctx)
}

// emitLocked builds an event of the session and queues it for the
// session's webhooks that take it. It returns the event id, "" when the
// event could not be encoded.
func (s *Server) emitLocked(ss *session, event string, payload any) string {
	s.notifyLocked()
	now := time.Now()
	env := envelope{
		ID:          "evt_" + newULID(now),
		Timestamp:   now.UnixMilli(),
		Event:       event,
		Session:     ss.name,
		Metadata:    ss.metadata,
		Payload:     payload,
		Engine:      wahaEngine,
		Environment: environment{Version: wahaVersion, Engine: wahaEngine, Tier: "CORE", Platform: "linux/x64"},
	}
	if ss.paired && ss.me != nil {
		env.Me = &envelopeMe{ID: ss.me.ID, PushName: ss.me.PushName}
	}
	body, err := sim.Marshal(env)
	if err != nil {
		s.log.Error("waha stand-in: encode event", "event", event, "session", ss.name, "err", err)
		return ""
	}
	rec := delivery.NewRecord(Event{ID: env.ID, Type: event, Session: ss.name, Time: now, Body: body})
	s.events.Add(rec)
	s.fanOutLocked(ss, rec)
	return rec.ID
}

// fanOutLocked queues a delivery of the event to each of the session's
// webhooks that take it. Each webhook of a session has one queue, sent in
// order.
func (s *Server) fanOutLocked(ss *session, rec *delivery.Record) {
	for i, h := range ss.hooks {
		if !h.wants(rec.Type) || ss.muted[rec.Type] {
			continue
		}
		d := rec.Add(h.URL, newRequestID())
		s.enqueueLocked(ss.name+"\x00"+strconv.Itoa(i)+"\x00"+h.URL, rec, d, h)
	}
}

// Redeliver posts an event already emitted again, byte for byte with the
// same event id, to the session's webhooks that take it: a duplicate
// delivery, as WAHA makes after a restart or a lost answer, for tests of
// deduplication. Each new delivery has its own X-Webhook-Request-Id and is
// added to the event's Deliveries.
func (s *Server) Redeliver(eventID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.events.Find(eventID)
	if rec == nil {
		return fmt.Errorf("redeliver %q: no such event: %w", eventID, ErrInvalid)
	}
	ss, ok := s.sessions[rec.Session]
	if !ok {
		return fmt.Errorf("redeliver %q: session %q: %w", eventID, rec.Session, ErrUnknownSession)
	}
	s.notifyLocked()
	s.fanOutLocked(ss, rec)
	return nil
}

// enqueueLocked hands one delivery to the poster; s.mu is held.
func (s *Server) enqueueLocked(queue string, rec *delivery.Record, d *Delivery, h webhookConfig) {
	ok := s.poster.Enqueue(delivery.Job{
		Queue: queue,
		URL:   h.URL,
		Body:  rec.Body,
		Header: func(int) http.Header {
			hdr := http.Header{}
			for _, ch := range h.Headers {
				hdr.Set(ch.Name, ch.Value)
			}
			hdr.Set("User-Agent", "WAHA/"+wahaVersion)
			hdr.Set("X-Webhook-Request-Id", d.RequestID)
			hdr.Set("X-Webhook-Timestamp", strconv.FormatInt(time.Now().UnixMilli(), 10))
			if h.HMACKey != "" {
				hdr.Set("X-Webhook-Hmac", Sign(h.HMACKey, rec.Body))
				hdr.Set("X-Webhook-Hmac-Algorithm", "sha512")
			}
			return hdr
		},
		Tries:   h.Retries.Attempts + 1,
		Backoff: func(n int) time.Duration { return s.retryDelay(h.Retries, n-1) },
		Report: func(r delivery.Result) {
			s.mu.Lock()
			defer s.mu.Unlock()
			d.Update(r)
		},
		Log: s.log.With("event", rec.Type, "event_id", rec.ID, "session", rec.Session, "url", h.URL),
	})
	if !ok {
		d.GaveUp = true
		d.Err = "stand-in closed"
	}
}

// retryDelay is the wait before retry n (1-based).
func (s *Server) retryDelay(r retries, n int) time.Duration {
	unit := float64(s.timing.RetryUnit) * r.DelaySeconds
	var d float64
	switch r.Policy {
	case "linear":
		d = unit * float64(n)
	case "exponential":
		d = unit * math.Pow(2, float64(n-1))
	default:
		d = unit
	}
	if d > float64(s.timing.MaxRetryDelay) || math.IsInf(d, 0) {
		return s.timing.MaxRetryDelay
	}
	return time.Duration(d)
}

// Sign returns WAHA's X-Webhook-Hmac of body: the lower-case hex
// HMAC-SHA512 with key.
func Sign(key string, body []byte) string {
	mac := hmac.New(sha512.New, []byte(key))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// newULID returns a lower-case ULID (https://github.com/ulid/spec): 48 bits
// of milliseconds and 80 random bits in Crockford's base32.
func newULID(t time.Time) string {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (40 - 8*i))
	}
	_, _ = rand.Read(b[6:]) // crypto/rand.Read never fails
	// 128 bits as 26 characters of 5 bits, the first holding the top 3.
	var out [26]byte
	hi := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	lo := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 | uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

// newRequestID returns an X-Webhook-Request-Id: 32 hex digits.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
