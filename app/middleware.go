package app

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// Session keys.
const (
	sessionUserID = "user_id"
	sessionFlash  = "flash"
)

// cookieName adds the __Host- prefix on https, which pins the cookie to this
// host and path / and requires Secure.
func cookieName(name string, secure bool) string {
	if secure {
		return "__Host-" + name
	}
	return name
}

// NewSessions returns the server-side session manager, storing sessions in
// PostgreSQL.
func NewSessions(store *db.Store, secure bool, lifetime time.Duration) *scs.SessionManager {
	sm := scs.New()
	sm.Store = userSessions{SessionStore: store.Sessions(), codec: sm.Codec}
	sm.Lifetime = lifetime
	sm.IdleTimeout = min(lifetime, 14*24*time.Hour)
	sm.Cookie.Name = cookieName("aibud_session", secure)
	sm.Cookie.HttpOnly = true
	sm.Cookie.Secure = secure
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	sm.Cookie.Persist = true
	return sm
}

// userSessions saves each session with the id of its signed-in user, read
// from the session's data, so that a password change can end the user's
// sessions everywhere.
type userSessions struct {
	*db.SessionStore
	codec scs.Codec
}

// CommitCtx saves a session with its user.
func (us userSessions) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	var uid int64
	if _, values, err := us.codec.Decode(b); err == nil {
		uid, _ = values[sessionUserID].(int64)
	}
	return us.CommitUserCtx(ctx, token, b, expiry, uid)
}

// AttributeSessions records the user of every live session saved before
// sessions recorded their user, so that a password change ends those too.
// It reads the user from each session's data and returns how many it
// attributed. It runs once at start; sessions saved since record their user.
func AttributeSessions(ctx context.Context, store *db.Store, sm *scs.SessionManager) (int, error) {
	ss, n, after := store.Sessions(), 0, ""
	for {
		batch, err := ss.UnattributedSessions(ctx, after, 500)
		if err != nil || len(batch) == 0 {
			return n, err
		}
		for _, s := range batch {
			after = s.Token
			_, values, err := sm.Codec.Decode(s.Data)
			if uid, _ := values[sessionUserID].(int64); err != nil || uid == 0 {
				continue
			}
			if err := ss.AttributeSession(ctx, s.Token, values[sessionUserID].(int64)); err != nil {
				return n, err
			}
			n++
		}
	}
}

// Commit is CommitCtx without a context, for scs.Store.
func (us userSessions) Commit(token string, b []byte, expiry time.Time) error {
	return us.CommitCtx(context.Background(), token, b, expiry)
}

// requestLog logs every request once, at the edge, and records its metrics.
// The error, if any, is handed to the central error handler first so the
// logged status is the one the client got.
func (h *handler) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		req, res := c.Request(), c.Response()
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		h.metrics.ObserveHTTP(route, req.Method, strconv.Itoa(res.Status), d)

		level := slog.LevelInfo
		switch {
		case res.Status == StatusClientClosedRequest:
			// The browser went away: not a fault of ours or theirs.
		case res.Status >= 500:
			level = slog.LevelError
		case res.Status >= 400:
			level = slog.LevelWarn
		case route == views.PathHealthz || route == views.PathReadyz || route == views.PathMetrics || strings.HasPrefix(route, views.PathStaticPrefix):
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("request_id", res.Header().Get(echo.HeaderXRequestID)),
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.String("route", route),
			slog.Int("status", res.Status),
			slog.Int64("duration_ms", d.Milliseconds()),
			slog.String("ip", c.RealIP()),
		}
		if p := principalOf(c); p != nil {
			attrs = append(attrs, slog.Int64("tenant_id", p.tenant.ID), slog.Int64("user_id", p.user.ID))
		}
		if err != nil {
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		h.log.LogAttrs(req.Context(), level, "request", attrs...)
		return nil
	}
}

// contentSecurityPolicy allows only our own scripts and styles: no inline
// script, no CDN. Forms may lead to Stripe's Checkout and customer portal
// (the billing page's POSTs answer with a redirect there).
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self' https://checkout.stripe.com https://billing.stripe.com; frame-ancestors 'none'"

