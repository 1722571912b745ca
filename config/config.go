// Package config reads the typed configuration of aibud from the environment.
//
// Load applies defaults, parses and validates every variable and returns all
// problems at once, joined in one line, so a misconfigured deployment is fixed
// in one round. Secrets are held in the Secret type, which never prints its
// value.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Secret is a configuration value that must never appear in logs or output.
type Secret string

// String redacts the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// LogValue redacts the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// GoString redacts the secret for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Reveal returns the secret's value for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// Config is the whole configuration of the aibud binary.
type Config struct {
	HTTP     HTTP
	DB       DB
	Redis    Redis
	Jobs     Jobs
	Session  Session
	WhatsApp WhatsApp
	AI       AI
	Stripe   Stripe
	Credits  Credits
	Plans    Plans
	Admin    Admin
	Log      Log
}

// HTTP configures the web server.
type HTTP struct {
	Port    int
	BaseURL *url.URL
	// MetricsToken, when set, is required as a bearer token on /metrics.
	MetricsToken Secret
	// TrustProxy takes client IPs from X-Forwarded-For set by a proxy on a
	// private network (for rate limits and logs).
	TrustProxy bool
}

// Secure reports whether the app is served over https, which decides the
// Secure flag and the __Host- prefix of cookies.
func (h HTTP) Secure() bool { return h.BaseURL != nil && h.BaseURL.Scheme == "https" }

// DB configures PostgreSQL.
type DB struct {
	URL Secret
}

// Redis configures Redis (asynq and live updates).
type Redis struct {
	URL Secret
	// Namespace prefixes pub/sub channels and rate-limit keys.
	Namespace string
}

// Jobs configures the background workers.
type Jobs struct {
	Concurrency int
}

// Session configures sign-in sessions and password hashing.
type Session struct {
	Secret   Secret
	Lifetime time.Duration
	// PasswordCost is the bcrypt cost; tests lower it.
	PasswordCost int
}

// WhatsApp configures the WhatsApp provider.
type WhatsApp struct {
	Provider      string
	WAHAURL       string
	WAHAKey       Secret
	WebhookSecret Secret
	EvolutionURL  string
	EvolutionKey  Secret
	// NodeCapacity is how many sessions the default node (WAHA_API_URL) holds.
	NodeCapacity int
	// Timeout bounds one request to a gateway (WHATSAPP_TIMEOUT).
	Timeout time.Duration
}

// AI configures Gemini.
type AI struct {
	APIKey  Secret
	BaseURL string
	Model   string
	// Timeout bounds one model call (GEMINI_TIMEOUT).
	Timeout time.Duration
	// InputTokenBudget bounds the estimated input tokens of one model call
	// (GEMINI_INPUT_TOKEN_BUDGET): the prompt is fitted into it.
	InputTokenBudget int
}

// Stripe configures billing.
type Stripe struct {
	SecretKey     Secret
	WebhookSecret Secret
	APIBase       string
}

// Credits holds the credit grant for new tenants and the cost of each action.
type Credits struct {
	Default int64
	// AIReply is charged for generating an AI answer.
	AIReply int64
	// Message is charged for every outgoing WhatsApp message.
	Message int64
}

// Plans holds the per-plan limits.
type Plans struct {
	// InstanceLimits maps a plan name to the number of WhatsApp numbers it allows.
	InstanceLimits map[string]int
}

// Admin lists the platform owners.
type Admin struct {
	Emails []string
}

// IsOwner reports whether email belongs to a platform owner.
func (a Admin) IsOwner(email string) bool {
	for _, e := range a.Emails {
		if strings.EqualFold(e, email) {
			return true
		}
	}
	return false
}

// Log configures the slog logger.
type Log struct {
	Level  slog.Level
	Format string // json or text
}

