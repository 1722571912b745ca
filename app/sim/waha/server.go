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
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/myaibud/aibud/app/sim"
)

// Errors of the control methods, to be checked with errors.Is.
var (
	// ErrUnknownSession: there is no session of that name.
	ErrUnknownSession = errors.New("waha sim: no such session")
	// ErrWrongStatus: the session is not in a status that allows the call.
	ErrWrongStatus = errors.New("waha sim: session is not in the right status")
	// ErrUnknownMessage: the session has no message with that id.
	ErrUnknownMessage = errors.New("waha sim: no such message")
	// ErrInvalid: an argument is empty or malformed.
	ErrInvalid = errors.New("waha sim: invalid argument")
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

func (t Timing) withDefaults() Timing {
	d := DefaultTiming()
	for _, f := range []struct{ v, def *time.Duration }{
		{&t.StartDelay, &d.StartDelay}, {&t.FirstQR, &d.FirstQR}, {&t.NextQR, &d.NextQR},
		{&t.StatusWait, &d.StatusWait}, {&t.DeviceAck, &d.DeviceAck}, {&t.RetryUnit, &d.RetryUnit},
		{&t.MaxRetryDelay, &d.MaxRetryDelay}, {&t.WebhookTimeout, &d.WebhookTimeout},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if t.MaxQRs <= 0 {
		t.MaxQRs = d.MaxQRs
	}
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
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

// maxLog bounds the event and call logs; the oldest entries go first.
const maxLog = 10000

// Server is the WAHA stand-in. Its methods are safe for concurrent use. Call
// Close to stop its timers and webhook deliveries.
type Server struct {
	apiKey   string
	imageIDs bool
	timing   Timing
	log      *slog.Logger
	client   *http.Client
	handler  http.Handler
	routes   []route
	phone    *phonePage

	// ctx ends with Close; background deliveries and timers watch it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	closed   bool
	sessions map[string]*session
	// accounts are the WhatsApp accounts set with SetAccount, by session,
	// used when the session is paired.
	accounts map[string]Account
	// absent are the phone numbers (digits) that are not on WhatsApp.
	absent map[string]bool
	// refused are the phone numbers (digits) sends to which are refused.
	refused map[string]bool
	faults  map[string]*fault
	delays  map[string]time.Duration
	holds   map[string]chan struct{}
	events  []*eventRecord
	queues  map[string]*queue
	// busy counts deliveries waiting or in flight, for Flush.
	busy  int
	idle  chan struct{}
	calls []Call
	// changed is closed and replaced, and version counted up, on every
	// change the phone page shows.
	changed chan struct{}
	version int
}

// fault is a FailNext injection.
type fault struct {
	status int
	left   int
}

// Call is one API request the stand-in answered, for tests to inspect.
type Call struct {
	Method string
	// Path is the request path, unescaped.
	Path string
	// Route is the route pattern, e.g. "/api/{session}/auth/qr"; empty for
	// unknown paths.
	Route string
	// Session is the session the request named, in the path, the query or
	// the JSON body.
	Session string
	Status  int
	Time    time.Time
}

// New returns a Server with no sessions.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	timing := opts.Timing.withDefaults()
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: timing.WebhookTimeout}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		apiKey:   opts.APIKey,
		imageIDs: opts.ImageIDs,
		timing:   timing,
		log:      log,
		client:   client,
		ctx:      ctx,
		cancel:   cancel,
		sessions: make(map[string]*session),
		accounts: make(map[string]Account),
		absent:   make(map[string]bool),
		refused:  make(map[string]bool),
		faults:   make(map[string]*fault),
		delays:   make(map[string]time.Duration),
		holds:    make(map[string]chan struct{}),
		queues:   make(map[string]*queue),
		changed:  make(chan struct{}),
	}
	s.routes = s.apiRoutes()
	s.phone = newPhonePage(s)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", s.ping)
	mux.HandleFunc("GET /health", s.health)
	mux.Handle("/api/", http.HandlerFunc(s.serveAPI))
	s.phone.register(mux)
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
		ss.stopTimer()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
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
		s.log.Info("waha stand-in listening", "addr", addr,
			"phone_page", "http://"+addr+"/phone", "api_key_required", opts.APIKey != "")
	})
}

