package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// transport is the HTTP side every gateway client shares: one request with
// the API key, retries with backoff for idempotent calls, bounded answers
// and errors mapped to the package's Err… values without the key in them.
type transport struct {
	// provider names the gateway kind in errors.
	provider string
	baseURL  string
	// keyHeader carries apiKey on every request.
	keyHeader string
	apiKey    string
	client    *http.Client
	// attempts is how many times an idempotent call is tried.
	attempts   int
	backoff    time.Duration
	maxBackoff time.Duration
	// statusError maps a non-2xx answer to the package errors; each
	// gateway words its errors its own way.
	statusError func(t *transport, c call, status int, data []byte) error
}

// transportConfig is what a client's configuration gives its transport.
type transportConfig struct {
	provider, baseURL, keyHeader, apiKey string
	client                               *http.Client
	attempts                             int
	backoff, maxBackoff                  time.Duration
	statusError                          func(t *transport, c call, status int, data []byte) error
}

// newTransport fills in the defaults: a 30 s timeout, 3 attempts, backoff
// from 500 ms doubling up to 5 s.
func newTransport(c transportConfig) transport {
	t := transport{provider: c.provider, baseURL: strings.TrimRight(c.baseURL, "/"), keyHeader: c.keyHeader, apiKey: c.apiKey,
		client: c.client, attempts: c.attempts, backoff: c.backoff, maxBackoff: c.maxBackoff, statusError: c.statusError}
	if t.client == nil {
		t.client = &http.Client{Timeout: 30 * time.Second}
	}
	if t.attempts <= 0 {
		t.attempts = 3
	}
	if t.backoff <= 0 {
		t.backoff = 500 * time.Millisecond
	}
	if t.maxBackoff <= 0 {
		t.maxBackoff = 5 * time.Second
	}
	return t
}

// GatewayError is an error answered by, or on the way to, the gateway. It
// wraps one of the package's Err… values; check those with errors.Is.
type GatewayError struct {
	// Provider is the kind of gateway (ProviderWAHA, ProviderEvolution).
	Provider string
	// Op is the operation, e.g. "send text".
	Op string
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	// Message is the gateway's own explanation, trimmed.
	Message string
	// RetryIn is how long the gateway asked us to wait (Retry-After), 0
	// when it did not say.
	RetryIn time.Duration

	kind  error
	cause error
}

func (e *GatewayError) Error() string {
	var b strings.Builder
	if e.Provider != "" {
		b.WriteString(e.Provider)
	} else {
		b.WriteString("gateway")
	}
	b.WriteString(" ")
	b.WriteString(e.Op)
	if e.kind != nil {
		b.WriteString(": ")
		b.WriteString(e.kind.Error())
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	return b.String()
}

// RetryAfter is how long the gateway asked us to wait before trying again;
// job retries honour it.
func (e *GatewayError) RetryAfter() time.Duration { return e.RetryIn }

// Unwrap returns the package error and the cause, if any.
func (e *GatewayError) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.kind, e.cause} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// call is one API request.
type call struct {
	op     string
	method string
	path   string // escaped, from /api
	query  url.Values
	body   any
	accept string // default application/json
	// retry marks idempotent calls, tried up to w.attempts times.
	retry bool
	// sessionPath: a 404 means the session does not exist.
	sessionPath bool
	// limit bounds a successful answer's body (default maxResponse); a
	// larger one is ErrTooLarge, never read whole.
	limit int64
	// fullURL, when set, is requested instead of baseURL + path.
	fullURL string
}

// response is a successful (2xx) answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// maxResponse bounds what is read of an answer (QR images are small).
const maxResponse = 8 << 20

func (w *transport) do(ctx context.Context, c call) (response, error) {
	var payload []byte
	if c.body != nil {
		var err error
		if payload, err = json.Marshal(c.body); err != nil {
			return response{}, w.fail(c.op, ErrBadRequest, 0, "", err)
		}
	}
	attempts := 1
	if c.retry {
		attempts = w.attempts
	}
	var last error
	for i := range attempts {
		if i > 0 {
			if err := sleep(ctx, w.delay(i)); err != nil {
				var ge *GatewayError
				errors.As(last, &ge)
				return response{}, &GatewayError{Provider: w.provider, Op: c.op, Status: ge.Status, Message: ge.Message, kind: ErrUnavailable, cause: err}
			}
		}
		resp, err := w.once(ctx, c, payload)
		if err == nil {
			return resp, nil
		}
		last = err
		if !errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			return response{}, err
		}
	}
	return response{}, last
}

