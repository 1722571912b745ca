package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/db/dbtest"
	"github.com/myaibud/aibud/jobs"
)

const (
	// scaleMinute is how long a minute of the periodic schedule lasts in
	// the scale-out test: the minute jobs run every 2 s, the five-minute
	// ones every 10 s, the 15-minute one every 30 s, the hourly one every
	// 2 min.
	scaleMinute = 2 * time.Second
	scaleLeads  = 30
)

// TestScaleOut runs the product scaled out: two web and two worker
// processes of the program on one PostgreSQL database and one Redis DB,
// with the WAHA and Gemini stand-ins. A sign-in made on one web process
// holds on the other; a worker's live event reaches a stream on the other
// web process; a burst of leads is answered once each, by both workers;
// SIGTERM and SIGKILL of a worker mid-burst lose and double nothing; and
// with three workers started at different times (one restarted), every
// periodic job runs once per period, counted from the workers' logs.
func TestScaleOut(t *testing.T) {
	if testing.Short() {
		t.Skip("starts web and worker processes")
	}
	e := newStandIns(t)
	e.env["SCHEDULE_MINUTE"] = scaleMinute.String()
	e.env["LOG_LEVEL"] = "debug" // workers log every job they finish
	// The first web process listens at APP_BASE_URL, where the stand-in
	// posts webhooks.
	ports := []string{e.env["PORT"], fmt.Sprint(freePort(t))}
	webs := make([]string, len(ports))
	for i, port := range ports {
		webs[i] = "http://127.0.0.1:" + port
		e.startChild(t, "serve", map[string]string{"PORT": port}, webs[i]+"/readyz")
	}
	// every is each worker started, for the runs in their logs; workers
	// is those running.
	every := []*child{e.startWorker(t), e.startWorker(t)}
	workers := append([]*child(nil), every...)
	start := func() *child {
		w := e.startWorker(t)
		every = append(every, w)
		workers = append(workers, w)
		return w
	}

	var client *http.Client
	email := fmt.Sprintf("scale-%d@example.com", time.Now().UnixNano())
	t.Run("a sign-in on one web process holds on the other", func(t *testing.T) {
		client = signUp(t, webs[0], email)
		for _, base := range webs {
			res, err := client.Get(base + "/dashboard")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/dashboard" || !strings.Contains(string(body), "Run Test") {
				t.Errorf("%s/dashboard: %d on %s, want the tenant's dashboard", base, res.StatusCode, res.Request.URL.Path)
			}
		}
		res, err := http.Get(webs[1] + "/dashboard")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.Request.URL.Path == "/dashboard" {
			t.Error("the dashboard answered without a sign-in")
		}
	})

	t.Run("a worker's live event reaches a stream on the other web process", func(t *testing.T) {
		if client == nil {
			t.Skip("no signed-in client")
		}
		var tenantID int64
		if err := dbtest.DB(t).QueryRowContext(context.Background(), "SELECT tenant_id FROM users WHERE email = ?", email).Scan(&tenantID); err != nil {
			t.Fatal(err)
		}
		ts, inst := e.shopOf(t, tenantID)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, webs[1]+"/events", nil)
		res, err := (&http.Client{Jar: client.Jar}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("open stream: %s", res.Status)
		}
		events := make(chan string, 64)
		go func() {
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
					events <- name
				}
			}
		}()
		// The web processes only store the webhook and enqueue it: the
		// message is stored and announced by a worker.
		sent := time.Now()
		leads := e.leadsWrite(t, inst.SessionName, 1)
		for {
			select {
			case name := <-events:
				if name != "message-created" {
					continue
				}
				t.Logf("the lead's message reached the other web process's stream %s after the webhook", time.Since(sent).Round(time.Millisecond))
				e.waitQuiet(t, ts, leads, inst.SessionName, workers...)
				return
			case <-ctx.Done():
				t.Fatalf("no message-created event on %s/events\n%s", webs[1], tails(workers, 2000))
			}
		}
	})

	t.Run("a burst is answered once each, by both workers", func(t *testing.T) {
		ts, inst := e.shop(t)
		leads := e.leadsWrite(t, inst.SessionName, scaleLeads)
		e.waitQuiet(t, ts, leads, inst.SessionName, workers...)
		e.checkExactlyOnce(t, ts, leads, inst.SessionName)
		for i, w := range workers {
			n := runsFor(w, ts.TenantID())
			t.Logf("worker %d ran %d jobs of the burst (%d AI replies)", i+1, n[""], n[jobs.TypeAIReply])
			if n[jobs.TypeAIReply] == 0 || n[jobs.TypeProcessWebhook] == 0 {
				t.Errorf("worker %d ran no %s or no %s job of the burst: %v", i+1, jobs.TypeAIReply, jobs.TypeProcessWebhook, n)
			}
		}
	})

	t.Run("SIGTERM of a worker mid-burst loses and doubles nothing", func(t *testing.T) {
		ts, inst := e.shop(t)
		leads := e.leadsWrite(t, inst.SessionName, scaleLeads)
		e.waitProgress(t, ts, inst.SessionName, leads, func(p crashProgress) bool { return p.reserved >= 5 }, workers...)
		at := e.progress(t, ts, inst.SessionName, leads)
		if err := workers[0].stop(); err != nil {
			t.Errorf("the worker exited with %v after SIGTERM", err)
		}
		workers = workers[1:]
		e.waitQuiet(t, ts, leads, inst.SessionName, workers...)
		e.checkExactlyOnce(t, ts, leads, inst.SessionName)
		t.Logf("stopped with %s", at)
	})
	start() // the orchestrator's replacement

	// killedAt is when a worker was killed: a periodic job it was running
	// then is run again only once its lease expires (half a minute or
	// more), which is asynq's recovery, not the schedule under test.
	var killedAt time.Time
	t.Run("SIGKILL of a worker mid-burst loses and doubles nothing", func(t *testing.T) {
		ts, inst := e.shop(t)
		leads := e.leadsWrite(t, inst.SessionName, scaleLeads)
		e.waitProgress(t, ts, inst.SessionName, leads, func(p crashProgress) bool { return p.answered >= 5 }, workers...)
		workers[0].kill()
		killedAt = time.Now()
		at := e.progress(t, ts, inst.SessionName, leads)
		workers = workers[1:]
		e.waitQuiet(t, ts, leads, inst.SessionName, workers...)
		e.checkExactlyOnce(t, ts, leads, inst.SessionName)
		t.Logf("killed with %s", at)
	})

	t.Run("each periodic job runs once per period", func(t *testing.T) {
		// The worker left runs; two more start 0.7 s and 2.3 s into the
		// phase (apart within a period and across one), and the oldest
		// restarts (SIGTERM, then a new one) 5 s in: three at a time.
		t0 := time.Now()
		time.Sleep(700 * time.Millisecond)
		start()
		time.Sleep(t0.Add(2300 * time.Millisecond).Sub(time.Now()))
		start()
		time.Sleep(t0.Add(5 * time.Second).Sub(time.Now()))
		if err := workers[0].stop(); err != nil {
			t.Errorf("the worker exited with %v after SIGTERM", err)
		}
		workers = workers[1:]
		start()
		time.Sleep(t0.Add(12 * time.Second).Sub(time.Now()))
		t1 := time.Now()

		periods := map[string]time.Duration{}
		for _, p := range jobs.Periodics(scaleMinute) {
			task, _ := p.Task()
			periods[task.Type()] = p.Every
		}
		// Every period from the one holding t0 (begun after the kill) to
		// the last begun half a minute before t1 runs once.
		var want []string
		for typ, every := range periods {
			first := jobs.PeriodStart(t0, every)
			if first.Before(killedAt) {
				first = first.Add(every)
			}
			for s := first; !s.After(t1.Add(-scaleMinute / 2)); s = s.Add(every) {
				want = append(want, jobs.PeriodTaskID(typ, every, s))
			}
		}
		var runs map[string][]periodicRun
		var missing []string
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			runs, missing = periodicRuns(every, periods), nil
			for _, id := range want {
				if len(runs[id]) == 0 {
					missing = append(missing, id)
				}
			}
			if len(missing) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("waited 10s for a run of every period; none of %v (of %d) ran", missing, len(want))
			}
		}
		for id, rs := range runs {
			if len(rs) != 1 {
				t.Errorf("%s ran %d times: %v", id, len(rs), rs)
			}
			typ, s := rs[0].Type, rs[0].PeriodStart
			if s.IsZero() || !s.Equal(jobs.PeriodStart(s, periods[typ])) {
				t.Errorf("%s is not named after the start of a %s period", id, periods[typ])
			}
		}
		perType := map[string]int{}
		for _, id := range want {
			perType[id[:strings.LastIndex(id[:strings.LastIndex(id, ":")], ":")]]++
		}
		t.Logf("with workers started before, 0.7 and 2.3 s into the phase and one restarted at 5 s: "+
			"%d periods of the %d periodic jobs over %s, each run once (%d runs logged over the whole test, none twice); periods per job: %v",
			len(want), len(periods), t1.Sub(t0).Round(100*time.Millisecond), len(runs), perType)
		for _, w := range every {
			for _, r := range jobRuns(w) {
				if periods[r.Type] != 0 && r.Msg != "job done" {
					t.Errorf("a periodic job failed: %+v", r)
				}
			}
		}
	})
}

