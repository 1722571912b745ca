package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/sim/gemini"
	wahasim "github.com/myaibud/aibud/app/sim/waha"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// childCommand, when set in the environment, makes the test binary run as
// the aibud program itself (run with that subcommand) instead of running
// tests: the crash test starts real worker processes this way and kills
// them with SIGKILL.
const childCommand = "AIBUD_TEST_PROCESS"

// runChild runs the program as a child process would and reports whether
// this process is one.
func runChild() bool {
	cmd := os.Getenv(childCommand)
	if cmd == "" {
		return false
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, []string{"aibud", cmd}, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "aibud:", err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

const (
	crashWAHAKey   = "crash-waha-key"
	crashSecret    = "crash-webhook-secret"
	crashGeminiKey = "crash-gemini-key"
	crashLeads     = 20
)

// crashEnv is a web process (in this test process), the WAHA and Gemini
// stand-ins, and the configuration worker processes start with.
type crashEnv struct {
	sim    *wahasim.Server
	gemini *gemini.Server
	store  *db.Store
	env    map[string]string
	base   string
	// downloads is how many media downloads the WAHA stand-in is
	// answering now.
	downloads atomic.Int64
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newStandIns starts the WAHA and Gemini stand-ins and prepares the
// configuration the program's processes start with; the web process is to
// listen on the port of e.base.
func newStandIns(t *testing.T) *crashEnv {
	t.Helper()
	e := &crashEnv{store: dbtest.Store(t)}
	e.sim = wahasim.New(wahasim.Options{APIKey: crashWAHAKey, Timing: wahasim.FastTiming()})
	simHandler := e.sim.Handler()
	simSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/files/") {
			e.downloads.Add(1)
			defer e.downloads.Add(-1)
		}
		simHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(simSrv.Close)
	e.gemini = gemini.New(gemini.Options{APIKey: crashGeminiKey})
	e.gemini.SetDelay(150 * time.Millisecond) // a kill can land during the model call
	geminiSrv := httptest.NewServer(e.gemini.Handler())
	t.Cleanup(geminiSrv.Close)

	port := freePort(t)
	e.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	e.env = map[string]string{
		"PORT":                         fmt.Sprint(port),
		"APP_BASE_URL":                 e.base,
		"DATABASE_URL":                 dbtest.DatabaseURL(t),
		"REDIS_URL":                    dbtest.RedisURL(t),
		"REDIS_NAMESPACE":              dbtest.Namespace(t) + "-crash",
		"SESSION_SECRET":               strings.Repeat("c", 40),
		"PASSWORD_HASH_COST":           "4",
		"WAHA_API_URL":                 simSrv.URL,
		"WAHA_API_KEY":                 crashWAHAKey,
		"WAHA_WEBHOOK_SECRET":          crashSecret,
		"GOOGLE_GENERATIVE_AI_API_KEY": crashGeminiKey,
		"GEMINI_BASE_URL":              geminiSrv.URL,
		// Short timeouts make short leases: work of a killed worker is
		// taken over within seconds.
		"WHATSAPP_TIMEOUT": "2s",
		"GEMINI_TIMEOUT":   "2s",
		"LOG_LEVEL":        "warn",
	}
	return e
}

// newCrashEnv is the stand-ins and a web process in this test process.
func newCrashEnv(t *testing.T) *crashEnv {
	t.Helper()
	e := newStandIns(t)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"aibud", "serve"}, func(k string) string { return e.env[k] }, logs) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitReady(t, e.base+"/readyz", "the web process to be ready")
	return e
}

// waitReady waits for url to answer 200.
func waitReady(t *testing.T, url, what string) {
	t.Helper()
	waitUntil(t, 30*time.Second, what, func() bool {
		res, err := http.Get(url)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// child is a process of the program: this test binary running "aibud
// worker" or "aibud serve".
type child struct {
	cmd  *exec.Cmd
	logs *syncBuffer
}

func (e *crashEnv) startWorker(t *testing.T) *child {
	t.Helper()
	// Each worker's probe listener has a port of its own.
	probe := freePort(t)
	return e.startChild(t, "worker", map[string]string{"WORKER_HEALTH_ADDR": fmt.Sprintf("127.0.0.1:%d", probe)},
		fmt.Sprintf("http://127.0.0.1:%d/healthz", probe))
}

// startChild starts the program with command cmd and the environment's
// settings, overridden by env, and waits for ready to answer 200.
func (e *crashEnv) startChild(t *testing.T, cmd string, env map[string]string, ready string) *child {
	t.Helper()
	c := &child{logs: &syncBuffer{}}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childCommand+"="+cmd)
	for k, v := range e.env {
		if _, ok := env[k]; !ok {
			c.cmd.Env = append(c.cmd.Env, k+"="+v)
		}
	}
	for k, v := range env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.kill() })
	waitReady(t, ready, "the "+cmd+" process to start")
	return c
}

// kill ends the process with SIGKILL: no shutdown, no cleanup.
func (c *child) kill() {
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		_ = c.cmd.Wait()
	}
}

