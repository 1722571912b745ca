package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/myaibud/aibud/app"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/metrics"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
	"github.com/myaibud/aibud/jobs"
)

// TestMain runs the package with files' bytes kept on disk
// (MEDIA_STORAGE=disk), so that every media path here goes through the blob
// store; the program's own tests (crash and scale-out, package main) run
// the default, bytes in their rows.
func TestMain(m *testing.M) { dbtest.Main(m, dbtest.WithDiskMedia()) }

// testApp is the real app behind a real HTTP server, on the package's
// PostgreSQL and Redis.
type testApp struct {
	*httptest.Server
	store     *db.Store
	publisher *live.Publisher
	namespace string
	opts      app.Options
	env       *env
	// echo is the app itself, for its list of routes.
	echo *echo.Echo
}

type appOption func(*app.Options)

func withLimits(l app.RateLimits) appOption { return func(o *app.Options) { o.Limits = l } }

// withProviders places the app's new numbers on gateways of these kinds.
func withProviders(kinds ...string) appOption {
	return func(o *app.Options) { o.WhatsAppProviders = kinds }
}

func withAdmins(emails ...string) appOption {
	return func(o *app.Options) { o.AdminEmails = emails }
}

// unlimited keeps the many sign-ups of a test run under the rate limits,
// which have a test of their own.
func unlimited() app.RateLimits {
	l := redis_rate.Limit{Rate: 100000, Burst: 100000, Period: time.Second}
	return app.RateLimits{SignInPerIP: l, SignInPerAccountIP: l, SignInPerAccount: l, SignUpPerIP: l}
}

func newTestApp(t testing.TB, opts ...appOption) *testApp {
	t.Helper()
	e := sharedEnv(t)
	a := &testApp{store: dbtest.Store(t), publisher: live.NewPublisher(dbtest.Redis(t), e.namespace), namespace: e.namespace, env: e}
	h := newAppHandler(t, e, quietLogger(dbtest.Logger(t)), t.Cleanup, &a.opts, opts...)
	a.echo, _ = h.(*echo.Echo)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	a.Server = srv
	return a
}

// newAppHandler builds the real web app on the package's services. Live
// updates share the package's namespace (the shared worker publishes there;
// tenant ids never repeat within the package database); rate-limit keys get
// a namespace per test.
// cleanup registers the teardown (a test's t.Cleanup; nothing for the
// package-wide webhook receiver).
func newAppHandler(t testing.TB, e *env, log *slog.Logger, cleanup func(func()), got *app.Options, opts ...appOption) http.Handler {
	t.Helper()
	return newAppHandlerOn(t, e, dbtest.RedisURL(t), log, cleanup, got, opts...)
}

// newAppHandlerOn is newAppHandler with the web app's Redis at redisURL
// (e.g. through a proxy a test can cut).
func newAppHandlerOn(t testing.TB, e *env, redisURL string, log *slog.Logger, cleanup func(func()), got *app.Options, opts ...appOption) http.Handler {
	t.Helper()
	store := dbtest.Store(t)
	redisOpt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(redisOpt)
	cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	hub := live.NewHub(rdb, e.namespace, log)
	go hub.Run(ctx)
	cleanup(cancel)
	asynqOpt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	queue := asynq.NewClient(asynqOpt)
	cleanup(func() { _ = queue.Close() })
	outbox := whatsapp.NewOutbox(store, e.gateways, jobs.ScheduleSend(queue), log.With("process", "outbox"),
		whatsapp.OutboxOptions{Grace: 2 * time.Second, Lease: 10 * time.Second})
	o := app.Options{
		BaseURL:          &url.URL{Scheme: "http", Host: "127.0.0.1"},
		DefaultCredits:   400,
		PasswordCost:     4,
		RedisNamespace:   e.namespace + ":" + strings.ReplaceAll(t.Name(), "/", "_"),
		Limits:           unlimited(),
		RequestTimeout:   10 * time.Second,
		SupportEmail:     "help@aibud.test",
		CostMessage:      costMessage,
		CostAIReply:      costAIReply,
		CostAIMediaReply: costAIMediaReply,
		LowBalance:       50,

		StripeWebhookSecret: stripeWebhookSecret,
		DefaultModel:        "gemini-2.5-flash",
		SessionSecret:       []byte("test-session-secret-of-32-characters!"),
	}
	for _, opt := range opts {
		opt(&o)
	}
	if got != nil {
		*got = o
	}
	return app.New(app.Deps{
		Store: store, Queue: queue, Redis: rdb, AsynqOpt: asynqOpt, Hub: hub, Publisher: live.NewPublisher(rdb, e.namespace),
		Sessions: app.NewSessions(store, false, time.Hour), Metrics: metrics.New(), Log: log,
		Gateways: e.gateways, Outbox: outbox, Webhooks: map[string]whatsapp.WebhookParser{
			whatsapp.ProviderWAHA:      whatsapp.NewWAHAWebhooks(webhookSecret),
			whatsapp.ProviderEvolution: whatsapp.NewEvolutionWebhooks(evolutionSecret),
		},
	}, o)
}

