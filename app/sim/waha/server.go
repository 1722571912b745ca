// Package waha is a stand-in for a WAHA server (WhatsApp HTTP API,
// https://waha.devlike.pro), for local development and tests. The app's real
// WAHA client talks to it over HTTP; nothing here reaches WhatsApp.
//
// It serves the part of WAHA's API that aibud uses, in the shapes of WAHA's
// OpenAPI spec (shared/waha/openapi.json): sessions (create, list, get,
// update, delete, start, stop, restart, logout, me), the pairing QR code
// (PNG, JSON or raw value) and pairing code, new message ids, sendText,
// sendPoll, sendImage (which, like a WAHA may, ignores the pre-generated id
// its spec does not list, unless Options.ImageIDs), sendSeen,
// start/stopTyping, one message of a chat and a chat's latest messages,
// checkNumberStatus and the lid → phone lookup. Every /api request needs the X-Api-Key header
// when Options.APIKey is set; /ping needs none. Errors come in WAHA's shapes:
// 400 {statusCode, message, error} for invalid input, 404 for an unknown
// session or message, 422 {error, session, status, expected} for a call in
// the wrong session status (after waiting up to Timing.StatusWait for the
// status to come, as WAHA does) and 422 for creating a session that exists.
//
// Sessions post their events to the webhooks of their config, in WAHA's
// envelope, signed with HMAC-SHA512 when the webhook has an hmac key, and
// retried in the background per the webhook's retries config (see
// webhook.go). Events: session.status, message, message.any, message.ack,
// poll.vote and poll.vote.failed.
//
// A session's life follows WAHA's: start → STARTING → SCAN_QR_CODE, with a
// first QR code living Timing.FirstQR (60 s) and a new one every
// Timing.NextQR (20 s); after Timing.MaxQRs (6) codes nobody scanned, the
// session is FAILED. A scan (Scan, or the phone page's button) makes it
// WORKING. A paired session that starts again goes straight to WORKING.
//
// Tests and the phone page drive the other side of WhatsApp through methods
// of Server: Scan, SetAccount, LeadSays, LeadSaysAsLID, OwnerSaysFromPhone,
// LeadVotes, LeadVoteFails, Read, RotateQR, DropSession; they read what
// happened through Sent, Sessions, Events and Calls, wait for webhooks with
// Flush, post an event again with Redeliver, and inject faults with FailNext
// and Delay.
//
// GET /phone is a small web page for a person using make dev: it shows the
// QR codes with a "Scan with phone" button, then a chat where the person
// writes as a lead, sees what the app answered, votes in polls (and changes
// or withdraws the vote) and writes as
// the owner from the phone. It needs no API key: bind the stand-in to
// loopback.
package waha

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/myaibud/aibud/app/sim"
	"github.com/myaibud/aibud/app/sim/delivery"
	"github.com/myaibud/aibud/app/sim/phone"
)

// Errors of the control methods, to be checked with errors.Is; they are
// the shared stand-in errors of package sim.
var (
	// ErrUnknownSession: there is no session of that name.
	ErrUnknownSession = sim.ErrUnknownSession
	// ErrWrongStatus: the session is not in a status that allows the call.
	ErrWrongStatus = sim.ErrWrongStatus
	// ErrUnknownMessage: the session has no message with that id.
	ErrUnknownMessage = sim.ErrUnknownMessage
	// ErrInvalid: an argument is empty or malformed.
	ErrInvalid = sim.ErrInvalid
)

// Session statuses, as WAHA names them.
const (
	StatusStopped  = "STOPPED"
	StatusStarting = "STARTING"
	StatusScanQR   = "SCAN_QR_CODE"
	StatusWorking  = "WORKING"
	StatusFailed   = "FAILED"
)

// Timing sets how long things take. A zero field takes WAHA's value (or the
// stand-in's, where WAHA has none); use a small positive value, not zero, to
// make something fast.
type Timing struct {
	// StartDelay is how long a session stays STARTING (default 1 s).
	StartDelay time.Duration
	// FirstQR is how long the first QR code of a start lives (default 60 s).
	FirstQR time.Duration
	// NextQR is how long each later QR code lives (default 20 s).
	NextQR time.Duration
	// MaxQRs is how many QR codes a start offers before the session is
	// FAILED (default 6).
	MaxQRs int
	// StatusWait is how long a call made in the wrong session status waits
	// for the right one before it answers 422 (default 5 s).
	StatusWait time.Duration
	// DeviceAck is the time between the SERVER and DEVICE acks of a sent
	// message (default 1 s).
	DeviceAck time.Duration
	// RetryUnit is the length of one of the "delaySeconds" of a webhook's
	// retries config (default 1 s). Tests make it a millisecond.
	RetryUnit time.Duration
	// MaxRetryDelay caps the wait before a webhook retry (default 30 s).
	// WAHA has no cap; the stand-in keeps a session's events in order, so a
	// long exponential wait would hold back every later event.
	MaxRetryDelay time.Duration
	// WebhookTimeout bounds one webhook request (default 10 s); it applies
	// when Options.HTTPClient is nil.
	WebhookTimeout time.Duration
}

