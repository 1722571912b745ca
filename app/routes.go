package app

import (
	"strings"

	"github.com/hibiken/asynqmon"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/myaibud/aibud/static"
	"github.com/myaibud/aibud/views"
)

// streaming reports whether a request is a long-lived stream, which must not
// be gzipped (it would buffer) or cut off by the request timeout.
func streaming(c echo.Context) bool {
	return c.Request().URL.Path == views.PathEvents
}

// routes registers every route, grouped by the middleware they need.
func (h *handler) routes(e *echo.Echo, d Deps) {
	e.Use(
		middleware.RequestID(),
		h.requestLog,
		middleware.Recover(),
		h.secureHeaders,
		middleware.BodyLimit(h.opts.BodyLimit),
		middleware.GzipWithConfig(middleware.GzipConfig{Skipper: streaming}),
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{
			Skipper: func(c echo.Context) bool {
				return streaming(c) || strings.HasPrefix(c.Request().URL.Path, views.PathAdminQueues)
			},
			Timeout: h.opts.RequestTimeout,
		}),
	)

	// Public: no session.
	e.GET(views.PathHealthz, h.healthz)
	e.GET(views.PathReadyz, h.readyz)
	e.GET(views.PathMetrics, h.metricsEndpoint)
	e.GET(views.PathStaticPrefix+"*", echo.WrapHandler(static.Handler()))

	// Web: session, CSRF and the signed-in user when there is one.
	web := e.Group("", h.loadSession, h.csrf(), h.loadPrincipal)
	web.GET(views.PathHome, h.home)
	web.GET(views.PathSignUp, h.newSignUp)
	web.POST(views.PathSignUp, h.createSignUp)
	web.GET(views.PathSignIn, h.newSignIn)
	web.POST(views.PathSignIn, h.createSignIn)
	web.POST(views.PathSignOut, h.signOut)

	// Tenant: a signed-in user of an active tenant.
	tenant := web.Group("", h.requireUser)
	tenant.GET(views.PathDashboard, h.showDashboard)
	tenant.GET(views.PathDashCredits, h.dashboardCredits)
	tenant.GET(views.PathCreditBadge, h.creditBadge)
	tenant.GET(views.PathCredits, h.showCredits)
	tenant.GET(views.PathEvents, h.events)

	// Platform owners.
	admin := tenant.Group("", h.requireOwner)
	queues := asynqmon.New(asynqmon.Options{RootPath: views.PathAdminQueues, RedisConnOpt: d.AsynqOpt})
	admin.Any(views.PathAdminQueues, echo.WrapHandler(queues), h.relaxedCSP)
	admin.Any(views.PathAdminQueues+"/*", echo.WrapHandler(queues), h.relaxedCSP)
}
