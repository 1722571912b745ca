// Package app is the HTTP side of aibud: routes, handlers, middleware, the
// central error handler, rendering and the live-updates endpoint.
package app

import (
	"log/slog"
	"net/url"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"

	"github.com/myaibud/aibud/app/billing"
	"github.com/myaibud/aibud/app/economics"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/locale"
	"github.com/myaibud/aibud/app/metrics"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// Options are the settings the web app needs, taken from config by main.
type Options struct {
	BaseURL *url.URL
	// Secure marks cookies Secure (and __Host-) when served over https.
	Secure bool
	// TrustProxy takes the client IP from X-Forwarded-For set by a proxy on
	// a private network; otherwise the connection's address is used.
	TrustProxy  bool
	AdminEmails []string
	// SupportEmail is where tenants ask for help or a bigger plan.
	SupportEmail   string
	DefaultCredits int64
	PasswordCost   int
	MetricsToken   string
	// RedisNamespace prefixes rate-limit keys.
	RedisNamespace string
	Limits         RateLimits
	// RequestTimeout bounds every request but the live stream.
	RequestTimeout time.Duration
	// BodyLimit bounds request bodies, e.g. "1M".
	BodyLimit string
	// CostMessage is the credits an outgoing message costs.
	CostMessage int64
	// AIPrices are Gemini's prices, for the console's cost estimates.
	AIPrices economics.Prices
	// DefaultModel is the Gemini model used when a tenant sets none.
	DefaultModel string
	// CostAIReply is the credits an AI answer costs (shown on /billing).
	CostAIReply int64
	// CostAIMediaReply is what an answer costs instead when the AI reads a
	// voice note, photo or document.
	CostAIMediaReply int64
	// Stripe configures the Stripe client (STRIPE_SECRET_KEY,
	// STRIPE_API_BASE); without a key billing is off.
	Stripe billing.Config
	// StripeWebhookSecret (STRIPE_WEBHOOK_SECRET) verifies Stripe's
	// webhooks; empty refuses them.
	StripeWebhookSecret string
	// LowBalance is the balance below which every page warns (0: off).
	LowBalance int64
	// BillingGrace is how long a failed renewal keeps the paid plan.
	BillingGrace time.Duration
	// SessionSecret (SESSION_SECRET) keys the CSRF tokens: a token is an
	// HMAC of the sign-in session it belongs to.
	SessionSecret []byte
	// WhatsAppProviders are the kinds of gateway new numbers are placed on
	// (WHATSAPP_PROVIDER); empty means WAHA.
	WhatsAppProviders []string
}

// RateLimits bounds abuse of the sign-in and sign-up forms.
type RateLimits struct {
	// SignInPerIP counts every sign-in attempt from an address.
	SignInPerIP redis_rate.Limit
	// SignInPerAccountIP counts attempts at one account from one address:
	// tight, and spent before the password is checked, so however many
	// arrive at once at most this many are checked. A success clears it.
	SignInPerAccountIP redis_rate.Limit
	// SignInPerAccount counts attempts at one account from anywhere:
	// looser, against guessing from many addresses; also spent before the
	// check and cleared by a success. Locking an owner out with it takes
	// many addresses, not one.
	SignInPerAccount redis_rate.Limit
	SignUpPerIP      redis_rate.Limit
	// ResetPerIP and ResetPerEmail bound password reset emails: from one
	// address, and to one address (whether or not it has an account).
	ResetPerIP    redis_rate.Limit
	ResetPerEmail redis_rate.Limit
}

// DefaultRateLimits are the production limits.
func DefaultRateLimits() RateLimits {
	return RateLimits{
		SignInPerIP:        redis_rate.Limit{Rate: 20, Burst: 20, Period: time.Minute},
		SignInPerAccountIP: redis_rate.Limit{Rate: 5, Burst: 5, Period: 15 * time.Minute},
		SignInPerAccount:   redis_rate.Limit{Rate: 30, Burst: 30, Period: time.Hour},
		SignUpPerIP:        redis_rate.Limit{Rate: 10, Burst: 10, Period: time.Hour},
		ResetPerIP:         redis_rate.Limit{Rate: 10, Burst: 10, Period: time.Hour},
		ResetPerEmail:      redis_rate.Limit{Rate: 3, Burst: 3, Period: time.Hour},
	}
}

// Deps are the services the web app uses.
type Deps struct {
	Store     *db.Store
	Queue     *asynq.Client
	Redis     redis.UniversalClient
	AsynqOpt  asynq.RedisConnOpt
	Hub       *live.Hub
	Publisher *live.Publisher
	Sessions  *scs.SessionManager
	Metrics   *metrics.Metrics
	Log       *slog.Logger
	Gateways  *whatsapp.Gateways
	// Outbox is the one way messages leave (manual replies here).
	Outbox *whatsapp.Outbox
	// Webhooks authenticate and parse the WhatsApp gateways' webhooks, by
	// provider kind (whatsapp.ProviderWAHA, whatsapp.ProviderEvolution); a
	// provider without one refuses every webhook.
	Webhooks map[string]whatsapp.WebhookParser
}

// handler holds what every HTTP handler may use.
type handler struct {
	store     *db.Store
	queue     *asynq.Client
	redis     redis.UniversalClient
	hub       *live.Hub
	publisher *live.Publisher
	sessions  *scs.SessionManager
	gateways  *whatsapp.Gateways
	outbox    *whatsapp.Outbox
	webhooks  map[string]whatsapp.WebhookParser
	billing   *billing.Client
	limiter   *redis_rate.Limiter
	locale    *locale.Lists
	metrics   *metrics.Metrics
	log       *slog.Logger
	opts      Options
	// dummyHash is compared against when an email is unknown, so sign-in
	// takes as long whether or not the account exists.
	dummyHash []byte
}

// New returns the configured web server.
func New(d Deps, o Options) *echo.Echo {
	if len(o.SessionSecret) < 32 {
		panic("app: Options.SessionSecret must be at least 32 bytes (SESSION_SECRET)")
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.BillingGrace <= 0 {
		o.BillingGrace = 7 * 24 * time.Hour
	}
	if o.BodyLimit == "" {
		o.BodyLimit = "1M"
	}
	h := &handler{
		store:     d.Store,
		queue:     d.Queue,
		redis:     d.Redis,
		hub:       d.Hub,
		publisher: d.Publisher,
		sessions:  d.Sessions,
		gateways:  d.Gateways,
		outbox:    d.Outbox,
		webhooks:  d.Webhooks,
		billing:   billing.NewClient(o.Stripe),
		limiter:   redis_rate.NewLimiter(d.Redis),
		locale:    locale.Load(),
		metrics:   d.Metrics,
		log:       d.Log,
		opts:      o,
		dummyHash: mustHash("not-a-real-password", o.PasswordCost),
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = h.handleError
	if o.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	h.routes(e, d)
	return e
}