// Load reads the configuration through getenv. Every problem found is
// reported in the returned error, which is one line.
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	var c Config

	c.HTTP.Port = p.intRange("PORT", 8080, 1, 65535)
	c.HTTP.BaseURL = p.baseURL("APP_BASE_URL")
	c.HTTP.MetricsToken = Secret(getenv("METRICS_TOKEN"))
	c.HTTP.TrustProxy = p.boolean("TRUST_PROXY")

	c.DB.URL = p.requiredURL("DATABASE_URL", "postgres", "postgresql")
	c.Redis.URL = p.requiredURL("REDIS_URL", "redis", "rediss")
	c.Redis.Namespace = p.str("REDIS_NAMESPACE", "aibud")
	c.Jobs.Concurrency = p.intRange("WORKER_CONCURRENCY", 20, 1, 1000)

	c.Session.Secret = Secret(p.required("SESSION_SECRET"))
	if s := c.Session.Secret.Reveal(); s != "" && len(s) < 32 {
		p.fail("SESSION_SECRET must be at least 32 characters")
	}
	c.Session.Lifetime = p.duration("SESSION_LIFETIME", 30*24*time.Hour)
	c.Session.PasswordCost = p.intRange("PASSWORD_HASH_COST", 12, 4, 16)

	c.WhatsApp.Provider = p.oneOf("WHATSAPP_PROVIDER", "waha", "waha", "evolution")
	c.WhatsApp.WAHAURL = p.optionalURL("WAHA_API_URL")
	c.WhatsApp.WAHAKey = Secret(getenv("WAHA_API_KEY"))
	c.WhatsApp.WebhookSecret = Secret(getenv("WAHA_WEBHOOK_SECRET"))
	if c.WhatsApp.WAHAURL != "" && c.WhatsApp.WebhookSecret == "" {
		p.fail("WAHA_WEBHOOK_SECRET is required when WAHA_API_URL is set")
	}
	c.WhatsApp.NodeCapacity = p.intRange("WAHA_NODE_CAPACITY", 20, 0, 100000)
	c.WhatsApp.Timeout = p.duration("WHATSAPP_TIMEOUT", 30*time.Second)
	c.WhatsApp.EvolutionURL = p.optionalURL("EVOLUTION_API_URL")
	c.WhatsApp.EvolutionKey = Secret(getenv("EVOLUTION_API_KEY"))
	if c.WhatsApp.Provider == "evolution" && c.WhatsApp.EvolutionURL == "" {
		p.fail("EVOLUTION_API_URL is required when WHATSAPP_PROVIDER=evolution")
	}

	c.AI.APIKey = Secret(getenv("GOOGLE_GENERATIVE_AI_API_KEY"))
	if c.AI.APIKey == "" {
		c.AI.APIKey = Secret(getenv("GEMINI_API_KEY"))
	}
	c.AI.BaseURL = p.optionalURL("GEMINI_BASE_URL")
	c.AI.Model = p.str("GEMINI_MODEL", "gemini-2.5-flash")
	c.AI.Timeout = p.duration("GEMINI_TIMEOUT", time.Minute)
	c.AI.InputTokenBudget = p.intRange("GEMINI_INPUT_TOKEN_BUDGET", 50_000, 16_000, 1_000_000)

	c.Stripe.SecretKey = Secret(getenv("STRIPE_SECRET_KEY"))
	c.Stripe.WebhookSecret = Secret(getenv("STRIPE_WEBHOOK_SECRET"))
	c.Stripe.APIBase = p.optionalURL("STRIPE_API_BASE")

	c.Credits.Default = int64(p.intRange("DEFAULT_CREDITS", 400, 0, 1_000_000_000))
	c.Credits.AIReply = int64(p.intRange("CREDIT_COST_AI_REPLY", 1, 0, 1_000_000))
	c.Credits.Message = int64(p.intRange("CREDIT_COST_MESSAGE", 1, 0, 1_000_000))

	c.Plans.InstanceLimits = p.planLimits("PLAN_INSTANCE_LIMITS", map[string]int{"starter": 1, "pro": 3, "business": 10})

	c.Admin.Emails = p.emails("ADMIN_EMAILS")

	c.Log.Level = p.logLevel("LOG_LEVEL")
	c.Log.Format = p.oneOf("LOG_FORMAT", "json", "json", "text")

	return c, p.err()
}

// parser collects problems while reading variables.
type parser struct {
	getenv   func(string) string
	problems []string
}

func (p *parser) fail(format string, args ...any) {
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

func (p *parser) err() error {
	if len(p.problems) == 0 {
		return nil
	}
	return errors.New("config: " + strings.Join(p.problems, "; "))
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) required(name string) string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		p.fail("%s is required", name)
	}
	return v
}

func (p *parser) intRange(name string, def, lo, hi int) int {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		p.fail("%s must be a whole number from %d to %d", name, lo, hi)
		return def
	}
	return n
}

func (p *parser) boolean(name string) bool {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return false
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		p.fail("%s must be true or false", name)
	}
	return b
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		p.fail("%s must be a positive duration such as 720h", name)
		return def
	}
	return d
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(p.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail("%s must be one of %s", name, strings.Join(allowed, ", "))
	return def
}

// requiredURL checks the scheme but never echoes the value: URLs of
// databases carry passwords.
func (p *parser) requiredURL(name string, schemes ...string) Secret {
	v := p.required(name)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		p.fail("%s is not a valid URL", name)
		return ""
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return Secret(v)
		}
	}
	p.fail("%s must start with %s://", name, schemes[0])
	return ""
}

func (p *parser) optionalURL(name string) string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail("%s must be an http(s) URL", name)
		return ""
	}
	return strings.TrimRight(v, "/")
}

func (p *parser) baseURL(name string) *url.URL {
	v := p.required(name)
	if v == "" {
		return nil
	}
	u, err := url.Parse(strings.TrimRight(v, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail("%s must be an http(s) URL such as https://app.example.com", name)
		return nil
	}
	return u
}

func (p *parser) emails(name string) []string {
	var out []string
	for _, part := range strings.Split(p.getenv(name), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		a, err := mail.ParseAddress(part)
		if err != nil || a.Address != part {
			p.fail("%s has an invalid email address %q", name, part)
			continue
		}
		out = append(out, strings.ToLower(part))
	}
	return out
}

func (p *parser) planLimits(name string, def map[string]int) map[string]int {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return def
	}
	out := make(map[string]int, len(def))
	for k, v := range def {
		out[k] = v
	}
	for _, part := range strings.Split(raw, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		k = strings.ToLower(strings.TrimSpace(k))
		if _, known := def[k]; !ok || err != nil || n < 0 || !known {
			plans := make([]string, 0, len(def))
			for p := range def {
				plans = append(plans, p)
			}
			sort.Strings(plans)
			p.fail("%s must look like starter=1,pro=3,business=10 (plans: %s)", name, strings.Join(plans, ", "))
			return def
		}
		out[k] = n
	}
	return out
}

func (p *parser) logLevel(name string) slog.Level {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return slog.LevelInfo
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(raw)); err != nil {
		p.fail("%s must be debug, info, warn or error", name)
		return slog.LevelInfo
	}
	return l
}