// FailNext makes the next n requests to path answer status with a WAHA
// error body, without doing anything. path is a request path
// ("/api/sendText", "/api/t1_i2/auth/qr") or a route pattern
// ("/api/{session}/auth/qr"). n <= 0 disarms it; a status outside 400–599
// becomes 500.
func (s *Server) FailNext(path string, status int, n int) {
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.faults, path)
		return
	}
	s.faults[path] = &fault{status: status, left: n}
}

// Delay holds back the answers to path (as in FailNext) by d: the request
// is carried out at once and its answer waits, as when the answer is slow to
// come back, until d passes or the caller gives up. A send whose caller gave
// up is still sent. d <= 0 removes the delay.
func (s *Server) Delay(path string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d <= 0 {
		delete(s.delays, path)
		return
	}
	s.delays[path] = d
}

// Hold holds back the answers to path (as in FailNext) until release is
// called: each request is carried out at once (its webhooks are sent) and
// its answer waits, as Delay's, so a test can see what the events did
// before the caller has the answer. Hold again replaces an earlier hold,
// releasing it.
func (s *Server) Hold(path string) (release func()) {
	ch := make(chan struct{})
	s.mu.Lock()
	if old, ok := s.holds[path]; ok {
		close(old)
	}
	s.holds[path] = ch
	s.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			if s.holds[path] == ch {
				delete(s.holds, path)
			}
			s.mu.Unlock()
			close(ch)
		})
	}
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

// SetNumberExists tells whether a phone number (digits, a leading + allowed)
// is on WhatsApp, for checkNumberStatus. Every well-formed number is,
// unless set otherwise here.
func (s *Server) SetNumberExists(phone string, exists bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if exists {
		delete(s.absent, digitsOf(phone))
	} else {
		s.absent[digitsOf(phone)] = true
	}
}

// RefuseSendsTo makes sends (text and poll) to a phone number (digits, a
// leading + allowed) answer 400 without sending anything (refuse), as the
// gateway does for a chat WhatsApp will not deliver to, or sends normally
// again (!refuse).
func (s *Server) RefuseSendsTo(phone string, refuse bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if refuse {
		s.refused[digitsOf(phone)] = true
	} else {
		delete(s.refused, digitsOf(phone))
	}
}

// refusesSendsTo reports whether sends to chat are refused (RefuseSendsTo).
func (s *Server) refusesSendsTo(chat string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.HasSuffix(chat, "@c.us") && s.refused[digitsOf(strings.TrimSuffix(chat, "@c.us"))]
}

