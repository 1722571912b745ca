package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/locale"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// Password rules: bcrypt reads at most 72 bytes, so longer passwords are
// refused rather than silently truncated.
const (
	minPasswordLen   = 8
	maxPasswordBytes = 72
)

func mustHash(password string, cost int) []byte {
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		panic(err)
	}
	return h
}

// signUpForm is the posted sign-up form.
type signUpForm struct {
	BusinessName string `form:"business_name"`
	Email        string `form:"email"`
	Password     string `form:"password"`
	Timezone     string `form:"timezone"`
	Country      string `form:"country"`
}

// Validate returns the problems of each field by field name; it puts the
// time zone in its listed form.
func (f *signUpForm) Validate(l *locale.Lists) map[string]string {
	errs := map[string]string{}
	f.BusinessName = strings.TrimSpace(f.BusinessName)
	f.Email = strings.TrimSpace(f.Email)
	if msg := businessNameProblem(f.BusinessName); msg != "" {
		errs["business_name"] = msg
	}
	if !validEmail(f.Email) {
		errs["email"] = "Enter a valid email address, like you@business.com."
	}
	if msg := passwordProblem(f.Password); msg != "" {
		errs["password"] = msg
	}
	f.Timezone, f.Country = checkLocale(l, f.Timezone, f.Country, errs)
	return errs
}

// businessNameProblem says what is wrong with a business name, "" if
// nothing.
func businessNameProblem(name string) string {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "Enter the name of your business."
	case n > 100:
		return "Keep the name under 100 characters."
	}
	return ""
}

// passwordProblem says what is wrong with a new password, "" if nothing.
func passwordProblem(pw string) string {
	switch {
	case utf8.RuneCountInString(pw) < minPasswordLen:
		return fmt.Sprintf("Use at least %d characters.", minPasswordLen)
	case utf8.RuneCountInString(pw) > maxPasswordBytes:
		return fmt.Sprintf("Use at most %d characters.", maxPasswordBytes)
	case len(pw) > maxPasswordBytes:
		// Within 72 characters, but accented letters and emoji take more
		// than one of bcrypt's 72 bytes each.
		return fmt.Sprintf("This password is too long: accented letters and emoji count double or more, and the limit is %d plain letters.", maxPasswordBytes)
	}
	return ""
}

// checkLocale validates a posted time zone and country: an empty time zone
// is UTC, an old name becomes the listed one, an empty country stays unset.
// Problems go into errs under "timezone" and "country".
func checkLocale(l *locale.Lists, tz, country string, errs map[string]string) (string, string) {
	tz, country = strings.TrimSpace(tz), strings.ToUpper(strings.TrimSpace(country))
	if tz == "" {
		tz = locale.UTC
	}
	if zone, ok := l.Timezone(tz); ok {
		tz = zone
	} else {
		errs["timezone"] = "Choose a time zone from the list."
	}
	if country != "" && !l.KnownCountry(country) {
		errs["country"] = "Choose a country from the list."
	}
	return tz, country
}

// localeChoices lists the time zones, with their offsets now, and the
// countries.
func (h *handler) localeChoices() views.LocaleChoices {
	now := time.Now()
	zones := h.locale.Zones()
	out := views.LocaleChoices{Zones: make([]views.ZoneChoice, len(zones))}
	for i, z := range zones {
		out.Zones[i] = views.ZoneChoice{Value: z.Name, Label: z.Label(now), Country: z.Country}
	}
	for _, c := range h.locale.Countries() {
		out.Countries = append(out.Countries, views.Choice{Value: c.Code, Label: c.Name})
	}
	return out
}

func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return false
	}
	_, domain, _ := strings.Cut(s, "@")
	return strings.Contains(domain, ".") && !strings.HasSuffix(domain, ".")
}

