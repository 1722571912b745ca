package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// Goals the open-loop and burst benchmarks report against (as ratios, not
// as assertions).
const (
	goalP99          = 100 * time.Millisecond // at goalRate
	goalRate         = 50                     // replies/s
	goalBurstReplies = 200                    // replies/s draining a 200-conversation burst
	// messagesPerTenantDay is a tenant's day in the capacity estimate:
	// 500 incoming messages, each answered by the AI.
	messagesPerTenantDay = 500
)

// openLoopRates are the arrival rates, leads per second:
// AIBUD_BENCH_RATES (e.g. "50,75,100") or 10, 50, 100 and 200.
func openLoopRates(b *testing.B) []int {
	s := os.Getenv("AIBUD_BENCH_RATES")
	if s == "" {
		return []int{10, 50, 100, 200}
	}
	var rates []int
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r <= 0 {
			b.Fatalf("AIBUD_BENCH_RATES=%q: want positive whole leads a second, comma-separated", s)
		}
		rates = append(rates, r)
	}
	return rates
}

// openLoopSeconds is how long leads arrive at each rate for one b.N:
// AIBUD_BENCH_SECONDS, 5 unless set. -benchtime Nx multiplies it (after a
// run with N = 1: prefer the variable).
func openLoopSeconds(b *testing.B) time.Duration {
	s := os.Getenv("AIBUD_BENCH_SECONDS")
	if s == "" {
		return 5 * time.Second
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		b.Fatalf("AIBUD_BENCH_SECONDS=%q: want a positive number of seconds", s)
	}
	return time.Duration(n * float64(time.Second))
}

// openLoopTenants is how many tenants (each with its own connected
// number) the leads are spread over, round robin, as on a shared box.
const openLoopTenants = 4

// BenchmarkAIReplyOpenLoop sends leads at fixed rates (openLoopRates),
// each a new conversation (burst wait 0, the Gemini stand-in answering at
// once), on a schedule independent of the answers (open loop), for
// AIBUD_BENCH_SECONDS (5 s) × b.N per rate. Per rate it reports the
// latency from the lead's scheduled send time (so that a slow webhook does
// not hide the wait it causes) to the answer's send request reaching the
// WAHA stand-in, the throughput in the second half, whether the backlog of
// unanswered leads grew over the second half, and the CPU time per
// answered message of this process (web, worker, stand-ins and load
// generator), of the PostgreSQL backends of the benchmark's database and
// the server's own processes, and of Redis. It fails only if a lead is not
// answered exactly once.
func BenchmarkAIReplyOpenLoop(b *testing.B) {
	a := newTestApp(b)
	shops := make([]aiBenchShop, openLoopTenants)
	for i := range shops {
		shops[i] = newAIBenchShop(b, a, fmt.Sprintf("Open Loop Shop %d", i+1))
	}
	u, err := url.Parse(dbtest.DatabaseURL(b))
	if err != nil {
		b.Fatal(err)
	}
	database := strings.TrimPrefix(u.Path, "/")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}, Timeout: 30 * time.Second}

	// What the box costs with nothing arriving: pollers, sweepers, and
	// the services' other clients.
	loadBefore := loadAverage()
	idleMeter := startCPUMeter(database)
	time.Sleep(time.Second)
	idle := idleMeter.stop()

	var rows []openLoopRow
	runs := 0 // each run's leads are new contacts
	for _, rate := range openLoopRates(b) {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			runs++
			r := runOpenLoop(b, a, client, shops, database, runs, rate, time.Duration(b.N)*openLoopSeconds(b))
			b.ReportMetric(ms(r.p50), "p50-ms")
			b.ReportMetric(ms(r.p99), "p99-ms")
			b.ReportMetric(r.throughput, "replies/s")
			b.ReportMetric(r.backlogSlope, "backlog-growth/s")
			b.ReportMetric(ms(r.cpuPerMessage()), "cpu-ms/msg")
			b.ReportMetric(tenantsPer2Cores(r.cpuPerMessage()), "tenants/2-cores")
			// With -benchtime Nx, N > 1, the testing package runs N = 1
			// first: the longer run replaces it.
			if len(rows) > 0 && rows[len(rows)-1].rate == rate {
				rows = rows[:len(rows)-1]
			}
			rows = append(rows, r)
		})
	}
	if len(rows) == 0 {
		return
	}
	printOpenLoop(rows, idle)
	fmt.Printf("load average (1 min) before the runs %s, after %s, on %d cores\n\n", loadBefore, loadAverage(), runtime.NumCPU())
}

