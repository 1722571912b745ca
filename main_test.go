package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/db/dbtest"
	"github.com/myaibud/aibud/jobs"
)

func TestMain(m *testing.M) {
	if runChild() {
		return
	}
	dbtest.Main(m)
}

func TestRunReportsEveryConfigProblem(t *testing.T) {
	err := run(context.Background(), []string{"aibud", "serve"}, func(string) string { return "" }, io.Discard)
	if err == nil {
		t.Fatal("run started without configuration")
	}
	for _, want := range []string{"DATABASE_URL is required", "REDIS_URL is required", "SESSION_SECRET is required", "APP_BASE_URL is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if err := run(context.Background(), []string{"aibud", "launch"}, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), `unknown command "launch"`) {
		t.Errorf("unknown command: %v", err)
	}
}

// syncBuffer is a log sink safe for the concurrent writes of run.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunAllServesWorksAndStops starts the whole program (web and workers in
// one process) on the test database, checks it serves and runs jobs, then
// cancels it as SIGTERM would and expects a clean stop that also ends open
// live streams.
func TestRunAllServesWorksAndStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	env := map[string]string{
		"PORT":               fmt.Sprint(port),
		"APP_BASE_URL":       base,
		"DATABASE_URL":       dbtest.DatabaseURL(t),
		"REDIS_URL":          dbtest.RedisURL(t),
		"REDIS_NAMESPACE":    dbtest.Namespace(t) + "-run",
		"SESSION_SECRET":     strings.Repeat("k", 40),
		"SESSION_LIFETIME":   "1h",
		"PASSWORD_HASH_COST": "4",
		"LOG_LEVEL":          "debug",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"aibud"}, func(k string) string { return env[k] }, logs) }()

	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := client.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never became ready: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The worker half runs jobs.
	opt, err := asynq.ParseRedisURI(env["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	queue := asynq.NewClient(opt)
	defer queue.Close()
	task, _ := jobs.NewAuditLedgerTask()
	if _, err := queue.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	for {
		res, err := client.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.Contains(string(body), `aibud_jobs_total{outcome="ok",type="ledger:audit"} 1`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the audit job did not run:\n%s", logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A signed-in browser keeps a live stream open; stopping must end it.
	jar := newJarClient(t, base)
	stream, err := jar.Get(base + "/events")
	if err != nil || stream.StatusCode != http.StatusOK {
		t.Fatalf("open stream: %v %v", err, stream)
	}
	streamEnded := make(chan struct{})
	go func() {
		defer close(streamEnded)
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
		}
	}()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("run did not stop within 40s of cancellation")
	}
	select {
	case <-streamEnded:
	case <-time.After(5 * time.Second):
		t.Error("the live stream stayed open after shutdown")
	}
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Error("the server still answers after shutdown")
	}
	for _, want := range []string{"shutting down the web server", "shutting down the workers", "aibud stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q", want)
		}
	}
	if strings.Contains(logs.String(), strings.Repeat("k", 40)) {
		t.Error("the session secret was logged")
	}
}

// newJarClient signs up a new account through the forms and returns its
// client.
func newJarClient(t *testing.T, base string) *http.Client {
	t.Helper()
	return signUp(t, base, fmt.Sprintf("run-%d@example.com", time.Now().UnixNano()))
}

// signUp signs up an account with email through the forms and returns its
// client.
func signUp(t *testing.T, base, email string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	res, err := c.Get(base + "/sign-up")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on /sign-up")
	}
	res, err = c.PostForm(base+"/sign-up", url.Values{
		"_csrf": {string(m[1])}, "business_name": {"Run Test"},
		"email": {email}, "password": {"password123"},
	})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/dashboard" {
		t.Fatalf("sign-up ended on %s (status %d)", res.Request.URL.Path, res.StatusCode)
	}
	return c
}

func TestRunHealth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"up", []string{"aibud", "health", srv.URL + "/healthz"}, ""},
		{"not ready", []string{"aibud", "health", srv.URL + "/readyz"}, "503"},
		{"nothing listening", []string{"aibud", "health", "http://127.0.0.1:1/healthz"}, "refused"},
		{"no URL", []string{"aibud", "health"}, "needs one URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, func(string) string { return "" }, io.Discard)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("health: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}
