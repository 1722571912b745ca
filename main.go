// Command aibud is the whole My Aibud product in one binary:
//
//	aibud [all]      web server and workers in one process (default)
//	aibud serve      web server: pages, admin, webhooks, live updates
//	aibud worker     background workers and the periodic scheduler
//	aibud migrate    apply database migrations and exit
//	aibud health URL exit 0 if URL answers 200 (container health checks)
//	aibud sim gemini stand-in for the Gemini API (development and tests)
//	aibud sim waha   stand-in for a WAHA server with a "phone" page
//	aibud sim evolution  stand-in for an Evolution API server, the same page
//	aibud sim mail   stand-in mailbox: SMTP in, a web page to read
//
// Configuration comes from the environment; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // tenants' time zones load without the system's zoneinfo

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"
	"golang.org/x/sync/errgroup"

	"github.com/myaibud/aibud/app"
	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/billing"
	"github.com/myaibud/aibud/app/economics"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/mailer"
	"github.com/myaibud/aibud/app/metrics"
	"github.com/myaibud/aibud/app/sim/gemini"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/config"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/jobs"
	"github.com/myaibud/aibud/views"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "aibud:", err)
		os.Exit(1)
	}
}

const usage = `usage: aibud [command]

commands:
  all       web server and workers in one process (default)
  serve     web server
  worker    background workers and scheduler
  migrate   apply database migrations and exit
  health URL
            exit 0 if URL answers 200: a health check for images without curl
  sim gemini [-addr 127.0.0.1:8091] [-key KEY]
            stand-in for the Gemini API (development and tests)
  sim waha [-addr 127.0.0.1:3000] [-key KEY]
            stand-in for a WAHA server, with a "phone" page at /phone
  sim evolution [-addr 127.0.0.1:8089] [-key KEY]
            stand-in for an Evolution API server, with the same "phone" page
  sim mail [-smtp 127.0.0.1:1025] [-http 127.0.0.1:8025]
            stand-in mailbox: accepts SMTP, shows the messages on a web page
`

// run is the whole program; main only wires in the process's environment.
// It returns when ctx is cancelled (SIGINT/SIGTERM) and everything has
// stopped gracefully, or on the first fatal error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd := "all"
	if len(args) > 1 {
		cmd = args[1]
	}
	switch cmd {
	case "all", "serve", "worker", "migrate":
	case "sim":
		return runSim(ctx, args[2:], stdout)
	case "health":
		return checkHealth(ctx, args[2:])
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stdout)
	if len(cfg.Retired) > 0 {
		log.Warn("these variables are no longer read: plans and their number limits are edited in the database now (table plans)", "names", cfg.Retired)
	}

	bdb, err := db.Open(ctx, cfg.DB.URL.Reveal(), log)
	if err != nil {
		return err
	}
	defer bdb.Close()
	if cmd != "worker" {
		if err := db.Migrate(ctx, bdb, log); err != nil {
			return err
		}
	}
	if cmd == "migrate" {
		return nil
	}

	redisOpt, err := redis.ParseURL(cfg.Redis.URL.Reveal())
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(redisOpt)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("connect to redis: %w", err)
	}
	asynqOpt, err := asynq.ParseRedisURI(cfg.Redis.URL.Reveal())
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}

	store, err := newStore(bdb, cfg.Media)
	if err != nil {
		return err
	}
	if err := ensureDefaultNodes(ctx, store, cfg.WhatsApp); err != nil {
		return err
	}
	gateways := newGateways(cfg)
	var aiClient *ai.Client
	if cfg.AI.APIKey != "" {
		aiClient, err = ai.New(ctx, ai.Config{APIKey: cfg.AI.APIKey.Reveal(), BaseURL: cfg.AI.BaseURL, DefaultModel: cfg.AI.Model,
			InputTokenBudget: cfg.AI.InputTokenBudget})
		if err != nil {
			return err
		}
	} else {
		log.Warn("no Gemini API key: AI replies are off (set GOOGLE_GENERATIVE_AI_API_KEY)")
	}

	mail, err := newMailer(cfg.Mail, log)
	if err != nil {
		return err
	}

	queue := asynq.NewClient(asynqOpt)
	defer queue.Close()
	// An attempt makes up to three gateway requests (reserve an id, ask
	// whether an earlier attempt went out, send): it holds its message for
	// two request timeouts and a margin.
	outbox := whatsapp.NewOutbox(store, gateways, jobs.ScheduleSend(queue), log,
		whatsapp.OutboxOptions{Lease: 2*cfg.WhatsApp.Timeout + 5*time.Second})
	p := &process{
		cfg:       cfg,
		log:       log,
		bdb:       bdb,
		store:     store,
		rdb:       rdb,
		asynqOpt:  asynqOpt,
		queue:     queue,
		metrics:   metrics.New(),
		publisher: live.NewPublisher(rdb, cfg.Redis.Namespace),
		gateways:  gateways,
		outbox:    outbox,
		ai:        aiClient,
		mail:      mail,
	}
	g, gctx := errgroup.WithContext(ctx)
	if cmd == "all" || cmd == "serve" {
		g.Go(func() error { return p.serve(gctx) })
	}
	if cmd == "all" || cmd == "worker" {
		g.Go(func() error { return p.work(gctx) })
	}
	if cmd == "worker" && cfg.Jobs.HealthAddr != "" {
		g.Go(func() error { return p.serveProbes(gctx, cfg.Jobs.HealthAddr) })
	}
	log.Info("aibud started", "command", cmd)
	err = g.Wait()
	log.Info("aibud stopped", "command", cmd)
	return err
}

