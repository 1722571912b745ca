package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/locale"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// accountView is the account page filled from what middleware loaded.
func (h *handler) accountView(c echo.Context) views.Account {
	p := mustPrincipal(c)
	return views.Account{
		Profile: views.ProfileForm{BusinessName: p.tenant.Name, Timezone: p.tenant.Timezone, Country: p.tenant.DefaultCountry,
			Choices: h.localeChoices()},
		Login: views.LoginForm{Email: p.user.Email},
	}
}

func (h *handler) showAccount(c echo.Context) error {
	return render(c, http.StatusOK, views.AccountPage(h.shell(c, "Account", views.NavAccount), h.accountView(c)), nil)
}

// accountAnswer shows one form of the account page after a post: the form
// alone for htmx, else the whole page with that form in it.
func (h *handler) accountAnswer(c echo.Context, status int, fill func(*views.Account), form templ.Component) error {
	if wantsPartial(c) {
		return renderComponent(c, status, form)
	}
	vm := h.accountView(c)
	fill(&vm)
	return render(c, status, views.AccountPage(h.shell(c, "Account", views.NavAccount), vm), nil)
}

// profileForm is the posted business part of the account page.
type profileForm struct {
	BusinessName string `form:"business_name"`
	Timezone     string `form:"timezone"`
	Country      string `form:"country"`
}

// Validate returns the problems by field name and puts the time zone in its
// listed form.
func (f *profileForm) Validate(l *locale.Lists) map[string]string {
	errs := map[string]string{}
	f.BusinessName = strings.TrimSpace(f.BusinessName)
	if msg := businessNameProblem(f.BusinessName); msg != "" {
		errs["business_name"] = msg
	}
	f.Timezone, f.Country = checkLocale(l, f.Timezone, f.Country, errs)
	return errs
}

func (h *handler) updateProfile(c echo.Context) error {
	var f profileForm
	if err := c.Bind(&f); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	errs := f.Validate(h.locale)
	vm := views.ProfileForm{BusinessName: f.BusinessName, Timezone: f.Timezone, Country: f.Country,
		Choices: h.localeChoices(), Errors: errs}
	status := http.StatusUnprocessableEntity
	if len(errs) == 0 {
		err := tenantStore(c).SetProfile(c.Request().Context(), db.Profile{Name: f.BusinessName, Timezone: f.Timezone, Country: f.Country})
		if err != nil {
			return err
		}
		// The page around the form shows the new name at once.
		t := mustPrincipal(c).tenant
		t.Name, t.Timezone, t.DefaultCountry = f.BusinessName, f.Timezone, f.Country
		status, vm.Saved = http.StatusOK, true
	}
	return h.accountAnswer(c, status, func(a *views.Account) { a.Profile = vm }, views.AccountProfileForm(vm))
}

// loginForm is the posted sign-in part of the account page.
type loginForm struct {
	Email           string `form:"email"`
	NewPassword     string `form:"new_password"`
	CurrentPassword string `form:"current_password"`
}

// Validate returns the problems by field name, given the user's current
// email and the platform owners' addresses (which no one can take over by
// changing to them).
func (f *loginForm) Validate(currentEmail string, reserved func(string) bool) map[string]string {
	errs := map[string]string{}
	f.Email = strings.TrimSpace(f.Email)
	newEmail := db.NormalizeEmail(f.Email) != currentEmail
	switch {
	case !validEmail(f.Email):
		errs["email"] = "Enter a valid email address, like you@business.com."
	case newEmail && reserved(f.Email):
		errs["email"] = "This address is reserved. Choose another one."
	}
	if f.NewPassword != "" {
		if msg := passwordProblem(f.NewPassword); msg != "" {
			errs["new_password"] = msg
		}
	}
	switch {
	case !newEmail && f.NewPassword == "" && len(errs) == 0:
		errs["new_password"] = "Type a new email or a new password to change them."
	case f.CurrentPassword == "":
		errs["current_password"] = "Enter your current password to change your email or password."
	}
	return errs
}