// jobRun is a job's finish as a worker logs it.
type jobRun struct {
	Time     time.Time `json:"time"`
	Msg      string    `json:"msg"`
	Type     string    `json:"type"`
	TaskID   string    `json:"task_id"`
	TenantID int64     `json:"tenant_id"`
	Err      string    `json:"err"`
}

// jobRuns reads the jobs a worker finished, done or failed, from its log.
func jobRuns(w *child) []jobRun {
	var out []jobRun
	for line := range strings.Lines(w.logs.String()) {
		var r jobRun
		if json.Unmarshal([]byte(line), &r) == nil && r.Type != "" && strings.HasPrefix(r.Msg, "job ") {
			out = append(out, r)
		}
	}
	return out
}

// runsFor counts the jobs of a tenant a worker finished, by type and in
// all ("").
func runsFor(w *child, tenantID int64) map[string]int {
	n := map[string]int{}
	for _, r := range jobRuns(w) {
		if r.TenantID == tenantID && r.Msg == "job done" {
			n[r.Type]++
			n[""]++
		}
	}
	return n
}

// periodicRun is a run of a periodic job, with the start of the period its
// task id names.
type periodicRun struct {
	Type        string
	PeriodStart time.Time
	Worker      int
	At          time.Time
}

// periodicRuns lists the successful runs of periodic jobs in the workers'
// logs by task id.
func periodicRuns(workers []*child, periods map[string]time.Duration) map[string][]periodicRun {
	out := map[string][]periodicRun{}
	for i, w := range workers {
		for _, r := range jobRuns(w) {
			if periods[r.Type] == 0 || r.Msg != "job done" {
				continue
			}
			run := periodicRun{Type: r.Type, Worker: i + 1, At: r.Time}
			sec, _, _ := strings.Cut(strings.TrimPrefix(r.TaskID, r.Type+":"), ":")
			if sec, err := strconv.ParseInt(sec, 10, 64); err == nil {
				run.PeriodStart = time.Unix(sec, 0)
			}
			out[r.TaskID] = append(out[r.TaskID], run)
		}
	}
	return out
}