func (h *handler) secureHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if h.opts.Secure {
			hd.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		return next(c)
	}
}

// relaxedCSP lets asynqmon's bundled UI (inline bootstrap script and styles)
// run; it is reachable only by platform owners.
func (h *handler) relaxedCSP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Content-Security-Policy",
			"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; "+
				"font-src 'self' https://fonts.gstatic.com; img-src 'self' data:; frame-ancestors 'none'")
		return next(c)
	}
}

// loadSession loads the server-side session and saves it (rotating the
// cookie when needed) just before the response is written.
func (h *handler) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		var token string
		if ck, err := c.Cookie(h.sessions.Cookie.Name); err == nil {
			token = ck.Value
		}
		ctx, err := h.sessions.Load(c.Request().Context(), token)
		if err != nil {
			return fmt.Errorf("load session: %w", err)
		}
		c.SetRequest(c.Request().WithContext(ctx))
		c.Response().Header().Add(echo.HeaderVary, echo.HeaderCookie)
		saved := false
		save := func() {
			if saved {
				return
			}
			saved = true
			ctx := c.Request().Context()
			switch h.sessions.Status(ctx) {
			case scs.Modified:
				token, expiry, err := h.sessions.Commit(context.WithoutCancel(ctx))
				if err != nil {
					h.log.ErrorContext(ctx, "save session", "err", err)
					return
				}
				h.sessions.WriteSessionCookie(ctx, c.Response(), token, expiry)
			case scs.Destroyed:
				h.sessions.WriteSessionCookie(ctx, c.Response(), "", time.Time{})
			}
		}
		c.Response().Before(save)
		err = next(c)
		if err == nil && !c.Response().Committed {
			save()
		}
		return err
	}
}

// csrf checks the token (or the browser's Sec-Fetch-Site) on every
// state-changing request and hands the token to the views. The token is an
// HMAC, keyed with SESSION_SECRET, of what the browser is bound to: its
// sign-in session once there is one (so the token changes at sign-in, and a
// token or cookie planted by someone else is worth nothing), else a random
// pre-session cookie. A browser saying the request is cross-site is refused
// whatever it carries; one saying same-origin needs no token.
func (h *handler) csrf() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			token := h.csrfToken(c)
			if !safeMethod(c.Request().Method) && !csrfOK(c, token) {
				return Errorf(EForbidden, "This form has expired or came from another site. Reload the page and try again.")
			}
			c.SetRequest(c.Request().WithContext(views.WithCSRF(c.Request().Context(), token)))
			return next(c)
		}
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func csrfOK(c echo.Context, token string) bool {
	switch c.Request().Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return false
	case "same-origin":
		return true
	}
	sent := c.Request().Header.Get("X-CSRF-Token")
	if sent == "" {
		sent = c.FormValue("_csrf")
	}
	return sent != "" && hmac.Equal([]byte(sent), []byte(token))
}