func (h *handler) updateLogin(c echo.Context) error {
	var f loginForm
	if err := c.Bind(&f); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	p := mustPrincipal(c)
	vm := views.LoginForm{Errors: f.Validate(p.user.Email, h.isOwner)}
	vm.Email = f.Email
	answer := func(status int) error {
		return h.accountAnswer(c, status, func(a *views.Account) { a.Login = vm }, views.AccountLoginForm(vm))
	}
	if len(vm.Errors) > 0 {
		return answer(http.StatusUnprocessableEntity)
	}
	if msg, retry, err := h.checkCurrentPassword(c, p.user, f.CurrentPassword); err != nil {
		return err
	} else if retry > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())))
		vm.Message = msg
		return answer(http.StatusTooManyRequests)
	} else if msg != "" {
		vm.Errors = map[string]string{"current_password": msg}
		return answer(http.StatusUnprocessableEntity)
	}
	err := h.saveLogin(c, p, f)
	if errors.Is(err, db.ErrConflict) {
		vm.Errors = map[string]string{"email": "Another account uses this email. Choose another one."}
		return answer(http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	vm.Email, vm.Saved, vm.SignedOutOthers = p.user.Email, true, f.NewPassword != ""
	return answer(http.StatusOK)
}

// checkCurrentPassword checks the password typed to confirm a change. It
// spends the same per-account limits as sign-in (someone at an unattended
// computer guesses the same way) and clears them when right. It returns a
// message for the user ("" when right) and, when a limit is reached, the
// wait.
func (h *handler) checkCurrentPassword(c echo.Context, u *db.User, password string) (string, time.Duration, error) {
	ctx := c.Request().Context()
	accountIPKey, accountKey := "signin:account-ip:"+u.Email+"|"+c.RealIP(), "signin:account:"+u.Email
	for _, l := range []struct {
		key   string
		limit redis_rate.Limit
	}{{accountIPKey, h.opts.Limits.SignInPerAccountIP}, {accountKey, h.opts.Limits.SignInPerAccount}} {
		ok, retry, err := h.allow(ctx, l.key, l.limit)
		if err != nil {
			return "", 0, err
		}
		if !ok {
			return "Too many wrong passwords for this account. Please wait " + waitText(retry) + " and try again.", retry, nil
		}
	}
	if len(password) > maxPasswordBytes || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return "This is not your current password.", 0, nil
	}
	return "", 0, h.resetLimits(ctx, accountIPKey, accountKey)
}

// saveLogin writes a new email and password together. A new password ends
// every session of the user, this one included, and this browser goes on
// with a fresh session token.
func (h *handler) saveLogin(c echo.Context, p *principal, f loginForm) error {
	ctx := c.Request().Context()
	var hash []byte
	if f.NewPassword != "" {
		var err error
		if hash, err = bcrypt.GenerateFromPassword([]byte(f.NewPassword), h.opts.PasswordCost); err != nil {
			return fmt.Errorf("hash password: %w", err)
		}
	}
	var ended []string
	err := p.store.RunInTx(ctx, func(ctx context.Context, tx *db.TenantStore) error {
		if db.NormalizeEmail(f.Email) != p.user.Email {
			if err := tx.SetUserEmail(ctx, p.user.ID, f.Email); err != nil {
				return err
			}
		}
		if hash == nil {
			return nil
		}
		var err error
		ended, err = tx.SetUserPassword(ctx, p.user.ID, string(hash))
		return err
	})
	if err != nil {
		return err
	}
	p.user.Email = db.NormalizeEmail(f.Email)
	if hash == nil {
		return nil
	}
	h.endStreams(ctx, p.tenant.ID, ended)
	return h.startSession(c, p.user.ID)
}

// endStreams closes the live streams of sessions that ended, in every web
// process.
func (h *handler) endStreams(ctx context.Context, tenantID int64, tokens []string) {
	for _, tok := range tokens {
		if err := h.publisher.Publish(ctx, tenantID, live.SessionEnded, map[string]string{"session": streamKey(tok)}); err != nil {
			h.log.WarnContext(ctx, "end the session's live streams", "err", err)
		}
	}
}
