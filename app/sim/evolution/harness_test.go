package evolution_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/sim/evolution"
	"github.com/myaibud/aibud/app/sim/simtest"
)

const (
	globalKey = "evo-global-key"
	patience  = 5 * time.Second
)

// sim is a stand-in behind a real HTTP server.
type sim struct {
	*evolution.Server
	url string
}

// start runs a stand-in with opts (fast timings unless set, the global
// key always).
func start(t *testing.T, opts evolution.Options) *sim {
	t.Helper()
	if opts.Timing == (evolution.Timing{}) {
		opts.Timing = evolution.FastTiming()
	}
	opts.APIKey = globalKey
	s := &sim{Server: evolution.New(opts)}
	t.Cleanup(s.Close) // after the HTTP server's Close, registered below
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// reply is an HTTP answer, read in full.
type reply struct {
	status int
	body   []byte
}

func (r reply) obj(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return m
}

func (r reply) list(t *testing.T) []any {
	t.Helper()
	var l []any
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return l
}

// request calls the API with key as apikey ("" sends none); body is sent
// as JSON.
func (s *sim) request(t *testing.T, key, method, path string, body any) reply {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("apikey", key)
	}
	status, _, data := simtest.Call(t, method, s.url+path, body, h)
	return reply{status: status, body: data}
}

// api calls with the global key and checks the status.
func (s *sim) api(t *testing.T, method, path string, body any, want int) reply {
	t.Helper()
	r := s.request(t, globalKey, method, path, body)
	if r.status != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// create makes an instance whose webhook posts every event to hook (nil:
// no webhook).
func (s *sim) create(t *testing.T, name string, hook *receiver, extra map[string]any) map[string]any {
	t.Helper()
	body := map[string]any{"instanceName": name, "integration": "WHATSAPP-BAILEYS"}
	if hook != nil {
		body["webhook"] = map[string]any{
			"url": hook.url, "byEvents": false, "base64": false,
			"headers": map[string]string{"X-Aibud-Webhook-Token": "secret-" + name},
			"events":  []string{},
		}
	}
	for k, v := range extra {
		body[k] = v
	}
	return s.api(t, http.MethodPost, "/instance/create", body, http.StatusCreated).obj(t)
}

// open creates an instance, connects it and scans its code.
func (s *sim) open(t *testing.T, name string, hook *receiver) {
	t.Helper()
	s.create(t, name, hook, map[string]any{"qrcode": true})
	s.waitState(t, name, func(st evolution.SessionState) bool { return st.QR != "" })
	if err := s.Scan(name); err != nil {
		t.Fatal(err)
	}
	s.waitState(t, name, func(st evolution.SessionState) bool { return st.Status == evolution.StateOpen })
	s.flush(t)
}

// waitState waits until the instance's state satisfies ok, and returns it.
func (s *sim) waitState(t *testing.T, name string, ok func(evolution.SessionState) bool) evolution.SessionState {
	t.Helper()
	var st evolution.SessionState
	eventually(t, func() string { return fmt.Sprintf("instance %s to get there: %+v", name, st) }, func() bool {
		var err error
		st, err = s.Session(name)
		return err == nil && ok(st)
	})
	return st
}

// eventually polls done until it holds, failing the test after patience
// with what it waited for.
func eventually(t *testing.T, what func() string, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(patience); !done(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for %s", what())
		}
	}
}

func (s *sim) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	if s.Flush(ctx) != nil {
		t.Fatalf("webhook posts still queued after %s", patience)
	}
}

// post is one webhook request received.
type post struct {
	header http.Header
	path   string
	env    struct {
		Event       string          `json:"event"`
		Instance    string          `json:"instance"`
		Data        json.RawMessage `json:"data"`
		Destination string          `json:"destination"`
		DateTime    string          `json:"date_time"`
		Sender      string          `json:"sender"`
		ServerURL   string          `json:"server_url"`
		APIKey      *string         `json:"apikey"`
	}
	raw map[string]any
}

// data decodes the post's data.
func (p post) data(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(p.env.Data, &m); err != nil {
		t.Fatalf("decode data of %s: %v: %s", p.env.Event, err, p.env.Data)
	}
	return m
}

// receiver is a webhook endpoint; answer gives the status of the nth post
// (0-based); nil answers 200.
type receiver struct {
	url    string
	answer func(n int) int
	mu     sync.Mutex
	posts  []post
	codes  []int
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/api/webhooks/evolution"
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body) // a short body fails the test's decode
	p := post{header: r.Header.Clone(), path: r.URL.Path}
	_ = json.Unmarshal(data, &p.env) // checked by the tests
	_ = json.Unmarshal(data, &p.raw)
	rc.mu.Lock()
	code := http.StatusOK
	if rc.answer != nil {
		code = rc.answer(len(rc.posts))
	}
	rc.posts = append(rc.posts, p)
	rc.codes = append(rc.codes, code)
	rc.mu.Unlock()
	w.WriteHeader(code)
}

// got returns the posts of the events (all when none given), in the order
// they came.
func (rc *receiver) got(events ...string) []post {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []post
	for _, p := range rc.posts {
		if len(events) == 0 || contains(events, p.env.Event) {
			out = append(out, p)
		}
	}
	return out
}

// await waits until n posts of the event came, and returns them.
func (rc *receiver) await(t *testing.T, event string, n int) []post {
	t.Helper()
	var got []post
	eventually(t, func() string { return fmt.Sprintf("%d %s posts; got %s", n, event, rc.summary()) }, func() bool {
		got = rc.got(event)
		return len(got) >= n
	})
	return got
}

func (rc *receiver) summary() string {
	var names []string
	for _, p := range rc.got() {
		names = append(names, p.env.Event)
	}
	return "[" + strings.Join(names, " ") + "]"
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// field walks a decoded JSON value by keys and indexes ("key.remoteJid",
// "values.0").
func field(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := 0
			for _, c := range k {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}
