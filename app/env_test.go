package app_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/mailer"
	"github.com/myaibud/aibud/app/metrics"
	evosim "github.com/myaibud/aibud/app/sim/evolution"
	"github.com/myaibud/aibud/app/sim/gemini"
	mailsim "github.com/myaibud/aibud/app/sim/mail"
	wahasim "github.com/myaibud/aibud/app/sim/waha"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db/dbtest"
	"github.com/myaibud/aibud/jobs"
	"github.com/myaibud/aibud/views"
)

// Test constants shared by the app, the simulator and the signed requests.
const (
	simAPIKey     = "sim-api-key"
	webhookSecret = "test-webhook-secret"
	// evolutionSecret is EVOLUTION_WEBHOOK_SECRET in the tests, and
	// evoAPIKey the Evolution stand-in's global key.
	evolutionSecret = "test-evolution-webhook-secret"
	evoAPIKey       = "evo-api-key"
	geminiKey       = "gemini-test-key"
	costAIReply     = 1
	costMessage     = 1
	// costAIMediaReply is an answer that reads a voice note, photo or PDF.
	costAIMediaReply = 3
	// mediaLimit bounds every file the AI reads in the tests.
	mediaLimit = 256 << 10
)

// env is what every test app of the package shares: a WAHA simulator (the
// default WAHA node), an Evolution API simulator (the default Evolution
// node, used by apps whose numbers go there), a Gemini stand-in, the gateway clients, and one
// worker process. Webhooks of every session go to one receiving app: any app
// instance stores and queues them the same way, as in production where any
// web process may receive them.
type env struct {
	sim       *wahasim.Server
	simURL    string
	evo       *evosim.Server
	evoURL    string
	gemini    *gemini.Server
	gateways  *whatsapp.Gateways
	outbox    *whatsapp.Outbox
	worker    *jobs.Worker
	ai        *ai.Client
	queue     *asynq.Client
	inspector *asynq.Inspector
	// webhookURL is where sessions post their events.
	webhookURL string
	namespace  string
	metrics    *metrics.Metrics
	// mailbox receives the worker's email over SMTP; mailboxURL serves its
	// JSON API.
	mailbox    *mailsim.Server
	mailboxURL string
}

// resetLinkBase is the APP_BASE_URL of the shared worker's reset links.
const resetLinkBase = "http://aibud.test"

var (
	envOnce sync.Once
	shared  *env
	envErr  error
)