func (h *handler) newSignUp(c echo.Context) error {
	if principalOf(c) != nil {
		return c.Redirect(http.StatusSeeOther, views.PathDashboard)
	}
	vm := views.SignUpForm{Timezone: locale.UTC, Choices: h.localeChoices(), Prefill: true}
	return render(c, http.StatusOK, views.SignUpPage(vm), nil)
}

func (h *handler) createSignUp(c echo.Context) error {
	var f signUpForm
	if err := c.Bind(&f); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	errs := f.Validate(h.locale)
	vm := views.SignUpForm{BusinessName: f.BusinessName, Email: f.Email, Timezone: f.Timezone, Country: f.Country,
		Choices: h.localeChoices(), Errors: errs}
	show := func(status int) error {
		return render(c, status, views.SignUpPage(vm), views.SignUpFormView(vm))
	}
	if len(errs) > 0 {
		return show(http.StatusUnprocessableEntity)
	}
	if ok, retry, err := h.allow(c.Request().Context(), "signup:ip:"+c.RealIP(), h.opts.Limits.SignUpPerIP); err != nil {
		return err
	} else if !ok {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())))
		vm.Message = "Too many sign-ups from your network. Please wait " + waitText(retry) + " and try again."
		return show(http.StatusTooManyRequests)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(f.Password), h.opts.PasswordCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	_, u, err := h.store.CreateTenantWithOwner(c.Request().Context(), db.SignUp{
		BusinessName: f.BusinessName, Email: f.Email, PasswordHash: string(hash), Credits: h.opts.DefaultCredits,
		Timezone: f.Timezone, Country: f.Country,
	})
	if errors.Is(err, db.ErrConflict) {
		vm.Errors = map[string]string{"email": "An account with this email already exists. Sign in instead."}
		return show(http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	if err := h.startSession(c, u.ID); err != nil {
		return err
	}
	h.putFlash(c, "success", fmt.Sprintf("Welcome to My Aibud! You have %s free credits to start.", views.Number(h.opts.DefaultCredits)))
	return redirect(c, views.PathDashboard)
}

func (h *handler) newSignIn(c echo.Context) error {
	if principalOf(c) != nil {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	next := c.QueryParam("next")
	if safeNext(next) != next {
		next = ""
	}
	return render(c, http.StatusOK, views.SignInPage(views.SignInForm{Next: next}), nil)
}

// signInForm is the posted sign-in form.
type signInForm struct {
	Email    string `form:"email"`
	Password string `form:"password"`
	Next     string `form:"next"`
}

// errWrongCredentials is the one message for an unknown email and a wrong
// password, so sign-in does not reveal which accounts exist.
const errWrongCredentials = "Email or password is wrong."

func (h *handler) createSignIn(c echo.Context) error {
	var f signInForm
	if err := c.Bind(&f); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	f.Email = strings.TrimSpace(f.Email)
	vm := views.SignInForm{Email: f.Email, Next: f.Next}
	if safeNext(vm.Next) != vm.Next {
		vm.Next = ""
	}
	show := func(status int, msg string) error {
		vm.Message = msg
		return render(c, status, views.SignInPage(vm), views.SignInFormView(vm))
	}
	ctx := c.Request().Context()

	// Every limit is spent before the password is checked, atomically in
	// Redis, so concurrent attempts cannot get more checks than it allows.
	account := db.NormalizeEmail(f.Email)
	accountIPKey, accountKey := "signin:account-ip:"+account+"|"+c.RealIP(), "signin:account:"+account
	for _, l := range []struct {
		key   string
		limit redis_rate.Limit
		msg   string
	}{
		{"signin:ip:" + c.RealIP(), h.opts.Limits.SignInPerIP, "Too many sign-in attempts from your network."},
		{accountIPKey, h.opts.Limits.SignInPerAccountIP, "Too many failed attempts for this account from your network."},
		{accountKey, h.opts.Limits.SignInPerAccount, "Too many failed attempts for this account."},
	} {
		ok, retry, err := h.allow(ctx, l.key, l.limit)
		if err != nil {
			return err
		}
		if !ok {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())))
			return show(http.StatusTooManyRequests, l.msg+" Please wait "+waitText(retry)+" and try again.")
		}
	}

	u, err := h.store.UserByEmail(ctx, f.Email)
	switch {
	case errors.Is(err, db.ErrNotFound) || len(f.Password) > maxPasswordBytes:
		// bcrypt reads only the first 72 bytes: a longer password is never
		// the one set (sign-up refuses them), so it must not match.
		_ = bcrypt.CompareHashAndPassword(h.dummyHash, []byte(f.Password))
	case err != nil:
		return err
	default:
		if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(f.Password)) == nil {
			// The right password clears the account's counts: failures
			// before it were the owner's own.
			if err := h.resetLimits(ctx, accountIPKey, accountKey); err != nil {
				return err
			}
			if err := h.store.TouchSignIn(ctx, u.ID); err != nil {
				return err
			}
			if err := h.startSession(c, u.ID); err != nil {
				return err
			}
			return redirect(c, safeNext(f.Next))
		}
	}
	return show(http.StatusUnprocessableEntity, errWrongCredentials)
}

