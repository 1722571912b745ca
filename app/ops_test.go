package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/myaibud/aibud/app"
	"github.com/myaibud/aibud/static"
)

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.newBrowser(t)

	r := b.get("/healthz")
	wantStatus(t, r, http.StatusOK)
	if r.body != "ok" {
		t.Errorf("/healthz body = %q", r.body)
	}
	r = b.get("/readyz")
	wantStatus(t, r, http.StatusOK)
	var checks map[string]string
	if err := json.Unmarshal([]byte(r.body), &checks); err != nil || checks["postgres"] != "ok" || checks["redis"] != "ok" {
		t.Errorf("/readyz = %s (err %v)", r.body, err)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.newBrowser(t)
	b.get("/sign-in")
	b.get("/no-such-page")
	r := b.get("/metrics")
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{
		`aibud_http_requests_total{method="GET",route="/sign-in",status="200"} 1`,
		`aibud_http_requests_total{method="GET",route="unmatched",status="404"}`,
		`aibud_http_request_duration_seconds_bucket{method="GET",route="/sign-in"`,
		`go_goroutines`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	guarded := newTestApp(t, func(o *app.Options) { o.MetricsToken = "s3cret" })
	gb := guarded.newBrowser(t)
	wantStatus(t, gb.get("/metrics"), http.StatusUnauthorized)
	wantStatus(t, gb.get("/metrics", "Authorization", "Bearer wrong"), http.StatusUnauthorized)
	wantStatus(t, gb.get("/metrics", "Authorization", "Bearer s3cret"), http.StatusOK)
}

func TestSecurityHeadersAndErrors(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.newBrowser(t)
	r := b.get("/sign-in", "Accept-Encoding", "gzip")
	wantStatus(t, r, http.StatusOK)
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline or eval: %q", csp)
	}
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
		if r.Header.Get(h) != want {
			t.Errorf("%s = %q, want %q", h, r.Header.Get(h), want)
		}
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	if r.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("pages are not compressed: Content-Encoding %q", r.Header.Get("Content-Encoding"))
	}
	// No inline scripts or styles anywhere in the page.
	plain := b.get("/sign-in")
	if plain.doc.Find("script:not([src])").Length() > 0 || plain.doc.Find("[style]").Length() > 0 || plain.doc.Find("style").Length() > 0 {
		t.Error("the page has inline script or style, which the CSP blocks")
	}
	if plain.doc.Find(`script[src^="http"], link[href^="http"]`).Length() > 0 {
		t.Error("the page loads something from another origin")
	}

	r = b.get("/no-such-page")
	wantStatus(t, r, http.StatusNotFound)
	if testid(r, "error-page").Length() != 1 || !strings.Contains(r.body, "Page not found") {
		t.Errorf("404 page: %s", abbreviate(r.body))
	}
	r = b.get("/no-such-page", "HX-Request", "true")
	wantStatus(t, r, http.StatusNotFound)
	if r.Header.Get("HX-Retarget") != "#flash" || strings.Contains(r.body, "<html") || testid(r, "flash").Length() != 1 {
		t.Errorf("htmx 404: retarget %q, body %s", r.Header.Get("HX-Retarget"), abbreviate(r.body))
	}
	// Oversized bodies are refused before anything reads them.
	tok := b.csrf("/sign-up")
	big := strings.Repeat("x", 2<<20)
	r = b.post("/sign-up", map[string][]string{"_csrf": {tok}, "business_name": {big}})
	wantStatus(t, r, http.StatusRequestEntityTooLarge)
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.newBrowser(t)
	path := static.Path("js/app.js")
	r := b.get(path)
	wantStatus(t, r, http.StatusOK)
	if cc := r.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("Cache-Control = %q", cc)
	}
	if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("Content-Type = %q", ct)
	}
	r = b.get("/static/js/app.js?v=old")
	if cc := r.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Errorf("a stale hash is cached for good: %q", cc)
	}
	wantStatus(t, b.get("/static/js/nope.js"), http.StatusNotFound)
	// The vendored htmx is version 2 with the SSE extension.
	page := b.get("/sign-in")
	srcs := page.doc.Find("script[src]").Map(func(_ int, s *goquery.Selection) string { v, _ := s.Attr("src"); return v })
	joined := strings.Join(srcs, " ")
	for _, want := range []string{"/static/js/htmx-2.", "/static/js/htmx-ext-sse-2."} {
		if !strings.Contains(joined, want) {
			t.Errorf("page scripts %v lack %s", srcs, want)
		}
	}
}