// Calls returns the API requests answered so far, oldest first (at most the
// last 10000).
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// notifyLocked wakes the phone page's waiters; s.mu is held.
func (s *Server) notifyLocked() {
	s.version++
	close(s.changed)
	s.changed = make(chan struct{})
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

// route is one API endpoint. Patterns are matched segment by segment;
// {name} matches any one segment. The standard mux cannot hold WAHA's paths:
// /api/sessions/{session} and /api/{session}/new-message-id overlap.
type route struct {
	method  string
	pattern string
	parts   []string
	handle  func(w http.ResponseWriter, r *http.Request, p params)
}

// params are the values of a route's wildcards.
type params map[string]string

// match returns the wildcard values when segs fit the route.
func (rt route) match(segs []string) (params, bool) {
	if len(segs) != len(rt.parts) {
		return nil, false
	}
	var p params
	for i, part := range rt.parts {
		if strings.HasPrefix(part, "{") {
			if segs[i] == "" {
				return nil, false
			}
			if p == nil {
				p = params{}
			}
			p[strings.Trim(part, "{}")] = segs[i]
			continue
		}
		if part != segs[i] {
			return nil, false
		}
	}
	return p, true
}

func newRoute(method, pattern string, h func(w http.ResponseWriter, r *http.Request, p params)) route {
	return route{method: method, pattern: pattern, parts: strings.Split(strings.Trim(pattern, "/"), "/"), handle: h}
}

// serveAPI checks the API key, finds the route, applies the injected faults
// and delays, and records the call.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	var rt *route
	var p params
	segs, ok := segments(r.URL)
	if ok {
		for i := range s.routes {
			if s.routes[i].method != r.Method {
				continue
			}
			if v, ok := s.routes[i].match(segs); ok {
				rt, p = &s.routes[i], v
				break
			}
		}
	}
	pattern := ""
	if rt != nil {
		pattern = rt.pattern
	}
	session := sessionOf(r, p)
	defer func() {
		s.record(Call{Method: r.Method, Path: r.URL.Path, Route: pattern, Session: session, Status: rec.status, Time: time.Now()})
	}()

	if !s.authorized(r) {
		s.log.Warn("waha stand-in: request without the API key", "method", r.Method, "path", r.URL.Path)
		writeError(rec, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if rt == nil {
		notFound(rec, r)
		return
	}
	if status, ok := s.takeFault(r.URL.Path, pattern); ok {
		writeJSON(rec, status, map[string]any{"statusCode": status, "message": "simulated failure", "error": http.StatusText(status)})
		return
	}
	d, held := s.delayFor(r.URL.Path, pattern)
	if d <= 0 && held == nil {
		rt.handle(rec, r, p)
		return
	}
	// Carry the request out now, even if the caller gives up while its
	// answer is held back.
	buf := newBufferedWriter()
	rt.handle(buf, r.WithContext(context.WithoutCancel(r.Context())), p)
	var timeout <-chan time.Time
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-timeout:
	case <-held:
	case <-r.Context().Done():
	}
	buf.copyTo(rec)
}

// segments splits an escaped path into unescaped segments, so that an
// escaped "/" stays inside its segment.
func segments(u *url.URL) ([]string, bool) {
	raw := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	out := make([]string, len(raw))
	for i, seg := range raw {
		v, err := url.PathUnescape(seg)
		if err != nil {
			return nil, false
		}
		out[i] = v
	}
	return out, true
}

// sessionOf names the session of a request for the call log: in the path,
// the query or the JSON body (which is read and put back).
func sessionOf(r *http.Request, p params) string {
	if v := p["session"]; v != "" {
		return v
	}
	if v := r.URL.Query().Get("session"); v != "" || r.Body == nil || r.Method == http.MethodGet {
		return v
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return ""
	}
	var b struct {
		Session string `json:"session"`
	}
	_ = json.Unmarshal(body, &b) // the handler reports bad bodies
	return b.Session
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
	if len(s.calls) > maxLog {
		s.calls = append([]Call(nil), s.calls[len(s.calls)-maxLog:]...)
	}
}

func (s *Server) takeFault(path, pattern string) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range []string{path, pattern} {
		f, ok := s.faults[key]
		if !ok || key == "" {
			continue
		}
		f.left--
		if f.left <= 0 {
			delete(s.faults, key)
		}
		return f.status, true
	}
	return 0, false
}

// delayFor is how long the answer to a request waits (Delay), and the
// channel that releases it when it is held (Hold).
func (s *Server) delayFor(path, pattern string) (time.Duration, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	held, ok := s.holds[path]
	if !ok {
		held = s.holds[pattern]
	}
	if d, ok := s.delays[path]; ok {
		return d, held
	}
	return s.delays[pattern], held
}

// recorder remembers the status written.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// bufferedWriter holds an answer back (Delay).
type bufferedWriter struct {
	header http.Header
	status int
	body   []byte
}

func newBufferedWriter() *bufferedWriter {
	return &bufferedWriter{header: http.Header{}, status: http.StatusOK}
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(status int) {
	b.status = status
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.body = append(b.body, p...)
	return len(p), nil
}

func (b *bufferedWriter) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body) // the caller may be gone
}

// writeJSON answers v as JSON, without escaping <, > and & (as WAHA).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"statusCode":500,"message":"encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body) // nothing to do when the caller is gone
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

// marshal encodes JSON without HTML escaping and without the trailing
// newline of json.Encoder.
func marshal(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
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

// sortedNames returns the session names in order.
func sortedNames(m map[string]*session) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