// aiBenchShop is a tenant with a connected number, AI replies on, burst
// wait 0 and credits for every benchmark lead.
type aiBenchShop struct {
	tenantID int64
	inst     *db.Instance
}

func newAIBenchShop(b *testing.B, a *testApp, business string) aiBenchShop {
	b.Helper()
	ctx := context.Background()
	bb, tenantID := a.tenantOf(b, business)
	ts := a.store.Tenant(tenantID)
	inst := a.connect(b, bb, tenantID)
	st, _ := ts.AISettings(ctx)
	st.BurstWaitMS = 0
	if err := ts.SaveAISettings(ctx, st); err != nil {
		b.Fatal(err)
	}
	if _, err := ts.Grant(ctx, 100_000, "bench", fmt.Sprintf("bench-%d", time.Now().UnixNano())); err != nil {
		b.Fatal(err)
	}
	return aiBenchShop{tenantID: tenantID, inst: inst}
}

// openLoopRow is what one rate measured.
type openLoopRow struct {
	rate     int
	window   time.Duration // leads arrive over this long
	leads    int
	p50, p99 time.Duration // scheduled send -> send at the gateway
	// acceptedP99 is from the webhook's answer instead.
	acceptedP99 time.Duration
	// throughput is answers per second over the window's second half;
	// overall is the leads over the first lead's scheduled time to the
	// last answer.
	throughput, overall float64
	// pendingMid and pendingEnd are the leads sent but not yet answered at
	// the middle and the end of the window; backlogSlope the least-squares
	// slope of that count over the second half, leads per second.
	pendingMid, pendingEnd int
	backlogSlope           float64
	// drain is from the last lead's scheduled time to the last answer.
	drain time.Duration
	cpu   cpuUsage
	// connsClosed is the connections the pool closed because it may keep
	// only so many idle: each a PostgreSQL backend started and ended.
	connsClosed int64
}

func (r openLoopRow) cpuPerMessage() time.Duration { return r.cpu.total() / time.Duration(r.leads) }

// sustained: the backlog grew by less than 5 % of the arrival rate, that
// is, answers kept up with leads.
func (r openLoopRow) sustained() bool { return r.backlogSlope < 0.05*float64(r.rate) }

