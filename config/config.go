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
	"math"
	"net"
	"net/mail"
	"net/url"
	"slices"
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
	Credits  Credits
	Media    Media
	Billing  Billing
	Admin    Admin
	Mail     Mail
	Log      Log
	// Retired names variables that are set but no longer read
	// (PLAN_INSTANCE_LIMITS: plans are edited in the database now), for a
	// warning at start.
	Retired []string
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
	// HealthAddr is where a worker-only process serves /healthz and
	// /metrics (WORKER_HEALTH_ADDR, e.g. 127.0.0.1:9090); empty: nowhere.
	// Not PORT, so that several workers run on one host.
	HealthAddr string
	// ScheduleMinute is how long a minute of the periodic schedule lasts
	// (SCHEDULE_MINUTE): one minute, or seconds to run the schedule fast
	// in tests. Every period shrinks alike.
	ScheduleMinute time.Duration
}

// Session configures sign-in sessions and password hashing.
type Session struct {
	Secret   Secret
	Lifetime time.Duration
	// PasswordCost is the bcrypt cost; tests lower it.
	PasswordCost int
}

// WhatsApp configures the WhatsApp gateways (WAHA, Evolution API).
type WhatsApp struct {
	// Providers are the kinds of gateway new numbers are placed on
	// (WHATSAPP_PROVIDER: waha, evolution, or both separated by a comma).
	// Unset, they are those whose server is configured, else waha.
	Providers []string
	// WAHAURL is WAHA's default node (WAHA_API_URL); WAHAKey its API key.
	WAHAURL string
	WAHAKey Secret
	// WebhookSecret is the HMAC key WAHA signs webhooks with.
	WebhookSecret Secret
	// EvolutionURL is Evolution API's default node (EVOLUTION_API_URL);
	// EvolutionKey its global API key (AUTHENTICATION_API_KEY there).
	EvolutionURL string
	EvolutionKey Secret
	// EvolutionWebhookSecret keys the per-instance webhook secrets Evolution
	// API sends back in a header (it does not sign its webhooks).
	EvolutionWebhookSecret Secret
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
	// PriceInputPerMTok, PriceAudioInputPerMTok and PriceOutputPerMTok are
	// what Gemini charges, in US dollars per million tokens
	// (GEMINI_PRICE_INPUT_PER_MTOK, GEMINI_PRICE_AUDIO_INPUT_PER_MTOK,
	// GEMINI_PRICE_OUTPUT_PER_MTOK), for the console's cost estimates.
	PriceInputPerMTok      float64
	PriceAudioInputPerMTok float64
	PriceOutputPerMTok     float64
}

// Credits holds the credit grant for new tenants and the cost of each action.
type Credits struct {
	Default int64
	// AIReply is charged for generating an AI answer.
	AIReply int64
	// AIMediaReply is charged instead for an answer that reads a voice
	// note, photo or document (CREDIT_COST_AI_MEDIA_REPLY).
	AIMediaReply int64
	// Message is charged for every outgoing WhatsApp message.
	Message int64
}

// Media bounds the files customers send that the AI reads (bytes by kind;
// Gemini takes at most 20 MB inline) and sets how long they are kept.
type Media struct {
	Audio     int64
	Image     int64
	Document  int64
	Retention time.Duration
	// Storage is where files' bytes are kept (MEDIA_STORAGE): "postgres",
	// in their rows, or "disk", in Dir (MEDIA_DIR), which every web and
	// worker process must share.
	Storage string
	Dir     string
}

// Billing configures Stripe and the credit warnings. Plans and credit packs
// are edited in the database, not here.
type Billing struct {
	// SecretKey (STRIPE_SECRET_KEY) turns billing on; without it /billing
	// says billing is not configured.
	SecretKey Secret
	// WebhookSecret (STRIPE_WEBHOOK_SECRET) verifies Stripe's webhooks.
	WebhookSecret Secret
	// APIBase (STRIPE_API_BASE) overrides Stripe's API URL (stripe-mock).
	APIBase string
	// GracePeriod (BILLING_GRACE_PERIOD) is how long a failed renewal keeps
	// the paid plan before the tenant goes back to Starter.
	GracePeriod time.Duration
	// LowBalance (LOW_BALANCE_CREDITS) is the balance below which every page
	// warns; 0 turns the warning off.
	LowBalance int64
}

// Enabled reports whether Stripe is configured.
func (b Billing) Enabled() bool { return b.SecretKey != "" }

