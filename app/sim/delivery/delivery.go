// Package delivery posts a stand-in's webhook events in the background,
// with retries, the way the gateways (WAHA, Evolution API) do. Each job
// names a queue; the jobs of one queue go out one after the other, so that
// a failing event holds back the later ones of its queue until it is
// delivered or given up. A stand-in that wants an event to be overtaken
// puts it on a queue of its own with a Wait.
package delivery

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Job is one event to post to one webhook.
type Job struct {
	// Queue names the ordered queue the job joins.
	Queue string
	URL   string
	Body  []byte
	// Header returns the headers of try n (1-based); nil sends only
	// Content-Type: application/json.
	Header func(n int) http.Header
	// Tries is how many tries at most (at least one is made).
	Tries int
	// Backoff is the wait before try n (n >= 2).
	Backoff func(n int) time.Duration
	// Final tells an HTTP status that is not retried (Evolution API gives
	// up on 400, 401, 403, 404 and 422); nil retries every failure.
	Final func(status int) bool
	// Wait holds the first try back, so that later jobs of other queues
	// overtake this one.
	Wait time.Duration
	// Report receives the outcome after every try and at the end; it runs
	// on the delivering goroutine with no lock of this package held.
	Report func(Result)
	// Log receives the delivery's warnings; nil discards.
	Log *slog.Logger
}

// Result is where a job's delivery stands.
type Result struct {
	// Attempts counts the tries made so far.
	Attempts int
	// Status is the HTTP status of the last try, 0 when it got no answer.
	Status int
	// Err is the network error of the last try, or why the delivery ended.
	Err string
	// Delivered: a try got a 2xx answer. GaveUp: the delivery ended
	// without.
	Delivered bool
	GaveUp    bool
}

// Poster delivers jobs. Its methods are safe for concurrent use.
type Poster struct {
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	queues map[string]*queue
	// busy counts jobs waiting or in flight, for Flush.
	busy int
	idle chan struct{}
}

type queue struct {
	key     string
	jobs    []Job
	running bool
}

// New returns a Poster that posts with client.
func New(client *http.Client) *Poster {
	ctx, cancel := context.WithCancel(context.Background())
	return &Poster{client: client, ctx: ctx, cancel: cancel, queues: make(map[string]*queue)}
}

// Enqueue adds a job to its queue. It returns false, doing nothing, once
// the Poster is closed.
func (p *Poster) Enqueue(j Job) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	q, ok := p.queues[j.Queue]
	if !ok {
		q = &queue{key: j.Queue}
		p.queues[j.Queue] = q
	}
	q.jobs = append(q.jobs, j)
	p.busy++
	if !q.running {
		q.running = true
		p.wg.Add(1)
		go p.work(q)
	}
	return true
}

// Flush waits until every job queued so far has ended (delivered or given
// up), or ctx ends.
func (p *Poster) Flush(ctx context.Context) error {
	for {
		p.mu.Lock()
		if p.busy == 0 || p.closed {
			p.mu.Unlock()
			return nil
		}
		if p.idle == nil {
			p.idle = make(chan struct{})
		}
		idle := p.idle
		p.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("flush webhooks: %w", ctx.Err())
		}
	}
}

// Close stops the deliveries, waiting for those in flight to end; jobs
// not delivered are given up.
func (p *Poster) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

// work delivers a queue's jobs in order until it is empty.
func (p *Poster) work(q *queue) {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if len(q.jobs) == 0 {
			q.running = false
			delete(p.queues, q.key)
			p.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs = q.jobs[1:]
		p.mu.Unlock()

		p.deliver(j)

		p.mu.Lock()
		p.busy--
		if p.busy == 0 && p.idle != nil {
			close(p.idle)
			p.idle = nil
		}
		p.mu.Unlock()
	}
}

// deliver tries one job until it succeeds, runs out of tries, meets a
// final status or the Poster closes.
func (p *Poster) deliver(j Job) {
	log := j.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	report := j.Report
	if report == nil {
		report = func(Result) {}
	}
	var res Result
	end := func(reason string) {
		res.GaveUp = true
		if reason != "" {
			res.Err = reason
		}
		report(res)
	}
	if !p.sleep(j.Wait) {
		end("stand-in closed")
		return
	}
	tries := max(j.Tries, 1)
	for n := 1; n <= tries; n++ {
		if n > 1 && !p.sleep(j.Backoff(n)) {
			end("stand-in closed")
			return
		}
		status, err := p.post(j, n)
		res.Attempts++
		res.Status, res.Err = status, ""
		if err != nil {
			res.Err = err.Error()
		}
		res.Delivered = err == nil && status >= 200 && status < 300
		report(res)
		if res.Delivered {
			log.Debug("webhook delivered", "attempt", n)
			return
		}
		if p.ctx.Err() != nil {
			end("stand-in closed")
			return
		}
		log.Warn("webhook failed", "attempt", n, "of", tries, "status", status, "err", err)
		if err == nil && j.Final != nil && j.Final(status) {
			break
		}
	}
	end("")
	log.Warn("webhook given up", "tries", res.Attempts)
}

// sleep waits d; it returns false when the Poster closes first.
func (p *Poster) sleep(d time.Duration) bool {
	if d <= 0 {
		return p.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// post makes try n; it returns the HTTP status or the network error.
func (p *Poster) post(j Job, n int) (int, error) {
	req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, j.URL, bytes.NewReader(j.Body))
	if err != nil {
		return 0, fmt.Errorf("build webhook request: %w", err)
	}
	if j.Header != nil {
		for k, v := range j.Header(n) {
			req.Header[k] = v
		}
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post webhook: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20)) // let the connection be reused
	return res.StatusCode, nil
}