// runOpenLoop sends rate leads a second for window, spread over the shops,
// waits until each is answered, and measures.
func runOpenLoop(b *testing.B, a *testApp, client *http.Client, shops []aiBenchShop, database string, run, rate int, window time.Duration) openLoopRow {
	b.Helper()
	n := int(window.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	stamp := time.Now().UnixNano()
	phones := make([]string, n)
	bodies := make([][]byte, n)
	sigs := make([]string, n)
	for i := range n {
		shop := shops[i%len(shops)]
		phones[i] = fmt.Sprintf("1%03d%07d", run, i)
		bodies[i] = messageEvent(fmt.Sprintf("evt_ol_%d_%d", stamp, i), shop.inst.SessionName, fmt.Sprintf("OL%d%07d", stamp%1e6, i), phones[i],
			"Hi! Do you deliver on Saturdays, and how much is the delivery?")
		sigs[i] = sign(bodies[i])
	}
	scheduled := make([]time.Time, n)
	accepted := make([]time.Time, n)
	var (
		mu      sync.Mutex
		refused []string
		wg      sync.WaitGroup
	)

	b.ResetTimer()
	closedFrom := dbtest.DB(b).Stats().MaxIdleClosed
	meter := startCPUMeter(database)
	start := time.Now().Add(10 * time.Millisecond)
	for i := range n {
		scheduled[i] = start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(scheduled[i]))
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, a.URL+"/api/webhooks/whatsapp", bytes.NewReader(bodies[i]))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Webhook-Hmac", sigs[i])
			req.Header.Set("X-Webhook-Hmac-Algorithm", "sha512")
			res, err := client.Do(req)
			if err == nil {
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", res.StatusCode)
				}
			}
			accepted[i] = time.Now()
			if err != nil {
				mu.Lock()
				refused = append(refused, err.Error())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(refused) > 0 {
		b.Fatalf("%d of %d webhooks refused, first: %s", len(refused), n, refused[0])
	}
	sent := map[string][]time.Time{} // chat -> send times
	answered := func() int {
		clear(sent)
		got := 0
		for _, shop := range shops {
			for _, m := range a.env.sim.Sent(shop.inst.SessionName) {
				if m.Time.Before(start) {
					continue
				}
				for range m.Requests {
					sent[m.ChatID] = append(sent[m.ChatID], m.Time)
				}
				got++
			}
		}
		return got
	}
	deadline := time.Now().Add(time.Minute + window)
	for answered() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// The answers' acks are part of the work: wait until every event of
	// the shops is processed.
	waitFor(b, 30*time.Second, "every webhook event processed", func() bool {
		var left int
		ids := make([]int64, len(shops))
		for i, s := range shops {
			ids[i] = s.tenantID
		}
		_ = dbtest.DB(b).QueryRowContext(context.Background(), "SELECT count(*) FROM webhook_events WHERE tenant_id IN (?) AND processed_at IS NULL",
			bun.In(ids)).Scan(&left)
		return left == 0
	})
	cpu := meter.stop()
	b.StopTimer()

	row := openLoopRow{rate: rate, window: window, leads: n, cpu: cpu, connsClosed: dbtest.DB(b).Stats().MaxIdleClosed - closedFrom}
	var fromScheduled, fromAccepted loadResult
	answers := make([]time.Time, 0, n)
	var missing, twice int
	for i, p := range phones {
		ts := sent[p+"@c.us"]
		switch {
		case len(ts) == 0:
			missing++
			continue
		case len(ts) > 1:
			twice++
		}
		fromScheduled.latencies = append(fromScheduled.latencies, ts[0].Sub(scheduled[i]))
		fromAccepted.latencies = append(fromAccepted.latencies, ts[0].Sub(accepted[i]))
		answers = append(answers, ts[0])
	}
	if missing > 0 || twice > 0 {
		b.Fatalf("rate %d/s: %d of %d leads not answered, %d answered more than once", rate, missing, n, twice)
	}
	row.p50, row.p99 = fromScheduled.pct(0.5), fromScheduled.pct(0.99)
	row.acceptedP99 = fromAccepted.pct(0.99)
	slices.SortFunc(answers, func(x, y time.Time) int { return x.Compare(y) })
	row.drain = answers[len(answers)-1].Sub(scheduled[n-1])
	row.overall = float64(n) / answers[len(answers)-1].Sub(start).Seconds()

	// The backlog over the second half, from the recorded times: leads
	// scheduled by t minus answers by t, every 100 ms.
	end := start.Add(window)
	mid := start.Add(window / 2)
	pending := func(t time.Time) int {
		arrived, _ := slices.BinarySearchFunc(scheduled, t, func(x, t time.Time) int { return x.Compare(t) })
		done, _ := slices.BinarySearchFunc(answers, t, func(x, t time.Time) int { return x.Compare(t) })
		return arrived - done
	}
	row.pendingMid, row.pendingEnd = pending(mid), pending(end)
	var xs, ys []float64
	for t := mid; !t.After(end); t = t.Add(100 * time.Millisecond) {
		xs = append(xs, t.Sub(mid).Seconds())
		ys = append(ys, float64(pending(t)))
	}
	row.backlogSlope = slope(xs, ys)
	doneMid, _ := slices.BinarySearchFunc(answers, mid, func(x, t time.Time) int { return x.Compare(t) })
	doneEnd, _ := slices.BinarySearchFunc(answers, end, func(x, t time.Time) int { return x.Compare(t) })
	row.throughput = float64(doneEnd-doneMid) / end.Sub(mid).Seconds()
	return row
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}

// highestSustained is the row of the highest rate whose backlog did not
// grow, and that rate (0 if none).
func highestSustained(rows []openLoopRow) (openLoopRow, int) {
	var best openLoopRow
	for _, r := range rows {
		if r.sustained() && r.rate > best.rate {
			best = r
		}
	}
	return best, best.rate
}

// tenantsPer2Cores is how many tenants at messagesPerTenantDay two cores
// carry at cpu per message, fully busy, with the day's messages spread
// evenly.
func tenantsPer2Cores(cpu time.Duration) float64 {
	perCoreDay := 24 * time.Hour.Seconds() / cpu.Seconds()
	return 2 * perCoreDay / messagesPerTenantDay
}