// Admin lists the platform owners.
type Admin struct {
	Emails []string
	// SupportEmail is where tenants write for help or a bigger plan
	// (SUPPORT_EMAIL, else the first of ADMIN_EMAILS).
	SupportEmail string
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

// Mail configures outgoing email (password reset links), from SMTP_URL and
// SMTP_FROM. Without SMTP_URL, Host is empty and no email is sent.
type Mail struct {
	Host     string
	Port     int
	Username string
	Password Secret
	// TLS is "implicit" (smtps://), "starttls" (required, the default for
	// smtp://), "opportunistic" or "off" (?starttls=…).
	TLS string
	// From is the sender, "My Aibud <no-reply@host of APP_BASE_URL>" unless
	// SMTP_FROM says otherwise.
	From string
}

// Enabled reports whether email can be sent.
func (m Mail) Enabled() bool { return m.Host != "" }

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
	c.Jobs.HealthAddr = p.listenAddr("WORKER_HEALTH_ADDR")
	if c.Jobs.ScheduleMinute = p.duration("SCHEDULE_MINUTE", time.Minute); c.Jobs.ScheduleMinute < time.Second || c.Jobs.ScheduleMinute > time.Minute {
		p.fail("SCHEDULE_MINUTE must be from 1s to 1m")
	}

	c.Session.Secret = Secret(p.required("SESSION_SECRET"))
	if s := c.Session.Secret.Reveal(); s != "" && len(s) < 32 {
		p.fail("SESSION_SECRET must be at least 32 characters")
	}
	c.Session.Lifetime = p.duration("SESSION_LIFETIME", 30*24*time.Hour)
	c.Session.PasswordCost = p.intRange("PASSWORD_HASH_COST", 12, 4, 16)

	c.WhatsApp = p.whatsApp()
	c.WhatsApp.NodeCapacity = p.intRange("WAHA_NODE_CAPACITY", 20, 0, 100000)
	c.WhatsApp.Timeout = p.duration("WHATSAPP_TIMEOUT", 30*time.Second)

	c.AI.APIKey = Secret(getenv("GOOGLE_GENERATIVE_AI_API_KEY"))
	if c.AI.APIKey == "" {
		c.AI.APIKey = Secret(getenv("GEMINI_API_KEY"))
	}
	c.AI.BaseURL = p.optionalURL("GEMINI_BASE_URL")
	c.AI.Model = p.str("GEMINI_MODEL", "gemini-2.5-flash")
	c.AI.Timeout = p.duration("GEMINI_TIMEOUT", time.Minute)
	c.AI.InputTokenBudget = p.intRange("GEMINI_INPUT_TOKEN_BUDGET", 50_000, 16_000, 1_000_000)
	// gemini-2.5-flash's list prices (paid tier, text).
	c.AI.PriceInputPerMTok = p.price("GEMINI_PRICE_INPUT_PER_MTOK", 0.30)
	c.AI.PriceOutputPerMTok = p.price("GEMINI_PRICE_OUTPUT_PER_MTOK", 2.50)
	c.AI.PriceAudioInputPerMTok = p.price("GEMINI_PRICE_AUDIO_INPUT_PER_MTOK", 1.00)

	c.Credits.Default = int64(p.intRange("DEFAULT_CREDITS", 400, 0, 1_000_000_000))
	c.Credits.AIReply = int64(p.intRange("CREDIT_COST_AI_REPLY", 1, 0, 1_000_000))
	c.Credits.Message = int64(p.intRange("CREDIT_COST_MESSAGE", 1, 0, 1_000_000))
	c.Credits.AIMediaReply = int64(p.intRange("CREDIT_COST_AI_MEDIA_REPLY", 2, 0, 1_000_000))
	c.Media.Audio = int64(p.intRange("MEDIA_MAX_AUDIO_BYTES", 10<<20, 1024, 20<<20))
	c.Media.Image = int64(p.intRange("MEDIA_MAX_IMAGE_BYTES", 5<<20, 1024, 20<<20))
	c.Media.Document = int64(p.intRange("MEDIA_MAX_DOCUMENT_BYTES", 10<<20, 1024, 20<<20))
	c.Media.Retention = p.duration("MEDIA_RETENTION", 30*24*time.Hour)
	c.Media.Storage = p.oneOf("MEDIA_STORAGE", "postgres", "postgres", "disk")
	c.Media.Dir = p.str("MEDIA_DIR", "")
	if c.Media.Storage == "disk" && c.Media.Dir == "" {
		p.fail("MEDIA_DIR is required with MEDIA_STORAGE=disk")
	}

	c.Billing = p.billing()
	if strings.TrimSpace(getenv("PLAN_INSTANCE_LIMITS")) != "" {
		c.Retired = append(c.Retired, "PLAN_INSTANCE_LIMITS")
	}

	c.Admin.Emails = p.emails("ADMIN_EMAILS")
	if support := p.emails("SUPPORT_EMAIL"); len(support) > 0 {
		c.Admin.SupportEmail = support[0]
	} else if len(c.Admin.Emails) > 0 {
		c.Admin.SupportEmail = c.Admin.Emails[0]
	}

	c.Mail = p.smtp("SMTP_URL")
	c.Mail.From = p.sender("SMTP_FROM", c.HTTP.BaseURL)

	c.Log.Level = p.logLevel("LOG_LEVEL")
	c.Log.Format = p.oneOf("LOG_FORMAT", "json", "json", "text")

	return c, p.err()
}