// DefaultTiming returns WAHA's timings.
func DefaultTiming() Timing {
	return Timing{
		StartDelay:     time.Second,
		FirstQR:        60 * time.Second,
		NextQR:         20 * time.Second,
		MaxQRs:         6,
		StatusWait:     5 * time.Second,
		DeviceAck:      time.Second,
		RetryUnit:      time.Second,
		MaxRetryDelay:  30 * time.Second,
		WebhookTimeout: 10 * time.Second,
	}
}

// FastTiming returns timings for tests: starting, acks, status waits and
// webhook retries take milliseconds. QR codes keep WAHA's lifetimes, so that
// they do not rotate in the middle of a test; use RotateQR, or set FirstQR
// and NextQR, to test rotation.
func FastTiming() Timing {
	t := DefaultTiming()
	t.StartDelay = 5 * time.Millisecond
	t.StatusWait = 200 * time.Millisecond
	t.DeviceAck = 5 * time.Millisecond
	t.RetryUnit = 5 * time.Millisecond
	t.MaxRetryDelay = 100 * time.Millisecond
	t.WebhookTimeout = 5 * time.Second
	return t
}

// Options configure a Server.
type Options struct {
	// APIKey is the key every /api request must send as X-Api-Key. Empty
	// accepts every request, as WAHA does without WAHA_API_KEY.
	APIKey string
	// Timing sets the clocks; zero fields take WAHA's values.
	Timing Timing
	// Logger receives session lifecycle and webhook delivery lines (never
	// message texts at Info). Nil discards.
	Logger *slog.Logger
	// HTTPClient delivers the webhooks. Nil uses a client with a
	// Timing.WebhookTimeout timeout.
	HTTPClient *http.Client
	// ImageIDs makes sendImage send the image under the pre-generated "id"
	// of the request, as sendText does. By default the stand-in ignores it,
	// as a WAHA may (its spec's MessageImageRequest has no "id"), and the
	// image, its echo and its acks carry an id of its own.
	ImageIDs bool
	// BaseURL is the stand-in's own address as the app reaches it
	// ("http://127.0.0.1:3000"), for the media.url of webhooks. Empty
	// takes the Host of the latest /api request, or before any, the
	// listening address (Run).
	BaseURL string
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

// Server is the WAHA stand-in. Its methods are safe for concurrent use. Call
// Close to stop its timers and webhook deliveries.
type Server struct {
	apiKey   string
	imageIDs bool
	// base is the address in media URLs (Options.BaseURL, else learned).
	base    *baseURL
	timing  Timing
	log     *slog.Logger
	client  *http.Client
	handler http.Handler
	poster  *delivery.Poster
	// API serves /api and holds the injected faults: FailNext, Delay,
	// Hold and Calls.
	*sim.API
	// Numbers holds the numbers not on WhatsApp (SetNumberExists) and
	// those sends to which are refused (RefuseSendsTo).
	*sim.Numbers

	mu       sync.Mutex
	closed   bool
	sessions map[string]*session
	// accounts are the WhatsApp accounts set with SetAccount, linked when
	// a session is paired.
	accounts *sim.Accounts
	events   delivery.Log
	// changes counts what the phone page shows, to wake its waiting
	// requests.
	changes sim.Changes
}

// Call is one API request the stand-in answered, for tests to inspect.
type Call = sim.Call

// New returns a Server with no sessions.
func New(opts Options) *Server {
	timing := sim.WithDefaults(opts.Timing, DefaultTiming())
	log, client := sim.Defaults(opts.Logger, opts.HTTPClient, timing.WebhookTimeout)
	s := &Server{
		apiKey:   opts.APIKey,
		imageIDs: opts.ImageIDs,
		base:     &baseURL{fixed: strings.TrimSuffix(opts.BaseURL, "/")},
		timing:   timing,
		log:      log,
		client:   client,
		poster:   delivery.New(client),
		sessions: make(map[string]*session),
		Numbers:  sim.NewNumbers(),
		accounts: sim.NewAccounts(func(digits string) string { return digits + "@c.us" }),
	}
	s.API = sim.NewAPI(sim.APIConfig{
		Routes:   s.apiRoutes(),
		Session:  sessionOf,
		Check:    s.check,
		NotFound: notFound,
		Fail: func(w http.ResponseWriter, _ *http.Request, _ string, status int) {
			sim.WriteJSON(w, status, map[string]any{"statusCode": status, "message": "simulated failure", "error": http.StatusText(status)})
		},
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", s.ping)
	mux.HandleFunc("GET /health", s.health)
	mux.Handle("/api/", http.HandlerFunc(s.API.Serve))
	phone.New(phoneSide{s}, phoneLabels, log).Register(mux)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/phone", http.StatusSeeOther)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, r)
	})
	s.handler = mux
	return s
}

// Handler returns the HTTP handler serving WAHA's API and the phone page.
func (s *Server) Handler() http.Handler {
	return s.handler
}

// Close stops the session timers and the webhook deliveries, waiting for
// deliveries in flight to end. The handler keeps answering; nothing is sent
// any more.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for _, ss := range s.sessions {
		ss.timer.Stop()
	}
	s.mu.Unlock()
	s.poster.Close()
}