// startSession signs the user in on a fresh session token, so a token
// planted before sign-in is worthless after.
func (h *handler) startSession(c echo.Context, userID int64) error {
	ctx := c.Request().Context()
	if err := h.sessions.RenewToken(ctx); err != nil {
		return fmt.Errorf("renew session: %w", err)
	}
	h.sessions.Put(ctx, sessionUserID, userID)
	return nil
}

func (h *handler) signOut(c echo.Context) error {
	ctx := c.Request().Context()
	key := streamKey(h.sessions.Token(ctx))
	if err := h.sessions.Destroy(ctx); err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	// The session's live streams end, in every web process.
	if p := principalOf(c); p != nil {
		if err := h.publisher.Publish(ctx, p.tenant.ID, live.SessionEnded, map[string]string{"session": key}); err != nil {
			h.log.WarnContext(ctx, "end the session's live streams", "err", err)
		}
	}
	return redirect(c, views.PathSignIn)
}

// allow spends one unit of a rate limit and tells whether it was available,
// with how long until one is when not.
func (h *handler) allow(ctx context.Context, key string, l redis_rate.Limit) (bool, time.Duration, error) {
	if l.Rate == 0 {
		return true, 0, nil
	}
	res, err := h.limiter.Allow(ctx, h.opts.RedisNamespace+":rl:"+key, l)
	if err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	// Whole seconds, rounded up: waiting that long is always enough.
	return res.Allowed > 0, res.RetryAfter.Truncate(time.Second) + time.Second, nil
}

// resetLimits clears rate-limit counts.
func (h *handler) resetLimits(ctx context.Context, keys ...string) error {
	for _, k := range keys {
		if err := h.limiter.Reset(ctx, h.opts.RedisNamespace+":rl:"+k); err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
	}
	return nil
}

// waitText says how long to wait, in words.
func waitText(d time.Duration) string {
	switch {
	case d <= time.Minute:
		return "a minute"
	case d < time.Hour:
		return strconv.Itoa(int((d+time.Minute-1)/time.Minute)) + " minutes"
	}
	return strconv.Itoa(int((d+time.Hour-1)/time.Hour)) + " hours"
}

// putFlash stores a message for the next page the user sees.
func (h *handler) putFlash(c echo.Context, kind, msg string) {
	h.sessions.Put(c.Request().Context(), sessionFlash, kind+"|"+msg)
}

// popFlash takes the pending message, if any.
func (h *handler) popFlash(c echo.Context) *views.Flash {
	s := h.sessions.PopString(c.Request().Context(), sessionFlash)
	if s == "" {
		return nil
	}
	kind, msg, _ := strings.Cut(s, "|")
	return &views.Flash{Kind: kind, Message: msg}
}