// stop ends the process with SIGTERM, as an orchestrator does, and returns
// how it exited.
func (c *child) stop() error {
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	return c.cmd.Wait()
}

// shop is a tenant with a connected number on the stand-in.
func (e *crashEnv) shop(t *testing.T) (*db.TenantStore, *db.Instance) {
	t.Helper()
	tenant, _ := dbtest.NewTenant(t, e.store)
	return e.shopOf(t, tenant.ID)
}

// shopOf connects a number of the tenant on the stand-in.
func (e *crashEnv) shopOf(t *testing.T, tenantID int64) (*db.TenantStore, *db.Instance) {
	t.Helper()
	ctx := context.Background()
	ts := e.store.Tenant(tenantID)
	st, err := ts.AISettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.BurstWaitMS, st.HoursEnabled = 300, false
	if err := ts.SaveAISettings(ctx, st); err != nil {
		t.Fatal(err)
	}
	inst, err := ts.CreateInstance(ctx, db.NewInstance{Name: "Crash", Providers: []string{"waha"}, Limit: 10, SessionName: whatsapp.SessionName})
	if err != nil {
		t.Fatal(err)
	}
	waha := whatsapp.NewWAHA(whatsapp.WAHAConfig{BaseURL: e.env["WAHA_API_URL"], APIKey: crashWAHAKey,
		WebhookURL: e.base + "/api/webhooks/whatsapp", WebhookSecret: crashSecret})
	if _, err := waha.CreateSession(ctx, whatsapp.SessionSpec{Name: inst.SessionName}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the session to scan", func() bool { return e.sim.Scan(inst.SessionName) == nil })
	if _, err := ts.SetInstanceState(ctx, inst.ID, db.SessionState{Status: db.InstanceConnected, ProviderStatus: whatsapp.StatusWorking}); err != nil {
		t.Fatal(err)
	}
	return ts, inst
}

// TestKilledWorkerLosesAndDoublesNothing: 20 leads write at once; the worker
// process is killed with SIGKILL at a point of the work (a table of kill
// points: while the events are processed, once the answers are scheduled,
// during the model calls, during the sends); a fresh worker process
// finishes the work. Every lead gets exactly one answer, charged exactly
// once. Kill points are conditions on the stored progress rather than
// delays, so each lands where it says on a fast or a slow machine.
func TestKilledWorkerLosesAndDoublesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	e := newCrashEnv(t)
	for _, tt := range []struct {
		name string
		when func(p crashProgress) bool
	}{
		{"while events are processed", func(p crashProgress) bool { return p.processed >= 5 }},
		{"once the answers are scheduled", func(p crashProgress) bool { return p.processed >= crashLeads }},
		{"during the model calls", func(p crashProgress) bool { return p.reserved >= 5 }},
		{"during the sends", func(p crashProgress) bool { return p.answered >= 5 }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts, inst := e.shop(t)
			w := e.startWorker(t)
			leads := e.leadsWrite(t, inst.SessionName, crashLeads)
			e.waitProgress(t, ts, inst.SessionName, leads, tt.when, w)
			w.kill()
			atKill := e.progress(t, ts, inst.SessionName, leads)
			w = e.startWorker(t)
			e.waitQuiet(t, ts, leads, inst.SessionName, w)
			e.checkExactlyOnce(t, ts, leads, inst.SessionName)
			t.Logf("killed with %s; every lead answered once after the restart", atKill)
		})
	}
}

