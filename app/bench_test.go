package app_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

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
	bb, tenantID := a.tenantOf(b, "Bench AI Shop")
	ts := a.store.Tenant(tenantID)
	inst := a.connect(b, bb, tenantID)
	st, _ := ts.AISettings(context.Background())
	st.BurstWaitMS = 0
	if err := ts.SaveAISettings(context.Background(), st); err != nil {
		b.Fatal(err)
	}
	if _, err := ts.Grant(context.Background(), 10_000, "bench", fmt.Sprintf("bench-%d", time.Now().UnixNano())); err != nil {
		b.Fatal(err)
	}
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
	fmt.Printf("  webhook accepted -> send at the gateway: p50 %.1f ms  p99 %.1f ms  %.0f replies/s (target p99 < 100 ms)\n",
		ms(lat.pct(0.5)), ms(lat.pct(0.99)), lat.perSecond(conversations))
	fmt.Printf("  one conversation at a time: p50 %.1f ms  p99 %.1f ms\n\n", ms(solo.pct(0.5)), ms(solo.pct(0.99)))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
