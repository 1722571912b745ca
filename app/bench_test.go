package app_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// loadResult is what a load generator measured.
type loadResult struct {
	elapsed   time.Duration
	latencies []time.Duration
	failures  int
}

func (r loadResult) perSecond(n int) float64 { return float64(n) / r.elapsed.Seconds() }

func (r loadResult) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// runLoad runs n jobs on `workers` goroutines and times each.
func runLoad(n, workers int, job func(i int) error) loadResult {
	var (
		mu  sync.Mutex
		res = loadResult{latencies: make([]time.Duration, 0, n)}
		wg  sync.WaitGroup
	)
	next := make(chan int)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				err := job(i)
				d := time.Since(t0)
				mu.Lock()
				res.latencies = append(res.latencies, d)
				if err != nil {
					res.failures++
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// BenchmarkWebhookIngest posts signed "message" events (distinct ids,
// realistic bodies) at concurrency 64 and measures the webhook's answers and
// the time until every event is processed, checking each was stored and
// processed exactly once. In the same run it measures a baseline: the same
// number of single-row INSERTs of the same payloads into PostgreSQL over the
// same pool at the same concurrency. Run it with `make bench`.
func BenchmarkWebhookIngest(b *testing.B) {
	b.Run("processing-concurrently", func(b *testing.B) { benchIngest(b, false) })
	b.Run("processing-after-burst", func(b *testing.B) { benchIngest(b, true) })
}

// benchIngest runs one ingest measurement. With deferProcessing, the
// workers' queue is paused during the burst and resumed after it, which
// shows what the webhook costs on its own; without, the workers process
// while the events arrive, as in production.
func benchIngest(b *testing.B, deferProcessing bool) {
	const (
		events      = 3000
		concurrency = 64
	)
	a := newTestApp(b)
	_, tenantID := a.tenantOf(b, "Bench Shop")
	ts := a.store.Tenant(tenantID)
	st, _ := ts.AISettings(context.Background())
	st.Enabled = false // measure ingestion, not answers
	if err := ts.SaveAISettings(context.Background(), st); err != nil {
		b.Fatal(err)
	}
	inst := instanceRow(b, a.store, tenantID)
	run := time.Now().UnixNano()
	bodies := make([][]byte, events)
	sigs := make([]string, events)
	for i := range bodies {
		bodies[i] = messageEvent(fmt.Sprintf("evt_bench_%d_%d", run, i), inst.SessionName, fmt.Sprintf("BENCH%d%06d", run%1e6, i),
			fmt.Sprintf("1555%07d", i%500), fmt.Sprintf("Hi! I saw your offer on Instagram, is the blue one still available in size %d? Thanks", i%12+36))
		sigs[i] = sign(bodies[i])
	}

	// Baseline: plain INSERTs of the same payloads over the same pool.
	bdb := dbtest.DB(b)
	ctx := context.Background()
	if _, err := bdb.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS bench_baseline (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		event_id text NOT NULL UNIQUE, payload bytea NOT NULL, received_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		b.Fatal(err)
	}
	if _, err := bdb.ExecContext(ctx, "TRUNCATE bench_baseline"); err != nil {
		b.Fatal(err)
	}
	base := runLoad(events, concurrency, func(i int) error {
		_, err := bdb.ExecContext(ctx, "INSERT INTO bench_baseline (event_id, payload) VALUES (?, ?)", fmt.Sprintf("base_%d_%d", run, i), bodies[i])
		return err
	})

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency}, Timeout: 30 * time.Second}
	if deferProcessing {
		if err := a.env.inspector.PauseQueue("critical"); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	ingest := runLoad(events, concurrency, func(i int) error {
		req, _ := http.NewRequest(http.MethodPost, a.URL+"/api/webhooks/whatsapp", bytes.NewReader(bodies[i]))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Webhook-Hmac", sigs[i])
		req.Header.Set("X-Webhook-Hmac-Algorithm", "sha512")
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	})
	_ = a.env.inspector.UnpauseQueue("critical")
	var processed int
	deadline := time.Now().Add(5 * time.Minute)
	for processed < events && time.Now().Before(deadline) {
		if err := bdb.QueryRowContext(ctx, "SELECT count(*) FROM webhook_events WHERE tenant_id = ? AND processed_at IS NOT NULL", tenantID).Scan(&processed); err != nil {
			b.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	allProcessed := time.Since(start)
	b.StopTimer()

	var stored, once, messages int
	_ = bdb.QueryRowContext(ctx, "SELECT count(*), count(*) FILTER (WHERE attempts = 1) FROM webhook_events WHERE tenant_id = ?", tenantID).Scan(&stored, &once)
	_ = bdb.QueryRowContext(ctx, "SELECT count(*) FROM messages WHERE tenant_id = ?", tenantID).Scan(&messages)
	if ingest.failures > 0 || base.failures > 0 || stored != events || once != events || messages != events {
		b.Fatalf("not exactly once: %d refused, %d baseline errors, %d stored, %d processed once, %d messages (want %d)",
			ingest.failures, base.failures, stored, once, messages, events)
	}

	ratio := ingest.perSecond(events) / base.perSecond(events)
	b.ReportMetric(ingest.perSecond(events), "events/s")
	b.ReportMetric(float64(ingest.pct(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(ingest.pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(allProcessed.Seconds(), "all-processed-s")
	b.ReportMetric(base.perSecond(events), "baseline-inserts/s")
	b.ReportMetric(ratio, "ratio")
	mode := "workers processing during the burst"
	if deferProcessing {
		mode = "processing deferred until after the burst"
	}
	fmt.Printf("\nwebhook ingest, %d events at concurrency %d, %s\n", events, concurrency, mode)
	fmt.Printf("  webhook:  %7.0f events/s  p50 %6.2f ms  p99 %6.2f ms  all processed after %.2f s\n",
		ingest.perSecond(events), ms(ingest.pct(0.5)), ms(ingest.pct(0.99)), allProcessed.Seconds())
	fmt.Printf("  baseline: %7.0f inserts/s p50 %6.2f ms  p99 %6.2f ms\n", base.perSecond(events), ms(base.pct(0.5)), ms(base.pct(0.99)))
	fmt.Printf("  ratio webhook/baseline: %.2f (target >= 0.7; p99 target < 50 ms)\n", ratio)
	fmt.Printf("  exactly once: %d stored, %d processed once, %d messages\n\n", stored, once, messages)
}

// BenchmarkAIReplyPipeline measures the reply pipeline's own overhead: 200
// conversations at once, burst wait zero, the Gemini stand-in answering at
// once; the time from the webhook being accepted to the send request
// reaching the WAHA simulator.
func BenchmarkAIReplyPipeline(b *testing.B) {
	const conversations = 200
	a := newTestApp(b)
	shop := newAIBenchShop(b, a, "Bench AI Shop")
	tenantID, inst := shop.tenantID, shop.inst
	run := time.Now().UnixNano()
	phones := make([]string, conversations)
	bodies := make([][]byte, conversations)
	for i := range bodies {
		phones[i] = fmt.Sprintf("1556%07d", i)
		bodies[i] = messageEvent(fmt.Sprintf("evt_aib_%d_%d", run, i), inst.SessionName, fmt.Sprintf("AIB%d%04d", run%1e6, i), phones[i], "what are your opening hours?")
	}
	accepted := make([]time.Time, conversations)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conversations}, Timeout: 30 * time.Second}

	b.ResetTimer()
	start := time.Now()
	res := runLoad(conversations, conversations, func(i int) error {
		req, _ := http.NewRequest(http.MethodPost, a.URL+"/api/webhooks/whatsapp", bytes.NewReader(bodies[i]))
		req.Header.Set("X-Webhook-Hmac", sign(bodies[i]))
		r, err := client.Do(req)
		if err != nil {
			return err
		}
		r.Body.Close()
		accepted[i] = time.Now()
		if r.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", r.StatusCode)
		}
		return nil
	})
	if res.failures > 0 {
		b.Fatalf("%d webhooks refused", res.failures)
	}
	sentAt := map[string]time.Time{}
	deadline := time.Now().Add(2 * time.Minute)
	for len(sentAt) < conversations && time.Now().Before(deadline) {
		for _, m := range a.env.sim.Sent(inst.SessionName) {
			if m.Time.After(start) {
				sentAt[m.ChatID] = m.Time
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	if len(sentAt) != conversations {
		b.Fatalf("%d of %d conversations answered", len(sentAt), conversations)
	}
	var lat loadResult
	var last time.Time
	for i, p := range phones {
		t := sentAt[p+"@c.us"]
		lat.latencies = append(lat.latencies, t.Sub(accepted[i]))
		if t.After(last) {
			last = t
		}
	}
	lat.elapsed = last.Sub(start)
	var replies int
	_ = dbtest.DB(b).QueryRowContext(context.Background(), "SELECT count(*) FROM ai_replies WHERE tenant_id = ? AND status = ?", tenantID, db.ReplySent).Scan(&replies)
	if replies != conversations {
		b.Fatalf("%d replies recorded as sent, want %d", replies, conversations)
	}
	// The same pipeline unloaded: one conversation at a time.
	var solo loadResult
	for i := range 20 {
		phone := fmt.Sprintf("1557%07d", i)
		body := messageEvent(fmt.Sprintf("evt_solo_%d_%d", run, i), inst.SessionName, fmt.Sprintf("SOLO%d%04d", run%1e6, i), phone, "what are your opening hours?")
		req, _ := http.NewRequest(http.MethodPost, a.URL+"/api/webhooks/whatsapp", bytes.NewReader(body))
		req.Header.Set("X-Webhook-Hmac", sign(body))
		r, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		r.Body.Close()
		t0 := time.Now()
		var sent time.Time
		for sent.IsZero() && time.Since(t0) < 10*time.Second {
			for _, m := range a.env.sim.Sent(inst.SessionName) {
				if m.ChatID == phone+"@c.us" {
					sent = m.Time
				}
			}
			time.Sleep(2 * time.Millisecond)
		}
		solo.latencies = append(solo.latencies, sent.Sub(t0))
	}
	b.ReportMetric(float64(lat.pct(0.5).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat.pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(lat.perSecond(conversations), "replies/s")
	b.ReportMetric(float64(solo.pct(0.5).Microseconds())/1000, "solo-p50-ms")
	fmt.Printf("\nAI reply pipeline, %d conversations at once, burst wait 0, instant model\n", conversations)
	fmt.Printf("  webhook accepted -> send at the gateway: p50 %.1f ms  p99 %.1f ms (target p99 < 100 ms)\n", ms(lat.pct(0.5)), ms(lat.pct(0.99)))
	fmt.Printf("  drained at %.0f replies/s, first webhook sent to last answer (goal >= %d replies/s: ratio %.2f)\n",
		lat.perSecond(conversations), goalBurstReplies, lat.perSecond(conversations)/goalBurstReplies)
	fmt.Printf("  one conversation at a time: p50 %.1f ms  p99 %.1f ms\n\n", ms(solo.pct(0.5)), ms(solo.pct(0.99)))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkCampaignPace3Numbers sends a campaign from 3 connected numbers
// at 30 messages a minute each, ±30 % jitter, 30 messages per number (about
// a minute), and measures each number's rate at the gateway against the
// pace: pace_ratio is the mean of measured/configured over the numbers,
// worst_pace_ratio the number's furthest from 1. Run it with `make bench`.
func BenchmarkCampaignPace3Numbers(b *testing.B) {
	const (
		numbers   = 3
		perNumber = 30
		perMinute = 30
	)
	a := newTestApp(b)
	ctx := context.Background()
	s := newCampaignShopOn(b, a, numbers*perNumber, numbers)
	if _, err := s.ts.Grant(ctx, 1000, "bench", fmt.Sprintf("bench-%d", time.Now().UnixNano())); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	s.launch(b, a, campaign.Pace{PerMinute: perMinute, JitterPct: 30})
	waitFor(b, 3*time.Minute, "the campaign to finish", func() bool { return s.state(b) == db.CampaignDone })
	b.StopTimer()

	sum, worst, longGaps := 0.0, 1.0, 0
	fmt.Printf("\ncampaign pace, %d numbers at %d/min ±30 %%\n", numbers, perMinute)
	for i, inst := range s.insts {
		sent := a.env.sim.Sent(inst.SessionName)
		if len(sent) < 2 {
			b.Fatalf("number %d sent %d messages", i, len(sent))
		}
		times := make([]time.Time, len(sent))
		for j, m := range sent {
			times[j] = m.Time
		}
		slices.SortFunc(times, func(x, y time.Time) int { return x.Compare(y) })
		rate := float64(len(times)-1) / times[len(times)-1].Sub(times[0]).Minutes()
		ratio := rate / perMinute
		sum += ratio
		if math.Abs(ratio-1) > math.Abs(worst-1) {
			worst = ratio
		}
		// The longest gap the pace allows is 2.6 s; a gap a second longer is
		// a dispatch that came late (a failed task, a busy worker).
		long := 0
		for j := 1; j < len(times); j++ {
			if times[j].Sub(times[j-1]) > 3600*time.Millisecond {
				long++
			}
		}
		longGaps += long
		fmt.Printf("  number %d: %d messages, %.2f/min, ratio %.3f, %d gaps over 3.6 s\n", i+1, len(times), rate, ratio, long)
	}
	s.wantEachOnce(b, a)
	b.ReportMetric(sum/numbers, "pace_ratio")
	b.ReportMetric(worst, "worst_pace_ratio")
	b.ReportMetric(float64(longGaps), "long_gaps")
	fmt.Printf("  mean ratio %.3f, worst %.3f\n\n", sum/numbers, worst)
}

// BenchmarkCampaignRedis100k launches a 100,000-recipient campaign on 3
// numbers, lets it send for 20 s, and measures what it costs Redis against
// the baseline before the launch: the growth of used_memory (INFO memory,
// server-wide, so other clients of the server add noise), of the asynq
// queues' memory, and the asynq tasks waiting (pending and scheduled),
// which must stay a handful (one dispatch per number and the sends in
// flight), not one per recipient. Run it with `make bench`.
func BenchmarkCampaignRedis100k(b *testing.B) {
	const (
		recipients = 100_000
		numbers    = 3
		run        = 20 * time.Second
	)
	a := newTestApp(b)
	ctx := context.Background()
	s := newCampaignShopOn(b, a, 1, numbers)
	rs := make([]db.Recipient, recipients)
	for i := range rs {
		rs[i] = db.Recipient{RowNumber: i + 2, Phone: fmt.Sprintf("+1777%07d", i), Name: fmt.Sprintf("Lead %d", i),
			Vars: map[string]string{"name": fmt.Sprintf("Lead %d", i)}}
	}
	t0 := time.Now()
	if err := s.ts.ReplaceRecipients(ctx, s.c.ID, rs, nil); err != nil {
		b.Fatal(err)
	}
	fmt.Printf("\n100,000-recipient campaign on %d numbers: recipients stored in %.1f s\n", numbers, time.Since(t0).Seconds())
	if _, err := s.ts.Grant(ctx, 10_000, "bench", fmt.Sprintf("bench-%d", time.Now().UnixNano())); err != nil {
		b.Fatal(err)
	}
	rdb := dbtest.Redis(b)
	before := redisUse(b, rdb, a)
	b.ResetTimer()
	s.launch(b, a, campaign.Pace{PerMinute: 60})
	var peak redisUsage
	for end := time.Now().Add(run); time.Now().Before(end); time.Sleep(time.Second) {
		peak = peak.max(redisUse(b, rdb, a))
	}
	b.StopTimer()
	after := redisUse(b, rdb, a)
	sent := s.counts(b).Queued
	if _, err := s.ts.CancelCampaign(ctx, s.c.ID); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(after.usedMemory-before.usedMemory)/1024, "used_memory_delta_KiB")
	b.ReportMetric(float64(after.queueMemory-before.queueMemory)/1024, "asynq_memory_delta_KiB")
	b.ReportMetric(float64(after.tasks-before.tasks), "asynq_tasks_delta")
	b.ReportMetric(float64(peak.tasks-before.tasks), "asynq_tasks_peak_delta")
	b.ReportMetric(float64(sent), "sent_in_20s")
	fmt.Printf("  Redis used_memory %+.0f KiB, asynq queues %+.0f KiB, asynq tasks waiting %+d (peak %+d) against the baseline\n",
		float64(after.usedMemory-before.usedMemory)/1024, float64(after.queueMemory-before.queueMemory)/1024,
		after.tasks-before.tasks, peak.tasks-before.tasks)
	fmt.Printf("  %d messages sent in %s at 60/min on %d numbers\n\n", sent, run, numbers)
	if peak.tasks-before.tasks > 20 {
		b.Errorf("%d asynq tasks waiting at the peak: the campaign is not one dispatch per number", peak.tasks-before.tasks)
	}
}

// redisUsage is what Redis holds at one time.
type redisUsage struct {
	usedMemory, queueMemory int64
	// tasks are the asynq tasks pending or scheduled, over every queue.
	tasks int
}

func (u redisUsage) max(v redisUsage) redisUsage {
	return redisUsage{usedMemory: max(u.usedMemory, v.usedMemory), queueMemory: max(u.queueMemory, v.queueMemory), tasks: max(u.tasks, v.tasks)}
}

func redisUse(b *testing.B, rdb *redis.Client, a *testApp) redisUsage {
	b.Helper()
	var u redisUsage
	info, err := rdb.InfoMap(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	u.usedMemory, _ = strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
	queues, err := a.env.inspector.Queues()
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range queues {
		qi, err := a.env.inspector.GetQueueInfo(q)
		if err != nil {
			b.Fatal(err)
		}
		u.queueMemory += qi.MemoryUsage
		u.tasks += qi.Pending + qi.Scheduled
	}
	return u
}