// sharedEnv starts the package's environment on first use. It lives until
// the test binary exits.
func sharedEnv(t testing.TB) *env {
	t.Helper()
	store := dbtest.Store(t) // skips without services
	envOnce.Do(func() {
		ctx := context.Background()
		e := &env{namespace: dbtest.Namespace(t), metrics: metrics.New()}
		timing := wahasim.FastTiming()
		e.sim = wahasim.New(wahasim.Options{APIKey: simAPIKey, Timing: timing})
		simSrv := httptest.NewServer(e.sim.Handler())
		e.simURL = simSrv.URL
		if _, envErr = store.EnsureDefaultNode(ctx, "waha", e.simURL, 1_000_000); envErr != nil {
			return
		}
		e.evo = evosim.New(evosim.Options{APIKey: evoAPIKey, Timing: evosim.FastTiming()})
		evoSrv := httptest.NewServer(e.evo.Handler())
		e.evoURL = evoSrv.URL
		if _, envErr = store.EnsureDefaultNode(ctx, "evolution", e.evoURL, 1_000_000); envErr != nil {
			return
		}
		e.gemini = gemini.New(gemini.Options{APIKey: geminiKey})
		geminiSrv := httptest.NewServer(e.gemini.Handler())
		if e.ai, envErr = ai.New(ctx, ai.Config{APIKey: geminiKey, BaseURL: geminiSrv.URL, DefaultModel: "gemini-2.5-flash"}); envErr != nil {
			return
		}
		asynqOpt, err := asynq.ParseRedisURI(dbtest.RedisURL(t))
		if err != nil {
			envErr = err
			return
		}
		e.queue = asynq.NewClient(asynqOpt)
		e.inspector = asynq.NewInspector(asynqOpt)

		// The receiving app needs the gateways, which need its URL: start
		// the server first, then fill in its handler.
		receiver := httptest.NewUnstartedServer(nil)
		receiver.Start()
		e.webhookURL = receiver.URL + "/api/webhooks/whatsapp"
		e.gateways = whatsapp.NewGateways(map[string]string{whatsapp.ProviderWAHA: simAPIKey, whatsapp.ProviderEvolution: evoAPIKey}, func(kind, url, key string) whatsapp.Provider {
			if kind == whatsapp.ProviderEvolution {
				return whatsapp.NewEvolution(whatsapp.EvolutionConfig{
					BaseURL: url, APIKey: key, WebhookURL: receiver.URL + "/api/webhooks/evolution", WebhookSecret: evolutionSecret,
					Attempts: 2, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
					HTTPClient: &http.Client{Timeout: 3 * time.Second}, CheckPause: time.Millisecond,
				})
			}
			return whatsapp.NewWAHA(whatsapp.WAHAConfig{
				BaseURL: url, APIKey: key, WebhookURL: e.webhookURL, WebhookSecret: webhookSecret,
				Attempts: 2, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
				// Short, so a slow answer turns into an unclear failure quickly.
				HTTPClient: &http.Client{Timeout: 3 * time.Second},
			})
		})
		// Shared parts outlive the test that started them, so they log to
		// stderr rather than to that test.
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		e.outbox = whatsapp.NewOutbox(store, e.gateways, jobs.ScheduleSend(e.queue), log.With("process", "outbox"),
			whatsapp.OutboxOptions{Grace: 2 * time.Second, Lease: 10 * time.Second, Backoff: 200 * time.Millisecond, MaxBackoff: 2 * time.Second})
		shared = e
		receiver.Config.Handler = newAppHandler(t, e, log.With("process", "webhooks"), func(func()) {}, nil)

		var mail *mailer.SMTP
		if mail, envErr = startMailbox(e); envErr != nil {
			return
		}
		log = log.With("process", "worker")
		w := jobs.NewWorker(jobs.Deps{
			Store: store, Queue: e.queue, Publisher: live.NewPublisher(redis.NewClient(dbtest.RedisOptions(t)), e.namespace),
			Gateways: e.gateways, Outbox: e.outbox, AI: e.ai, Mail: mail, Metrics: e.metrics, Log: log,
		}, jobs.Options{
			ResetLink:        func(token string) string { return resetLinkBase + views.PasswordResetPath(token) },
			ParseEvent:       whatsapp.ParseStoredEvent,
			QRPollEvery:      200 * time.Millisecond,
			CostAIReply:      costAIReply,
			CostAIMediaReply: costAIMediaReply,
			Media:            jobs.MediaLimits{Audio: mediaLimit, Image: mediaLimit, Document: mediaLimit, Retention: time.Hour},
			CostMessage:      costMessage,
			AITimeout:        5 * time.Second,
			EventLease:       5 * time.Second,
			InboxGrace:       3 * time.Second,
			LowBalance:       50,
			BillingLink:      resetLinkBase + views.PathBilling,
		})
		e.worker = w
		go w.RunSweeper(context.Background(), time.Second)
		mux := asynq.NewServeMux()
		jobs.Register(mux, w)
		// The production retry backoff: the tests show what it costs.
		srv := jobs.NewServer(asynqOpt, jobs.ServerOptions{Concurrency: 40}, log)
		envErr = srv.Start(mux)
	})
	if envErr != nil {
		t.Fatalf("test environment: %v", envErr)
	}
	return shared
}

// startMailbox starts the mailbox stand-in on loopback and returns the real
// SMTP sender that delivers to it.
func startMailbox(e *env) (*mailer.SMTP, error) {
	e.mailbox = mailsim.New(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = e.mailbox.ServeSMTP(ln) }()
	e.mailboxURL = httptest.NewServer(e.mailbox.Handler()).URL
	return mailer.NewSMTP(mailer.Config{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLS: mailer.TLSOff,
		From: "My Aibud <no-reply@aibud.test>", Timeout: 5 * time.Second})
}