func printOpenLoop(rows []openLoopRow, idle cpuUsage) {
	fmt.Printf("\nAI replies, open loop: leads at a fixed rate over %d tenants, each a new conversation, burst wait 0, instant model\n", openLoopTenants)
	fmt.Printf("latency from the lead's scheduled send to the answer's send request at the WAHA stand-in\n")
	fmt.Printf("%8s %6s %6s %9s %9s %11s %10s %9s %8s %8s %10s %9s %9s\n",
		"leads/s", "window", "leads", "p50", "p99", "p99 (acc.)", "replies/s", "replies/s", "pending", "pending", "backlog", "drain", "sustained")
	fmt.Printf("%8s %6s %6s %9s %9s %11s %10s %9s %8s %8s %10s %9s %9s\n",
		"", "", "", "", "", "", "2nd half", "overall", "mid", "end", "growth/s", "", "")
	for _, r := range rows {
		fmt.Printf("%8d %5.0fs %6d %7.1fms %7.1fms %9.1fms %10.1f %9.1f %8d %8d %10.2f %7.0fms %9v\n",
			r.rate, r.window.Seconds(), r.leads, ms(r.p50), ms(r.p99), ms(r.acceptedP99), r.throughput, r.overall,
			r.pendingMid, r.pendingEnd, r.backlogSlope, ms(r.drain), r.sustained())
	}
	fmt.Printf("\nCPU per answered message (ms), from the first lead until every answer and its acks were processed\n")
	fmt.Printf("%8s %12s %12s %12s %8s %8s %12s\n", "leads/s", "this process", "PostgreSQL", "PG server", "Redis", "total", "PG conns")
	fmt.Printf("%8s %12s %12s %12s %8s %8s %12s\n", "", "web+worker*", "backends", "processes†", "†", "", "closed‡")
	for _, r := range rows {
		per := func(d time.Duration) float64 { return ms(d) / float64(r.leads) }
		fmt.Printf("%8d %12.2f %12.2f %12.2f %8.2f %8.2f %12d\n", r.rate, per(r.cpu.self), per(r.cpu.pgOwn), per(r.cpu.pgAux), per(r.cpu.redis), per(r.cpu.total()), r.connsClosed)
	}
	fmt.Printf("* with the WAHA and Gemini stand-ins and the load generator, which run in the same process\n")
	fmt.Printf("† server-wide: other clients of the same servers count too; idle, over 1 s before the runs: this process %.0f ms/s, PG backends %.0f ms/s, PG server %.0f ms/s, Redis %.0f ms/s\n",
		ms(idle.self), ms(idle.pgOwn), ms(idle.pgAux), ms(idle.redis))
	fmt.Printf("‡ connections the pool closed for lack of idle room: each a backend started and ended; backends are read every 50 ms, so one that lived less is missed\n")

	best, sustained := highestSustained(rows)
	fmt.Println()
	if sustained == 0 {
		fmt.Printf("no rate sustained without the backlog growing\n")
	} else {
		cpu := best.cpuPerMessage()
		fmt.Printf("highest rate sustained without the backlog growing: %d leads/s\n", sustained)
		fmt.Printf("capacity at %.2f ms CPU per message (at %d leads/s): %.0f messages/s per core; at %d messages a tenant a day, %.0f tenants per 2-core box (CPU fully busy, the day's messages spread evenly)\n",
			ms(cpu), sustained, 1/cpu.Seconds(), messagesPerTenantDay, tenantsPer2Cores(cpu))
		fmt.Printf("by the rate sustained here instead (this box, shared): %d leads/s = %.0f tenants at %d messages a day\n",
			sustained, float64(sustained)*24*time.Hour.Seconds()/messagesPerTenantDay, messagesPerTenantDay)
	}
	for _, r := range rows {
		if r.rate == goalRate {
			fmt.Printf("goal p99 < %.0f ms at %d replies/s: p99 %.1f ms, ratio %.2f\n", ms(goalP99), goalRate, ms(r.p99), float64(r.p99)/float64(goalP99))
		}
	}
}

// loadAverage is the one-minute load average, for the reader to judge how
// busy the machine was.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(raw)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
