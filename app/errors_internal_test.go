package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/metrics"
)

// TestCancelledRequestsAreNotServerErrors: a request the browser cancelled
// is logged at INFO as 499, not as an ERROR 500.
func TestCancelledRequestsAreNotServerErrors(t *testing.T) {
	var logs bytes.Buffer
	h := &handler{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), metrics: metrics.New()}
	e := echo.New()
	e.HTTPErrorHandler = h.handleError
	ctx, cancel := context.WithCancel(context.Background())
	e.GET("/slow", func(c echo.Context) error {
		cancel() // the browser goes away while the page is being made
		return fmt.Errorf("load contacts: %w", c.Request().Context().Err())
	}, h.requestLog)
	e.GET("/broken", func(echo.Context) error { return errors.New("boom") }, h.requestLog)

	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/slow", nil).WithContext(ctx))
	if out := logs.String(); !strings.Contains(out, "level=INFO") || !strings.Contains(out, "status=499") {
		t.Errorf("cancelled request logged as:\n%s", out)
	}
	logs.Reset()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/broken", nil))
	if out := logs.String(); rec.Code != http.StatusInternalServerError || !strings.Contains(out, "level=ERROR") {
		t.Errorf("a real failure: %d, logged as:\n%s", rec.Code, out)
	}
}
