package app

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// healthz answers while the process is up.
func (h *handler) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok")
}

// readyz answers 200 when PostgreSQL and Redis are reachable, 503 otherwise,
// naming what failed.
func (h *handler) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "redis": "ok"}
	status := http.StatusOK
	if err := h.store.DB().PingContext(ctx); err != nil {
		checks["postgres"], status = "unreachable", http.StatusServiceUnavailable
	}
	if err := h.redis.Ping(ctx).Err(); err != nil {
		checks["redis"], status = "unreachable", http.StatusServiceUnavailable
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, checks)
}

// metricsEndpoint serves Prometheus metrics, behind a bearer token when one
// is configured.
func (h *handler) metricsEndpoint(c echo.Context) error {
	if h.opts.MetricsToken != "" && !bearerOK(c.Request(), h.opts.MetricsToken) {
		return Errorf(EUnauthorized, "A bearer token is required.")
	}
	h.metrics.Handler().ServeHTTP(c.Response(), c.Request())
	return nil
}