// csrfToken is the token of the browser's session, or of its pre-session
// cookie (set now if it has none).
func (h *handler) csrfToken(c echo.Context) string {
	binding := "session:" + h.sessions.Token(c.Request().Context())
	if binding == "session:" {
		name := cookieName("aibud_csrf", h.opts.Secure)
		nonce := ""
		if ck, err := c.Cookie(name); err == nil && len(ck.Value) == 43 {
			nonce = ck.Value
		} else {
			var b [32]byte
			_, _ = rand.Read(b[:])
			nonce = base64.RawURLEncoding.EncodeToString(b[:])
			c.SetCookie(&http.Cookie{Name: name, Value: nonce, Path: "/", HttpOnly: true, Secure: h.opts.Secure,
				SameSite: http.SameSiteLaxMode, MaxAge: 30 * 24 * 3600})
		}
		binding = "visitor:" + nonce
	}
	m := hmac.New(sha256.New, h.opts.SessionSecret)
	m.Write([]byte("csrf\x00" + binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// principal is who is signed in, loaded once per request.
type principal struct {
	user   *db.User
	tenant *db.Tenant
	store  *db.TenantStore
	owner  bool
	// viewing is set while an owner views tenant read-only (see
	// applyViewAs): user stays the owner, tenant and store are the viewed
	// tenant's.
	viewing bool
	// at is when the request's data began to be read (the tenant just
	// above): a page's live stream replays what changed since.
	at time.Time
}

type principalKey struct{}

func principalOf(c echo.Context) *principal {
	p, _ := c.Request().Context().Value(principalKey{}).(*principal)
	return p
}

// mustPrincipal returns the signed-in principal on routes behind requireUser.
func mustPrincipal(c echo.Context) *principal {
	p := principalOf(c)
	if p == nil {
		panic("app: tenant route reached without requireUser")
	}
	return p
}

// tenantStore is the handlers' only way to tenant data.
func tenantStore(c echo.Context) *db.TenantStore { return mustPrincipal(c).store }

// loadPrincipal resolves the session's user and their tenant: the tenant
// an owner views, read-only, while they view one.
func (h *handler) loadPrincipal(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		uid := h.sessions.GetInt64(ctx, sessionUserID)
		if uid == 0 {
			return next(c)
		}
		at := time.Now()
		u, err := h.store.UserByID(ctx, uid)
		if errors.Is(err, db.ErrNotFound) {
			if err := h.sessions.Destroy(ctx); err != nil {
				return fmt.Errorf("drop session of a deleted user: %w", err)
			}
			return next(c)
		}
		if err != nil {
			return err
		}
		t, err := h.store.TenantByID(ctx, u.TenantID)
		if err != nil {
			return err
		}
		p := &principal{user: u, tenant: t, store: h.store.Tenant(t.ID), owner: h.isOwner(u.Email), at: at}
		if err := h.applyViewAs(c, p); err != nil {
			return err
		}
		c.SetRequest(c.Request().WithContext(context.WithValue(ctx, principalKey{}, p)))
		if p.viewing {
			if err := h.guardViewAs(c, p); err != nil {
				return err
			}
		}
		return next(c)
	}
}

func (h *handler) isOwner(email string) bool {
	for _, e := range h.opts.AdminEmails {
		if strings.EqualFold(e, email) {
			return true
		}
	}
	return false
}

// requireUser sends signed-out visitors to sign in and back afterwards.
func (h *handler) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p := principalOf(c)
		if p == nil {
			return redirect(c, views.SignInPath(returnPath(c)))
		}
		return next(c)
	}
}

// returnPath is where sign-in should lead back to: the page asked for, or
// for an htmx request the page the browser shows (a form posted after the
// session ended in another tab), "" when neither is a page.
func returnPath(c echo.Context) string {
	r := c.Request()
	if isHTMX(c) {
		u, err := url.Parse(r.Header.Get("HX-Current-URL"))
		if err != nil || u.Host != r.Host || u.Path == views.PathEvents {
			return ""
		}
		return u.RequestURI()
	}
	if r.Method != http.MethodGet || r.URL.Path == views.PathEvents {
		return ""
	}
	return r.URL.RequestURI()
}

// requireOwner lets platform owners through; for anyone else the route does
// not exist.
func (h *handler) requireOwner(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p := principalOf(c); p == nil || !p.owner {
			return echo.ErrNotFound
		}
		return next(c)
	}
}

// safeNext accepts only a path on this site as a post-sign-in destination,
// so the sign-in page cannot send anyone elsewhere (an open redirect). It
// must parse as a URL with no scheme, no host and no user, start with a
// single "/", and hold no control character, space or backslash, raw or
// percent-encoded: browsers drop tabs and newlines and read "\" as "/",
// which turns "/\t/evil.example" into "//evil.example". Anything else, and
// the event stream, goes to the dashboard.
func safeNext(next string) string {
	if !localPath(next) || next == views.PathEvents {
		return views.PathDashboard
	}
	return next
}

func localPath(next string) bool {
	if len(next) > 2000 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || !plainText(next) {
		return false
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	// The path decoded: "%09", "%5C" and "%2F%2F" count as what they are.
	return plainText(u.Path) && !strings.HasPrefix(u.Path, "//")
}

// plainText reports whether s has no control character, whitespace or
// backslash.
func plainText(s string) bool {
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '\\' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// bearerOK compares an Authorization bearer token in constant time.
func bearerOK(r *http.Request, want string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
