// Package metrics defines the Prometheus metrics of aibud on a registry of
// its own (no global registration), shared by the web server and the workers.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds every collector.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	jobs         *prometheus.CounterVec
	jobDuration  *prometheus.HistogramVec
	// Counters for notable domain events, by name (e.g. ledger mismatches).
	events *prometheus.CounterVec
}

// New builds the collectors and registers them, with the Go and process
// collectors, on a new registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aibud_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aibud_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aibud_jobs_total",
			Help: "Background jobs processed by task type and outcome: ok, error (will be retried), giveup (failed for good; listed in the owner console).",
		}, []string{"type", "outcome"}),
		jobDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aibud_job_duration_seconds",
			Help:    "Background job duration by task type.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"type"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aibud_events_total",
			Help: "Notable domain events by name.",
		}, []string{"name"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.jobs, m.jobDuration, m.events,
	)
	return m
}

// ObserveHTTP records one finished request.
func (m *Metrics) ObserveHTTP(route, method, status string, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, status).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// ObserveJob records one finished job.
func (m *Metrics) ObserveJob(taskType, outcome string, d time.Duration) {
	m.jobs.WithLabelValues(taskType, outcome).Inc()
	m.jobDuration.WithLabelValues(taskType).Observe(d.Seconds())
}

// Count adds one to a domain event counter.
func (m *Metrics) Count(name string) { m.events.WithLabelValues(name).Inc() }

// Add counts n events of a kind.
func (m *Metrics) Add(name string, n int) { m.events.WithLabelValues(name).Add(float64(n)) }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	// The web server compresses responses itself.
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, DisableCompression: true})
}