// Run serves a new stand-in on addr until ctx is cancelled, then shuts it
// down. log replaces opts.Logger when not nil.
func Run(ctx context.Context, addr string, opts Options, log *slog.Logger) error {
	if log != nil {
		opts.Logger = log
	}
	s := New(opts)
	defer s.Close()
	return sim.Serve(ctx, "waha stand-in", addr, s.handler, s.log, func(addr string) {
		s.base.listening(addr)
		s.log.Info("waha stand-in listening", "addr", addr,
			"phone_page", "http://"+addr+"/phone", "api_key_required", opts.APIKey != "")
	})
}

// Mute stops (on) or restarts delivering the session's events of a type,
// e.g. "message.any", as when deliveries are lost; muted events are still
// recorded in Events.
func (s *Server) Mute(session, event string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.sessions[session]; ok {
		ss.muted[event] = on
	}
}

// refusesSendsTo reports whether sends to chat are refused (RefuseSendsTo).
func (s *Server) refusesSendsTo(chat string) bool {
	return strings.HasSuffix(chat, "@c.us") && s.Refused(sim.Digits(strings.TrimSuffix(chat, "@c.us")))
}

// notifyLocked wakes the phone page's waiters; s.mu is held.
func (s *Server) notifyLocked() {
	s.changes.Notify()
}

// ping is WAHA's GET /ping, the one endpoint without the API key.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"message": "pong"})
}

// health is GET /health, which needs the API key.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "info": map[string]any{}, "error": map[string]any{}, "details": map[string]any{}})
}

func (s *Server) authorized(r *http.Request) bool {
	if s.apiKey == "" {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Api-Key")), []byte(s.apiKey)) == 1
}

// check asks for the API key on every /api request.
func (s *Server) check(w http.ResponseWriter, r *http.Request, _ *sim.Route, _ sim.Params) bool {
	if !s.authorized(r) {
		s.log.Warn("waha stand-in: request without the API key", "method", r.Method, "path", r.URL.Path)
		writeError(w, http.StatusUnauthorized, "Unauthorized")
		return false
	}
	s.base.learn(r)
	return true
}

// sessionOf names the session of a request for the call log: in the path,
// the query or the JSON body (which is read and put back).
func sessionOf(r *http.Request, p sim.Params) string {
	if v := p["session"]; v != "" {
		return v
	}
	if v := r.URL.Query().Get("session"); v != "" || r.Method == http.MethodGet {
		return v
	}
	var b struct {
		Session string `json:"session"`
	}
	sim.PeekJSON(r, &b)
	return b.Session
}

// writeJSON answers v as JSON, without escaping <, > and & (as WAHA).
func writeJSON(w http.ResponseWriter, status int, v any) {
	sim.WriteJSON(w, status, v)
}

// writeEmpty answers 200 with an empty body, WAHA's "nothing".
func writeEmpty(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
}

// writeError answers NestJS's error shape {statusCode, message, error}.
func writeError(w http.ResponseWriter, status int, message any) {
	writeJSON(w, status, map[string]any{"statusCode": status, "message": message, "error": http.StatusText(status)})
}

// badRequest answers a validation failure: message is a list, as
// class-validator gives.
func badRequest(w http.ResponseWriter, problems ...string) {
	writeError(w, http.StatusBadRequest, problems)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("Cannot %s %s", r.Method, r.URL.Path))
}

// sessionNotFound is WAHA's answer for an unknown session; its message names
// the session, which clients use to tell it from a missing message.
func sessionNotFound(w http.ResponseWriter, name string) {
	writeError(w, http.StatusNotFound, fmt.Sprintf("We didn't find a session with name '%s'. Please start it first by using POST /api/sessions/%s/start request", name, name))
}

// wrongStatus is WAHA's 422 for a call in the wrong session status.
func wrongStatus(w http.ResponseWriter, name, status string, expected []string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"error":    "Session status is not as expected. Try again later or restart the session",
		"session":  name,
		"status":   status,
		"expected": expected,
	})
}

// decodeBody reads a JSON request body into v; it answers 400 and returns
// false when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeBodyUpTo(w, r, v, maxBody)
}

// decodeBodyUpTo is decodeBody for bodies up to limit bytes (media).
func decodeBodyUpTo(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		badRequest(w, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}