// process holds what the components of one process share.
type process struct {
	cfg       config.Config
	log       *slog.Logger
	bdb       *bun.DB
	store     *db.Store
	rdb       *redis.Client
	asynqOpt  asynq.RedisConnOpt
	queue     *asynq.Client
	metrics   *metrics.Metrics
	publisher *live.Publisher
	gateways  *whatsapp.Gateways
	outbox    *whatsapp.Outbox
	ai        *ai.Client
	mail      mailer.Sender
}

// serve runs the web server until ctx ends, then drains it: live streams are
// closed first (browsers reconnect elsewhere), then in-flight requests finish.
func (p *process) serve(ctx context.Context) error {
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHub()
	hub := live.NewHub(p.rdb, p.cfg.Redis.Namespace, p.log)
	go hub.Run(hubCtx)
	sessions := app.NewSessions(p.store, p.cfg.HTTP.Secure(), p.cfg.Session.Lifetime)
	if n, err := app.AttributeSessions(ctx, p.store, sessions); err != nil {
		p.log.Warn("record the users of older sessions", "err", err)
	} else if n > 0 {
		p.log.Info("recorded the users of older sessions", "sessions", n)
	}

	e := app.New(app.Deps{
		Store: p.store, Queue: p.queue, Redis: p.rdb, AsynqOpt: p.asynqOpt, Hub: hub,
		Publisher: p.publisher, Sessions: sessions, Metrics: p.metrics, Log: p.log,
		Gateways: p.gateways, Outbox: p.outbox, Webhooks: webhookParsers(p.cfg.WhatsApp),
	}, app.Options{
		BaseURL:          p.cfg.HTTP.BaseURL,
		Secure:           p.cfg.HTTP.Secure(),
		TrustProxy:       p.cfg.HTTP.TrustProxy,
		AdminEmails:      p.cfg.Admin.Emails,
		SupportEmail:     p.cfg.Admin.SupportEmail,
		DefaultCredits:   p.cfg.Credits.Default,
		PasswordCost:     p.cfg.Session.PasswordCost,
		MetricsToken:     p.cfg.HTTP.MetricsToken.Reveal(),
		RedisNamespace:   p.cfg.Redis.Namespace,
		Limits:           app.DefaultRateLimits(),
		CostMessage:      p.cfg.Credits.Message,
		CostAIReply:      p.cfg.Credits.AIReply,
		CostAIMediaReply: p.cfg.Credits.AIMediaReply,
		DefaultModel:     p.cfg.AI.Model,
		AIPrices: economics.Prices{InputPerMTok: p.cfg.AI.PriceInputPerMTok,
			AudioInputPerMTok: p.cfg.AI.PriceAudioInputPerMTok, OutputPerMTok: p.cfg.AI.PriceOutputPerMTok},
		SessionSecret:     []byte(p.cfg.Session.Secret.Reveal()),
		WhatsAppProviders: p.cfg.WhatsApp.Providers,
		LowBalance:        p.cfg.Billing.LowBalance,
		BillingGrace:      p.cfg.Billing.GracePeriod,
		Stripe:            billing.Config{SecretKey: p.cfg.Billing.SecretKey.Reveal(), APIBase: p.cfg.Billing.APIBase},

		StripeWebhookSecret: p.cfg.Billing.WebhookSecret.Reveal(),
	})
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
	return p.listenAndServe(ctx, fmt.Sprintf(":%d", p.cfg.HTTP.Port), srv, func() { stopHub() })
}

