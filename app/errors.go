package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// Error codes of application errors, mapped to HTTP statuses in one place.
const (
	EInvalid      = "invalid"
	EForbidden    = "forbidden"
	ENotFound     = "not_found"
	EConflict     = "conflict"
	ETooMany      = "too_many_requests"
	ENoCredits    = "no_credits"
	EUnavailable  = "unavailable"
	EUnauthorized = "unauthorized"
)

// Error is an error whose message is meant for the user.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an application error with a user-facing message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

var codeStatus = map[string]int{
	EInvalid:      http.StatusBadRequest,
	EUnauthorized: http.StatusUnauthorized,
	EForbidden:    http.StatusForbidden,
	ENotFound:     http.StatusNotFound,
	EConflict:     http.StatusConflict,
	ETooMany:      http.StatusTooManyRequests,
	ENoCredits:    http.StatusPaymentRequired,
	EUnavailable:  http.StatusServiceUnavailable,
}

// describe maps any error to a status, a title and a message safe to show.
func describe(err error) (int, string, string) {
	var appErr *Error
	var httpErr *echo.HTTPError
	switch {
	case errors.As(err, &appErr):
		status := codeStatus[appErr.Code]
		if status == 0 {
			status = http.StatusInternalServerError
		}
		return status, http.StatusText(status), appErr.Message
	case errors.Is(err, db.ErrNotFound):
		return http.StatusNotFound, "Not found", "We could not find that. It may have been deleted, or the link is wrong."
	case errors.Is(err, db.ErrInsufficientCredits):
		return http.StatusPaymentRequired, "Out of credits", "You do not have enough credits for this. Top up on the billing page."
	case errors.Is(err, db.ErrConflict):
		return http.StatusConflict, "Conflict", "That conflicts with something that already exists."
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "Too slow", "That took too long. Please try again in a moment."
	case errors.As(err, &httpErr):
		switch httpErr.Code {
		case http.StatusNotFound:
			return httpErr.Code, "Page not found", "There is no page at this address."
		case http.StatusRequestEntityTooLarge:
			return httpErr.Code, "Too large", "What you sent is too large."
		case http.StatusMethodNotAllowed:
			return httpErr.Code, "Not allowed", "This address does not accept that kind of request."
		}
		if httpErr.Code < 500 {
			return httpErr.Code, http.StatusText(httpErr.Code), fmt.Sprint(httpErr.Message)
		}
		return httpErr.Code, "Something went wrong", "Something went wrong on our side. Please try again."
	}
	return http.StatusInternalServerError, "Something went wrong", "Something went wrong on our side. It has been logged; please try again."
}

// StatusClientClosedRequest (nginx's 499) records a request whose client
// went away before the answer.
const StatusClientClosedRequest = 499

// clientGone reports whether err only says the browser cancelled the
// request (closed the tab, navigated away).
func clientGone(r *http.Request, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(r.Context().Err(), context.Canceled)
}

// handleError is the only HTTPErrorHandler. It writes the error as a full
// page, a flash partial for htmx, or JSON for API clients. Logging happens
// once, in requestLog.
func (h *handler) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	if clientGone(c.Request(), err) {
		// Nobody is left to answer: recorded as what it is, not as a
		// server error.
		c.Response().Status = StatusClientClosedRequest
		return
	}
	status, title, msg := describe(err)
	// The request's context may already be cancelled (timeout middleware,
	// client gone); the error page must still render.
	c.SetRequest(c.Request().WithContext(context.WithoutCancel(c.Request().Context())))
	var werr error
	switch {
	case c.Request().Method == http.MethodHead:
		werr = c.NoContent(status)
	case strings.HasPrefix(c.Request().URL.Path, "/api/"):
		werr = c.JSON(status, map[string]string{"error": msg})
	case isHTMX(c):
		c.Response().Header().Set("HX-Retarget", views.Target(views.IDFlash))
		c.Response().Header().Set("HX-Reswap", "innerHTML")
		werr = renderComponent(c, status, views.FlashMessage(views.Flash{Kind: "error", Message: msg}))
	default:
		werr = renderComponent(c, status, views.ErrorPage(status, title, msg))
	}
	if werr != nil {
		h.log.Error("write error response", "err", werr)
	}
}