// quietLogger keeps test output to warnings and errors: the request log of
// hundreds of requests hides what failed.
func quietLogger(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{l.Handler(), slog.LevelWarn})
}

type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f levelFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFilter{f.Handler.WithAttrs(as), f.min}
}

func (f levelFilter) WithGroup(g string) slog.Handler {
	return levelFilter{f.Handler.WithGroup(g), f.min}
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see them.
type browser struct {
	t    testing.TB
	app  *testApp
	http *http.Client
}

func (a *testApp) newBrowser(t testing.TB) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, app: a, http: &http.Client{
		Jar:           jar,
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	*http.Response
	body string
	doc  *goquery.Document
}

func (b *browser) do(req *http.Request) *response {
	b.t.Helper()
	res, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	doc, _ := goquery.NewDocumentFromReader(bytes.NewReader(raw))
	return &response{Response: res, body: string(raw), doc: doc}
}

func (b *browser) get(path string, headers ...string) *response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.app.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// post submits a form; headers come in name, value pairs.
func (b *browser) post(path string, form url.Values, headers ...string) *response {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.app.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// csrf loads a page and returns the token of its first form.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	r := b.get(path)
	tok, ok := r.doc.Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok || tok == "" {
		b.t.Fatalf("no CSRF token on %s (status %d)", path, r.StatusCode)
	}
	return tok
}

// signUp creates an account through the form and returns its email.
func (b *browser) signUp(business, email, password string) *response {
	b.t.Helper()
	tok := b.csrf("/sign-up")
	return b.post("/sign-up", url.Values{"_csrf": {tok}, "business_name": {business}, "email": {email}, "password": {password}})
}

func (b *browser) signIn(email, password, next string) *response {
	b.t.Helper()
	tok := b.csrf("/sign-in")
	return b.post("/sign-in", url.Values{"_csrf": {tok}, "email": {email}, "password": {password}, "next": {next}})
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.app.URL)
	for _, c := range b.http.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func testid(r *response, id string) *goquery.Selection {
	return r.doc.Find(`[data-testid="` + id + `"]`)
}

func wantStatus(t testing.TB, r *response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, abbreviate(r.body))
	}
}

func wantRedirect(t testing.TB, r *response, want string) {
	t.Helper()
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != want {
		t.Fatalf("%s %s: %d to %q, want 303 to %q", r.Request.Method, r.Request.URL.Path, r.StatusCode, r.Header.Get("Location"), want)
	}
}

func abbreviate(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

var emailSeq atomic.Int64

// uniqueEmail returns an address no other test (or earlier run on the same
// database) uses.
func uniqueEmail(prefix string) string {
	return fmt.Sprintf("%s-%d-%d@example.com", prefix, time.Now().UnixNano(), emailSeq.Add(1))
}