// serveProbes gives a worker-only process /healthz and /metrics on addr
// (WORKER_HEALTH_ADDR), apart from PORT so that workers share a host.
func (p *process) serveProbes(ctx context.Context, addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.Handle("GET /metrics", p.metrics.Handler())
	return p.listenAndServe(ctx, addr, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, nil)
}

func (p *process) listenAndServe(ctx context.Context, addr string, srv *http.Server, beforeShutdown func()) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	p.log.Info("listening", "addr", ln.Addr().String(), "url", p.cfg.HTTP.BaseURL.String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	p.log.Info("shutting down the web server")
	if beforeShutdown != nil {
		beforeShutdown()
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 25*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// work runs the asynq workers and the scheduler until ctx ends, then lets
// in-flight jobs finish (up to the server's shutdown timeout).
func (p *process) work(ctx context.Context) error {
	gatewayTimeout := p.cfg.WhatsApp.Timeout
	w := jobs.NewWorker(jobs.Deps{
		Store: p.store, Queue: p.queue, Publisher: p.publisher, Gateways: p.gateways, Outbox: p.outbox,
		AI: p.ai, Mail: p.mail, Metrics: p.metrics, Log: p.log,
	}, jobs.Options{
		ResetLink: func(token string) string {
			return p.cfg.HTTP.BaseURL.String() + views.PasswordResetPath(token)
		},
		ParseEvent:       whatsapp.ParseStoredEvent,
		CostAIReply:      p.cfg.Credits.AIReply,
		CostAIMediaReply: p.cfg.Credits.AIMediaReply,
		Media: jobs.MediaLimits{Audio: p.cfg.Media.Audio, Image: p.cfg.Media.Image, Document: p.cfg.Media.Document,
			Retention: p.cfg.Media.Retention},
		CostMessage: p.cfg.Credits.Message,
		AITimeout:   p.cfg.AI.Timeout,
		// A run of an AI answer makes a model call and a few gateway
		// requests; an event may look a linked id up on the gateway.
		AILease:      p.cfg.AI.Timeout + 2*gatewayTimeout + 5*time.Second,
		EventLease:   2*gatewayTimeout + 5*time.Second,
		BillingGrace: p.cfg.Billing.GracePeriod,
		LowBalance:   p.cfg.Billing.LowBalance,
		BillingLink:  p.cfg.HTTP.BaseURL.String() + views.PathBilling,
	})
	mux := asynq.NewServeMux()
	jobs.Register(mux, w)
	srv := jobs.NewServer(p.asynqOpt, jobs.ServerOptions{Concurrency: p.cfg.Jobs.Concurrency}, p.log)
	if err := srv.Start(mux); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	sched, err := jobs.NewScheduler(p.queue, jobs.Periodics(p.cfg.Jobs.ScheduleMinute), p.log)
	if err != nil {
		srv.Shutdown()
		return err
	}
	loopCtx, stopLoops := context.WithCancel(context.WithoutCancel(ctx))
	var loops sync.WaitGroup
	loops.Go(func() { sched.Run(loopCtx) })
	loops.Go(func() { w.RunSweeper(loopCtx, sweepEvery) })
	<-ctx.Done()
	stopLoops()
	loops.Wait()
	p.log.Info("shutting down the workers")
	srv.Shutdown()
	return nil
}

// sweepEvery is how often a worker looks for unfinished work to re-drive.
const sweepEvery = 2 * time.Second

// checkHealth asks a probe endpoint (/healthz of a web or worker process)
// whether the process is up.
func checkHealth(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("health needs one URL, such as http://127.0.0.1:9090/healthz\n%s", usage)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %s", args[0], res.Status)
	}
	return nil
}

// runSim runs one of the development stand-ins until ctx ends.
func runSim(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("sim needs a name: gemini, waha, evolution or mail\n%s", usage)
	}
	fs := flag.NewFlagSet("sim "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch args[0] {
	case "gemini":
		addr := fs.String("addr", "127.0.0.1:8091", "listen address")
		key := fs.String("key", "", "API key to require (empty: any)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return gemini.Run(ctx, *addr, gemini.Options{APIKey: *key}, log)
	case "waha":
		return runWAHASim(ctx, fs, args[1:], log)
	case "evolution":
		return runEvolutionSim(ctx, fs, args[1:], log)
	case "mail":
		return runMailSim(ctx, fs, args[1:], log)
	}
	return fmt.Errorf("unknown simulator %q: use gemini, waha, evolution or mail", args[0])
}

// newMailer returns the SMTP sender, or nil (and a warning) when SMTP_URL
// is not set: password reset emails are then not sent.
func newMailer(c config.Mail, log *slog.Logger) (mailer.Sender, error) {
	if !c.Enabled() {
		log.Warn("no SMTP_URL: password reset emails are not sent")
		return nil, nil
	}
	m, err := mailer.NewSMTP(mailer.Config{Host: c.Host, Port: c.Port, Username: c.Username, Password: c.Password.Reveal(), TLS: c.TLS, From: c.From})
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	return m, nil
}

// ensureDefaultNodes records the gateway nodes the environment configures
// (WAHA_API_URL, EVOLUTION_API_URL).
func ensureDefaultNodes(ctx context.Context, store *db.Store, c config.WhatsApp) error {
	for provider, url := range map[string]string{whatsapp.ProviderWAHA: c.WAHAURL, whatsapp.ProviderEvolution: c.EvolutionURL} {
		if url == "" {
			continue
		}
		if _, err := store.EnsureDefaultNode(ctx, provider, url, c.NodeCapacity); err != nil {
			return err
		}
	}
	return nil
}

// newGateways returns the pool of gateway clients: each node's client by
// its provider kind, posting webhooks to the provider's route.
func newGateways(cfg config.Config) *whatsapp.Gateways {
	c := cfg.WhatsApp
	client := &http.Client{Timeout: c.Timeout}
	wahaHook := cfg.HTTP.BaseURL.JoinPath("api", "webhooks", "whatsapp").String()
	evolutionHook := cfg.HTTP.BaseURL.JoinPath("api", "webhooks", "evolution").String()
	keys := map[string]string{whatsapp.ProviderWAHA: c.WAHAKey.Reveal(), whatsapp.ProviderEvolution: c.EvolutionKey.Reveal()}
	return whatsapp.NewGateways(keys, func(kind, url, key string) whatsapp.Provider {
		if kind == whatsapp.ProviderEvolution {
			return whatsapp.NewEvolution(whatsapp.EvolutionConfig{BaseURL: url, APIKey: key, WebhookURL: evolutionHook,
				WebhookSecret: c.EvolutionWebhookSecret.Reveal(), HTTPClient: client})
		}
		return whatsapp.NewWAHA(whatsapp.WAHAConfig{BaseURL: url, APIKey: key, WebhookURL: wahaHook,
			WebhookSecret: c.WebhookSecret.Reveal(), HTTPClient: client})
	})
}

// webhookParsers authenticate and parse each provider's webhooks.
func webhookParsers(c config.WhatsApp) map[string]whatsapp.WebhookParser {
	return map[string]whatsapp.WebhookParser{
		whatsapp.ProviderWAHA:      whatsapp.NewWAHAWebhooks(c.WebhookSecret.Reveal()),
		whatsapp.ProviderEvolution: whatsapp.NewEvolutionWebhooks(c.EvolutionWebhookSecret.Reveal()),
	}
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.Level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// newStore is the database store, keeping files' bytes where MEDIA_STORAGE
// says.
func newStore(bdb *bun.DB, m config.Media) (*db.Store, error) {
	if m.Storage != "disk" {
		return db.NewStore(bdb), nil
	}
	blobs, err := db.NewDiskBlobs(m.Dir)
	if err != nil {
		return nil, fmt.Errorf("MEDIA_DIR: %w", err)
	}
	return db.NewStore(bdb, db.WithBlobs(blobs)), nil
}