// billing reads Stripe's keys and the credit warnings.
func (p *parser) billing() Billing {
	b := Billing{
		SecretKey:     Secret(strings.TrimSpace(p.getenv("STRIPE_SECRET_KEY"))),
		WebhookSecret: Secret(strings.TrimSpace(p.getenv("STRIPE_WEBHOOK_SECRET"))),
		APIBase:       p.optionalURL("STRIPE_API_BASE"),
		GracePeriod:   p.duration("BILLING_GRACE_PERIOD", 7*24*time.Hour),
		LowBalance:    int64(p.intRange("LOW_BALANCE_CREDITS", 50, 0, 1_000_000_000)),
	}
	if b.SecretKey != "" && b.WebhookSecret == "" {
		p.fail("STRIPE_WEBHOOK_SECRET is required when STRIPE_SECRET_KEY is set")
	}
	return b
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

// price reads an amount of money: a decimal from 0 to 1,000,000.
func (p *parser) price(name string, def float64) float64 {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return def
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(v) || v < 0 || v > 1_000_000 {
		p.fail("%s must be a decimal amount from 0 to 1000000", name)
		return def
	}
	return v
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

// listenAddr reads an optional host:port to listen on (":9090" for every
// interface).
func (p *parser) listenAddr(name string) string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return ""
	}
	_, port, err := net.SplitHostPort(v)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		p.fail("%s must be host:port, such as 127.0.0.1:9090 or :9090", name)
		return ""
	}
	return v
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

// smtp reads smtp://user:pass@host:port (STARTTLS required unless
// ?starttls=opportunistic or off) or smtps://… (TLS from the first byte).
// Problems never echo the value: it carries a password.
func (p *parser) smtp(name string) Mail {
	raw := strings.TrimSpace(p.getenv(name))
	if raw == "" {
		return Mail{}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		p.fail("%s must look like smtp://user:password@host:587 or smtps://user:password@host:465", name)
		return Mail{}
	}
	m := Mail{Host: u.Hostname(), Port: 587, TLS: "starttls"}
	if u.Scheme == "smtps" {
		m.Port, m.TLS = 465, "implicit"
	}
	if port := u.Port(); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			p.fail("%s has an invalid port", name)
			return Mail{}
		}
		m.Port = n
	}
	if u.User != nil {
		m.Username = u.User.Username()
		pw, _ := u.User.Password()
		m.Password = Secret(pw)
	}
	switch st := u.Query().Get("starttls"); {
	case st == "" || u.Scheme == "smtps":
	case st == "required" || st == "opportunistic" || st == "off":
		m.TLS = map[string]string{"required": "starttls", "opportunistic": "opportunistic", "off": "off"}[st]
	default:
		p.fail("%s: starttls must be required, opportunistic or off", name)
	}
	return m
}

// sender reads the From address, defaulting to no-reply at the app's host.
func (p *parser) sender(name string, base *url.URL) string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		host := "localhost"
		if base != nil {
			host = base.Hostname()
		}
		return "My Aibud <no-reply@" + host + ">"
	}
	if _, err := mail.ParseAddress(v); err != nil {
		p.fail("%s must be an address such as \"My Aibud <no-reply@example.com>\"", name)
	}
	return v
}

// whatsApp reads the gateways' settings.
func (p *parser) whatsApp() WhatsApp {
	var w WhatsApp
	w.WAHAURL = p.optionalURL("WAHA_API_URL")
	w.WAHAKey = Secret(p.getenv("WAHA_API_KEY"))
	w.WebhookSecret = Secret(p.getenv("WAHA_WEBHOOK_SECRET"))
	w.EvolutionURL = p.optionalURL("EVOLUTION_API_URL")
	w.EvolutionKey = Secret(p.getenv("EVOLUTION_API_KEY"))
	w.EvolutionWebhookSecret = Secret(p.getenv("EVOLUTION_WEBHOOK_SECRET"))
	w.Providers = p.providers(w)
	if w.WAHAURL != "" && w.WebhookSecret == "" {
		p.fail("WAHA_WEBHOOK_SECRET is required when WAHA_API_URL is set")
	}
	if w.EvolutionURL != "" && w.EvolutionKey == "" {
		p.fail("EVOLUTION_API_KEY is required when EVOLUTION_API_URL is set")
	}
	if slices.Contains(w.Providers, "evolution") && len(w.EvolutionWebhookSecret.Reveal()) < 16 {
		p.fail("EVOLUTION_WEBHOOK_SECRET (16 characters or more) is required when Evolution API is used")
	}
	return w
}

// providers reads WHATSAPP_PROVIDER; unset, it is the providers whose
// server is configured, else waha.
func (p *parser) providers(w WhatsApp) []string {
	v := strings.TrimSpace(p.getenv("WHATSAPP_PROVIDER"))
	if v == "" {
		var out []string
		if w.WAHAURL != "" || w.EvolutionURL == "" {
			out = append(out, "waha")
		}
		if w.EvolutionURL != "" {
			out = append(out, "evolution")
		}
		return out
	}
	var out []string
	for _, f := range strings.Split(strings.ToLower(v), ",") {
		f = strings.TrimSpace(f)
		switch {
		case f != "waha" && f != "evolution":
			p.fail("WHATSAPP_PROVIDER must be waha, evolution, or waha,evolution")
			return nil
		case !slices.Contains(out, f):
			out = append(out, f)
		}
	}
	return out
}
