package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// MaxLog bounds the stand-ins' event and call logs; the oldest entries go
// first.
const MaxLog = 10000

// Call is one API request a stand-in answered, for tests to inspect.
type Call struct {
	Method string
	// Path is the request path, unescaped.
	Path string
	// Route is the route pattern, e.g. "/api/{session}/auth/qr"; empty for
	// unknown paths.
	Route string
	// Session is the session (instance) the request named.
	Session string
	Status  int
	Time    time.Time
}

// Params are the values of a route's wildcards.
type Params map[string]string

// Route is one API endpoint. Patterns are matched segment by segment;
// {name} matches any one segment. (The standard mux cannot hold WAHA's
// paths: /api/sessions/{session} and /api/{session}/new-message-id
// overlap.)
type Route struct {
	Method  string
	Pattern string
	parts   []string
	Handle  func(w http.ResponseWriter, r *http.Request, p Params)
}

// NewRoute returns the route of method and pattern.
func NewRoute(method, pattern string, h func(w http.ResponseWriter, r *http.Request, p Params)) Route {
	return Route{Method: method, Pattern: pattern, parts: strings.Split(strings.Trim(pattern, "/"), "/"), Handle: h}
}

// match returns the wildcard values when segs fit the route.
func (rt Route) match(segs []string) (Params, bool) {
	if len(segs) != len(rt.parts) {
		return nil, false
	}
	var p Params
	for i, part := range rt.parts {
		if strings.HasPrefix(part, "{") {
			if segs[i] == "" {
				return nil, false
			}
			if p == nil {
				p = Params{}
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

// APIConfig is what a stand-in plugs into an API.
type APIConfig struct {
	// Routes are tried in order; the first match wins.
	Routes []Route
	// Session names the session of a request for the call log.
	Session func(r *http.Request, p Params) string
	// Check runs first (rt is nil for an unknown path): it answers and
	// returns false to stop the request there (no API key, unknown
	// session).
	Check func(w http.ResponseWriter, r *http.Request, rt *Route, p Params) bool
	// NotFound answers a path no route matches.
	NotFound http.HandlerFunc
	// Fail answers a failure injected with FailNext.
	Fail func(w http.ResponseWriter, r *http.Request, pattern string, status int)
}

// API serves a stand-in's API: it finds the route, applies the injected
// faults and delays, and records the call. Its methods are safe for
// concurrent use.
type API struct {
	cfg APIConfig

	mu     sync.Mutex
	faults map[string]*fault
	delays map[string]time.Duration
	holds  map[string]chan struct{}
	calls  []Call
}

// fault is a FailNext injection.
type fault struct {
	status int
	left   int
}

// NewAPI returns an API serving cfg's routes.
func NewAPI(cfg APIConfig) *API {
	return &API{
		cfg:    cfg,
		faults: make(map[string]*fault),
		delays: make(map[string]time.Duration),
		holds:  make(map[string]chan struct{}),
	}
}

// Serve answers one API request.
func (a *API) Serve(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	var rt *Route
	var p Params
	if segs, ok := segments(r.URL); ok {
		for i := range a.cfg.Routes {
			if a.cfg.Routes[i].Method != r.Method {
				continue
			}
			if v, ok := a.cfg.Routes[i].match(segs); ok {
				rt, p = &a.cfg.Routes[i], v
				break
			}
		}
	}
	pattern := ""
	if rt != nil {
		pattern = rt.Pattern
	}
	session := a.cfg.Session(r, p)
	defer func() {
		a.record(Call{Method: r.Method, Path: r.URL.Path, Route: pattern, Session: session, Status: rec.status, Time: time.Now()})
	}()
	if !a.cfg.Check(rec, r, rt, p) {
		return
	}
	if rt == nil {
		a.cfg.NotFound(rec, r)
		return
	}
	if status, ok := a.takeFault(r.URL.Path, pattern); ok {
		a.cfg.Fail(rec, r, pattern, status)
		return
	}
	d, held := a.delayFor(r.URL.Path, pattern)
	if d <= 0 && held == nil {
		rt.Handle(rec, r, p)
		return
	}
	// Carry the request out now, even if the caller gives up while its
	// answer is held back.
	buf := &bufferedWriter{header: http.Header{}, status: http.StatusOK}
	rt.Handle(buf, r.WithContext(context.WithoutCancel(r.Context())), p)
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

// FailNext makes the next n requests to path fail without doing anything,
// answering status (400–599, else 500) in the gateway's error shape. path
// is a request path ("/api/sendText", "/message/sendText/i1") or a route
// pattern ("/api/{session}/auth/qr", "/instance/connect/{instance}"). n <=
// 0 disarms it.
func (a *API) FailNext(path string, status int, n int) {
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if n <= 0 {
		delete(a.faults, path)
		return
	}
	a.faults[path] = &fault{status: status, left: n}
}

// Delay holds back the answers to path (as in FailNext) by d: the request
// is carried out at once and its answer waits, as when the answer is slow
// to come back, until d passes or the caller gives up. A send whose caller
// gave up is still sent. d <= 0 removes the delay.
func (a *API) Delay(path string, d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	SetDuration(a.delays, path, d)
}

// SetDuration sets m[key] to d, or deletes it when d <= 0.
func SetDuration(m map[string]time.Duration, key string, d time.Duration) {
	if d <= 0 {
		delete(m, key)
		return
	}
	m[key] = d
}

// Hold holds back the answers to path (as in FailNext) until release is
// called: each request is carried out at once (its webhooks are sent) and
// its answer waits, as Delay's, so a test can see what the events did
// before the caller has the answer. Hold again replaces an earlier hold,
// releasing it.
func (a *API) Hold(path string) (release func()) {
	ch := make(chan struct{})
	a.mu.Lock()
	if old, ok := a.holds[path]; ok {
		close(old)
	}
	a.holds[path] = ch
	a.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			if a.holds[path] == ch {
				delete(a.holds, path)
			}
			a.mu.Unlock()
			close(ch)
		})
	}
}

// Calls returns the requests answered so far, oldest first (at most the
// last MaxLog).
func (a *API) Calls() []Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Call(nil), a.calls...)
}

func (a *API) record(c Call) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, c)
	if len(a.calls) > MaxLog {
		a.calls = append([]Call(nil), a.calls[len(a.calls)-MaxLog:]...)
	}
}

func (a *API) takeFault(path, pattern string) (int, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, key := range []string{path, pattern} {
		f, ok := a.faults[key]
		if !ok || key == "" {
			continue
		}
		f.left--
		if f.left <= 0 {
			delete(a.faults, key)
		}
		return f.status, true
	}
	return 0, false
}

// delayFor is how long the answer to a request waits (Delay), and the
// channel that releases it when it is held (Hold).
func (a *API) delayFor(path, pattern string) (time.Duration, <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	held, ok := a.holds[path]
	if !ok {
		held = a.holds[pattern]
	}
	if d, ok := a.delays[path]; ok {
		return d, held
	}
	return a.delays[pattern], held
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

// bufferedWriter holds an answer back (Delay, Hold).
type bufferedWriter struct {
	header http.Header
	status int
	body   []byte
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

// WriteJSON answers v as JSON, without escaping <, > and & (as WAHA and
// Evolution API do).
func WriteJSON(w http.ResponseWriter, status int, v any) {
	body, err := Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"statusCode":500,"message":"encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body) // nothing to do when the caller is gone
}

// Marshal encodes JSON without HTML escaping and without the trailing
// newline of json.Encoder.
func Marshal(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}
