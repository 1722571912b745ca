package app

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-redis/redis_rate/v10"
	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/myaibud/aibud/app/reset"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/jobs"
	"github.com/myaibud/aibud/views"
)

func (h *handler) newPasswordReset(c echo.Context) error {
	return render(c, http.StatusOK, views.ForgotPasswordPage(views.ForgotForm{}), nil)
}

// createPasswordReset answers every well-formed request the same way, after
// the same work: the rate limits and one enqueued task, which looks the
// address up and sends the email in a worker. Whether an account exists is
// told neither by the answer nor by its timing.
func (h *handler) createPasswordReset(c echo.Context) error {
	vm := views.ForgotForm{Email: strings.TrimSpace(c.FormValue("email"))}
	show := func(status int) error {
		return render(c, status, views.ForgotPasswordPage(vm), views.ForgotPasswordFormView(vm))
	}
	if !validEmail(vm.Email) {
		vm.Errors = map[string]string{"email": "Enter a valid email address, like you@business.com."}
		return show(http.StatusUnprocessableEntity)
	}
	ctx := c.Request().Context()
	email := db.NormalizeEmail(vm.Email)
	for _, l := range []struct {
		key   string
		limit redis_rate.Limit
		msg   string
	}{
		{"reset:ip:" + c.RealIP(), h.opts.Limits.ResetPerIP, "Too many reset requests from your network."},
		{"reset:email:" + email, h.opts.Limits.ResetPerEmail, "Too many reset requests for this address."},
	} {
		ok, retry, err := h.allow(ctx, l.key, l.limit)
		if err != nil {
			return err
		}
		if !ok {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())))
			vm.Message = l.msg + " Please wait " + waitText(retry) + " and try again."
			return show(http.StatusTooManyRequests)
		}
	}
	task, err := jobs.NewSendPasswordResetTask(jobs.SendPasswordResetPayload{Email: email, IP: c.RealIP()})
	if err != nil {
		return err
	}
	if _, err := h.queue.EnqueueContext(ctx, task); err != nil {
		return fmt.Errorf("enqueue password reset: %w", err)
	}
	return render(c, http.StatusOK, views.ForgotPasswordSentPage(), views.ForgotPasswordSent())
}

// noReferrer keeps the reset link (its token is in the query) out of the
// Referer of anything the page loads or links to.
func noReferrer(c echo.Context) { c.Response().Header().Set("Referrer-Policy", "no-referrer") }

// openReset finds the open link a token belongs to.
func (h *handler) openReset(c echo.Context, token string) (*db.PasswordReset, error) {
	if !reset.WellFormed(token) {
		return nil, db.ErrNotFound
	}
	return h.store.OpenPasswordReset(c.Request().Context(), reset.Hash(token))
}

func (h *handler) editPassword(c echo.Context) error {
	noReferrer(c)
	token := c.QueryParam("token")
	if _, err := h.openReset(c, token); errors.Is(err, db.ErrNotFound) {
		return render(c, http.StatusGone, views.ResetLinkInvalidPage(), nil)
	} else if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ResetPasswordPage(views.ResetForm{Token: token}), nil)
}

// updatePassword sets the new password with a link: the link is spent, the
// user's other links void, every session of theirs ends, and this browser
// is signed in on a fresh session.
func (h *handler) updatePassword(c echo.Context) error {
	noReferrer(c)
	vm := views.ResetForm{Token: c.FormValue("token")}
	password := c.FormValue("new_password")
	invalid := func() error {
		return render(c, http.StatusGone, views.ResetLinkInvalidPage(), views.ResetLinkInvalid())
	}
	if !reset.WellFormed(vm.Token) {
		return invalid()
	}
	if msg := passwordProblem(password); msg != "" {
		vm.Errors = map[string]string{"new_password": msg}
		return render(c, http.StatusUnprocessableEntity, views.ResetPasswordPage(vm), views.ResetPasswordFormView(vm))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), h.opts.PasswordCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	ctx := c.Request().Context()
	u, ended, err := h.store.ResetPassword(ctx, reset.Hash(vm.Token), string(hash))
	if errors.Is(err, db.ErrNotFound) {
		return invalid()
	}
	if err != nil {
		return err
	}
	h.endStreams(ctx, u.TenantID, ended)
	// Failed guesses before the reset were not the owner's.
	if err := h.resetLimits(ctx, "signin:account:"+u.Email, "signin:account-ip:"+u.Email+"|"+c.RealIP()); err != nil {
		return err
	}
	if err := h.startSession(c, u.ID); err != nil {
		return err
	}
	h.putFlash(c, "success", "Your password is changed, and you are signed in. Other devices were signed out.")
	return redirect(c, views.PathDashboard)
}