// once sends the request one time. Transport errors and 5xx give
// ErrUnavailable, which do may retry.
func (w *transport) once(ctx context.Context, c call, payload []byte) (response, error) {
	u := w.baseURL + c.path
	if c.fullURL != "" {
		u = c.fullURL
	}
	if len(c.query) > 0 {
		u += "?" + c.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, u, body)
	if err != nil {
		return response{}, w.fail(c.op, ErrBadRequest, 0, "", err)
	}
	req.Header.Set(w.keyHeader, w.apiKey)
	accept := c.accept
	if accept == "" {
		accept = "application/json"
	}
	req.Header.Set("Accept", accept)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := w.client.Do(req)
	if err != nil {
		return response{}, w.fail(c.op, ErrUnavailable, 0, "", err)
	}
	defer res.Body.Close()
	limit := c.limit
	if limit <= 0 {
		limit = maxResponse
	}
	ok := res.StatusCode >= 200 && res.StatusCode < 300
	if ok && res.ContentLength > limit {
		return response{}, w.fail(c.op, ErrTooLarge, res.StatusCode, fmt.Sprintf("%d bytes, over %d", res.ContentLength, limit), nil)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return response{}, w.fail(c.op, ErrUnavailable, res.StatusCode, "", err)
	}
	if ok && int64(len(data)) > limit {
		return response{}, w.fail(c.op, ErrTooLarge, res.StatusCode, fmt.Sprintf("over %d bytes", limit), nil)
	}
	if ok {
		return response{status: res.StatusCode, header: res.Header, body: data}, nil
	}
	err = w.statusError(w, c, res.StatusCode, data)
	var ge *GatewayError
	if errors.As(err, &ge) {
		ge.RetryIn = retryAfter(res.Header.Get("Retry-After"), time.Now())
	}
	return response{}, err
}

// retryAfter reads a Retry-After header (seconds, or an HTTP date); 0 when
// there is none.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// fail builds a GatewayError, making sure the API key appears nowhere in it.
func (w *transport) fail(op string, kind error, status int, msg string, cause error) error {
	if msg == "" && cause != nil {
		msg = cause.Error()
	}
	if w.apiKey != "" {
		msg = strings.ReplaceAll(msg, w.apiKey, "[redacted]")
	}
	msg = strings.Join(strings.Fields(msg), " ")
	if r := []rune(msg); len(r) > 300 {
		msg = string(r[:300]) + "…"
	}
	return &GatewayError{Provider: w.provider, Op: op, Status: status, Message: msg, kind: kind, cause: unwrapCause(cause)}
}

// unwrapCause keeps what callers may test for (context errors) without
// repeating the transport error's text, which is already in the message.
func unwrapCause(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return context.Canceled
	}
	return nil
}

// firstText returns the first of raw JSON values that holds text: a string,
// or a list of strings (NestJS validation messages) joined.
func firstText(raws ...json.RawMessage) string {
	for _, raw := range raws {
		var s string
		if json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
		var list []string
		if json.Unmarshal(raw, &list) == nil && len(list) > 0 {
			return strings.Join(list, "; ")
		}
	}
	return ""
}

// delay is the wait before retry i (1-based): exponential, capped, with
// jitter so that many workers do not retry in step.
func (w *transport) delay(i int) time.Duration {
	d := w.backoff << (i - 1)
	if d > w.maxBackoff || d <= 0 {
		d = w.maxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// decode reads a JSON answer into v. An empty body (WAHA's way to say
// "nothing" on some endpoints) leaves v as it is.
func decode(op string, r response, v any) error {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return &GatewayError{Op: op, Status: r.status, Message: "unreadable answer: " + err.Error(), kind: ErrUnavailable}
	}
	return nil
}

// segment escapes one path segment. Everything but unreserved characters is
// escaped, '@' of chat ids included.
func segment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
