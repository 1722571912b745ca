package waha_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/sim/simtest"
	"github.com/myaibud/aibud/app/sim/waha"
)

// wahaDir holds WAHA's OpenAPI spec and example events (a copy of the
// team's shared reference, see testdata/waha/README.md).
const wahaDir = "../../../testdata/waha"

const (
	testKey    = "sim-test-key"
	testSecret = "sim-hmac-secret"
	wait       = 5 * time.Second
)

// sim is a stand-in behind a real HTTP server.
type sim struct {
	*waha.Server
	url string
}

// newSim starts a stand-in with fast timings, changed by tune.
func newSim(t *testing.T, tune func(*waha.Timing)) *sim {
	t.Helper()
	timing := waha.FastTiming()
	if tune != nil {
		tune(&timing)
	}
	return newSimWith(t, waha.Options{Timing: timing})
}

// newSimWith starts a stand-in with the options (the test API key set).
func newSimWith(t *testing.T, opts waha.Options) *sim {
	t.Helper()
	opts.APIKey = testKey
	s := waha.New(opts)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return &sim{Server: s, url: srv.URL}
}

// answer is an HTTP answer, read in full.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

// call makes an API request with the API key; body is JSON-encoded unless it
// is a string.
func (s *sim) call(t *testing.T, method, path string, body any) answer {
	t.Helper()
	return s.callWith(t, method, path, body, http.Header{"X-Api-Key": {testKey}})
}

func (s *sim) callWith(t *testing.T, method, path string, body any, h http.Header) answer {
	t.Helper()
	status, header, data := simtest.Call(t, method, s.url+path, body, h)
	return answer{status: status, header: header, body: data}
}

// mustCall calls and checks the status.
func (s *sim) mustCall(t *testing.T, method, path string, body any, want int) answer {
	t.Helper()
	a := s.call(t, method, path, body)
	if a.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, a.status, want, a.body)
	}
	return a
}

// createSession creates and starts a session posting every event to hook.
func (s *sim) createSession(t *testing.T, name string, h *hook) {
	t.Helper()
	cfg := map[string]any{"metadata": map[string]string{"tenant.id": "t_1", "user.email": "owner@example.com"}}
	if h != nil {
		cfg["webhooks"] = []any{map[string]any{
			"url":     h.url,
			"events":  []string{"message", "message.any", "message.ack", "session.status", "poll.vote", "poll.vote.failed"},
			"hmac":    map[string]string{"key": testSecret},
			"retries": map[string]any{"policy": "constant", "delaySeconds": 1, "attempts": 3},
		}}
	}
	s.mustCall(t, http.MethodPost, "/api/sessions", map[string]any{"name": name, "config": cfg}, http.StatusCreated)
}

// working creates a session and scans it, waiting for WORKING.
func (s *sim) working(t *testing.T, name string, h *hook) {
	t.Helper()
	s.createSession(t, name, h)
	s.waitStatus(t, name, waha.StatusScanQR)
	if err := s.Scan(name); err != nil {
		t.Fatal(err)
	}
	s.waitStatus(t, name, waha.StatusWorking)
}

// waitStatus waits until the session has the status.
func (s *sim) waitStatus(t *testing.T, name, status string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		st, err := s.Session(name)
		if err == nil && st.Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s: status %q, want %q (err %v)", name, st.Status, status, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// flush waits for the webhook deliveries queued so far.
func (s *sim) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// hookRequest is one webhook request received.
type hookRequest struct {
	header http.Header
	body   []byte
	env    envelope
	status int
}

// envelope is WAHA's event envelope, as the tests read it.
type envelope struct {
	ID        string            `json:"id"`
	Timestamp int64             `json:"timestamp"`
	Event     string            `json:"event"`
	Session   string            `json:"session"`
	Metadata  map[string]string `json:"metadata"`
	Me        *struct {
		ID       string `json:"id"`
		PushName string `json:"pushName"`
	} `json:"me"`
	Payload json.RawMessage `json:"payload"`
	Engine  string          `json:"engine"`
}

// hook is a webhook receiver. respond gives the status of the nth request
// (0-based); nil answers 200.
type hook struct {
	url     string
	mu      sync.Mutex
	reqs    []hookRequest
	respond func(n int) int
}

func newHook(t *testing.T, respond func(n int) int) *hook {
	t.Helper()
	h := &hook{respond: respond}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var env envelope
		_ = json.Unmarshal(body, &env) // checked by the tests
		h.mu.Lock()
		status := http.StatusOK
		if h.respond != nil {
			status = h.respond(len(h.reqs))
		}
		h.reqs = append(h.reqs, hookRequest{header: r.Header.Clone(), body: body, env: env, status: status})
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/api/webhooks/whatsapp"
	return h
}

func (h *hook) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

// waitFor waits until a received request matches, and returns it.
func (h *hook) waitFor(t *testing.T, what string, match func(hookRequest) bool) hookRequest {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		for _, r := range h.requests() {
			if match(r) {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no webhook %s among %s", what, h.summary())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// delivered returns the successfully received requests of the event types
// (all when none given), in order.
func (h *hook) delivered(types ...string) []hookRequest {
	var out []hookRequest
	for _, r := range h.requests() {
		if r.status >= 300 {
			continue
		}
		if len(types) == 0 || contains(types, r.env.Event) {
			out = append(out, r)
		}
	}
	return out
}

func (h *hook) summary() string {
	var parts []string
	for _, r := range h.requests() {
		parts = append(parts, r.env.Event+"("+statusOf(r)+")")
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func statusOf(r hookRequest) string {
	var p struct {
		Status  string `json:"status"`
		AckName string `json:"ackName"`
	}
	_ = json.Unmarshal(r.env.Payload, &p) // best effort, for messages
	return p.Status + p.AckName
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// isStatus matches a session.status event of the status.
func isStatus(status string) func(hookRequest) bool {
	return func(r hookRequest) bool {
		return r.env.Event == "session.status" && statusOf(r) == status
	}
}

// readExample reads an example event of testdata/waha/examples.
func readExample(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(wahaDir, "examples", name))
	if err != nil {
		t.Fatalf("read WAHA example (expected in %s): %v", wahaDir, err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// sameShape reports where got and want differ in their object keys and
// JSON types, recursively (the first item of arrays); skip lists paths not
// compared ("payload._data").
func sameShape(got, want any, path string, skip ...string) []string {
	if contains(skip, path) {
		return nil
	}
	if kind(got) != kind(want) {
		return []string{path + ": " + kind(got) + ", want " + kind(want)}
	}
	var out []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		var names []string
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			p := strings.TrimPrefix(path+"."+k, ".")
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case contains(skip, p):
			case !gok:
				out = append(out, p+": missing")
			case !wok:
				out = append(out, p+": not in the example")
			default:
				out = append(out, sameShape(gv, wv, p, skip...)...)
			}
		}
	case []any:
		g := got.([]any)
		if len(g) > 0 && len(w) > 0 {
			out = append(out, sameShape(g[0], w[0], path+"[0]", skip...)...)
		}
	}
	return out
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "?"
}

func decodeMap(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}