// leadsWrite has n new leads write to the number at once and returns their
// phone numbers.
func (e *crashEnv) leadsWrite(t *testing.T, session string, n int) []string {
	t.Helper()
	leads := newLeadPhones(n)
	var wg sync.WaitGroup
	for i := range leads {
		wg.Go(func() {
			if _, err := e.sim.LeadSays(session, leads[i], "Lead", "what are your opening hours?"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	return leads
}

// newLeadPhones returns n phone numbers no lead has used yet.
func newLeadPhones(n int) []string {
	leads := make([]string, n)
	for i := range leads {
		leads[i] = fmt.Sprintf("1444%07d", time.Now().UnixNano()%1e7+int64(i)*7919)
	}
	return leads
}

// crashProgress is how far the work of a crash test got.
type crashProgress struct {
	events, processed, reserved, queued, answered int
}

func (p crashProgress) String() string {
	return fmt.Sprintf("%d/%d events processed, %d answers reserved, %d queued, %d leads answered",
		p.processed, p.events, p.reserved, p.queued, p.answered)
}

// waitProgress waits, polling closely, until the work reaches the point
// when says.
func (e *crashEnv) waitProgress(t *testing.T, ts *db.TenantStore, session string, leads []string, when func(crashProgress) bool, logs ...*child) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for p := e.progress(t, ts, session, leads); !when(p); p = e.progress(t, ts, session, leads) {
		if time.Now().After(deadline) {
			t.Fatalf("the point never came: %s\n%s", p, tails(logs, 2000))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *crashEnv) progress(t *testing.T, ts *db.TenantStore, session string, leads []string) crashProgress {
	var p crashProgress
	ctx := context.Background()
	_ = dbtest.DB(t).QueryRowContext(ctx, "SELECT count(*), count(processed_at) FROM webhook_events WHERE tenant_id = ?",
		ts.TenantID()).Scan(&p.events, &p.processed)
	_ = dbtest.DB(t).QueryRowContext(ctx, "SELECT count(*), count(out_message_id) FROM ai_replies WHERE tenant_id = ?",
		ts.TenantID()).Scan(&p.reserved, &p.queued)
	p.answered = e.answered(session, leads)
	return p
}

// answered counts the leads that got at least one message.
func (e *crashEnv) answered(session string, leads []string) int {
	got := map[string]bool{}
	for _, m := range e.sim.Sent(session) {
		got[m.ChatID] = true
	}
	n := 0
	for _, l := range leads {
		if got[l+"@c.us"] {
			n++
		}
	}
	return n
}

// waitQuiet waits until every lead is answered and nothing is left to do:
// no unprocessed webhook event, no message with pending work.
func (e *crashEnv) waitQuiet(t *testing.T, ts *db.TenantStore, leads []string, session string, logs ...*child) {
	t.Helper()
	sqlDB := dbtest.DB(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var pendingEvents, pendingWork, openReplies int
		_ = sqlDB.QueryRowContext(context.Background(),
			"SELECT count(*) FROM webhook_events WHERE tenant_id = ? AND processed_at IS NULL", ts.TenantID()).Scan(&pendingEvents)
		_ = sqlDB.QueryRowContext(context.Background(),
			"SELECT count(*) FROM messages WHERE tenant_id = ? AND due_at IS NOT NULL", ts.TenantID()).Scan(&pendingWork)
		_ = sqlDB.QueryRowContext(context.Background(),
			"SELECT count(*) FROM ai_replies WHERE tenant_id = ? AND status IN ('reserved', 'generated', 'sending')", ts.TenantID()).Scan(&openReplies)
		if e.answered(session, leads) == len(leads) && pendingEvents == 0 && pendingWork == 0 && openReplies == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %d of %d leads answered, %d events unprocessed, %d messages with work left, %d replies open\nworker logs:\n%s",
				e.answered(session, leads), len(leads), pendingEvents, pendingWork, openReplies, tails(logs, 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (e *crashEnv) checkExactlyOnce(t *testing.T, ts *db.TenantStore, leads []string, session string) {
	t.Helper()
	e.checkExactlyOnceAt(t, ts, leads, session, 2)
}

// checkExactlyOnceAt checks that every lead got one answer, stored and
// charged once at cost credits (the AI reply and its message).
func (e *crashEnv) checkExactlyOnceAt(t *testing.T, ts *db.TenantStore, leads []string, session string, cost int64) {
	t.Helper()
	ctx := context.Background()
	delivered := map[string]int{}
	for _, m := range e.sim.Sent(session) {
		delivered[strings.TrimSuffix(m.ChatID, "@c.us")]++
	}
	for _, l := range leads {
		if delivered[l] != 1 {
			t.Errorf("lead %s got %d answers, want 1", l, delivered[l])
		}
	}
	var replies, sent int
	if err := dbtest.DB(t).QueryRowContext(ctx, "SELECT count(*), count(*) FILTER (WHERE status = 'sent') FROM ai_replies WHERE tenant_id = ?",
		ts.TenantID()).Scan(&replies, &sent); err != nil {
		t.Fatal(err)
	}
	if replies != len(leads) || sent != len(leads) {
		t.Errorf("%d AI replies, %d sent; want %d and %d", replies, sent, len(leads), len(leads))
		rows, err := dbtest.DB(t).QueryContext(ctx, `SELECT ar.id, ar.status, ar.error, coalesce(m.status, ''), coalesce(m.attempt, -1)
			FROM ai_replies ar LEFT JOIN messages m ON m.id = ar.out_message_id WHERE ar.tenant_id = ? AND ar.status <> 'sent'`, ts.TenantID())
		if err == nil {
			for rows.Next() {
				var id int64
				var st, msg, mst string
				var attempt int
				_ = rows.Scan(&id, &st, &msg, &mst, &attempt)
				t.Logf("reply %d: %s %q; its message: %q, attempt %d", id, st, msg, mst, attempt)
			}
			rows.Close()
		}
	}
	balance, err := ts.CreditBalance(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := 400 - cost*int64(len(leads)); balance != want {
		t.Errorf("balance %d, want %d: each answer charged exactly once (%d credits: AI reply + message)", balance, want, cost)
	}
	var out int
	_ = dbtest.DB(t).QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE tenant_id = ? AND direction = 'out' AND sender = 'ai'",
		ts.TenantID()).Scan(&out)
	if out != len(leads) {
		t.Errorf("%d outgoing AI messages stored, want %d", out, len(leads))
	}
}

// tails is the end of each process's log.
func tails(cs []*child, n int) string {
	var b strings.Builder
	for i, c := range cs {
		fmt.Fprintf(&b, "--- process %d:\n%s\n", i+1, tail(c.logs.String(), n))
	}
	return b.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
