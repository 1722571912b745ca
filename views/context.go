package views

import "context"

// ctxKey is the type of the few request-wide values views read.
type ctxKey int

const (
	csrfKey ctxKey = iota
)

// WithCSRF stores the CSRF token forms and htmx requests must send back.
func WithCSRF(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, csrfKey, token)
}

// CSRF returns the request's CSRF token, or "" when none was set.
func CSRF(ctx context.Context) string {
	s, _ := ctx.Value(csrfKey).(string)
	return s
}

// csrfHeaders is the hx-headers value that makes htmx send the token.
func csrfHeaders(ctx context.Context) string {
	return `{"X-CSRF-Token":"` + CSRF(ctx) + `"}`
}
