package app

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/static"
	"github.com/myaibud/aibud/views"
)

// streaming reports whether a request is a long-lived stream, which must not
// be gzipped (it would buffer) or cut off by the request timeout.
func streaming(c echo.Context) bool {
	return c.Request().URL.Path == views.PathEvents
}

// uploading reports whether a request is a campaign file upload, which has
// its own larger body limit and longer timeout on its route.
func uploading(c echo.Context) bool {
	return c.Request().Method == http.MethodPost && c.Path() == campaignUploadRoute
}

// ownBodyLimit reports whether a request's route sets its own, larger,
// body limit: the campaign file upload and the message step (an image).
func ownBodyLimit(c echo.Context) bool {
	return uploading(c) || (c.Request().Method == http.MethodPost && c.Path() == campaignMessageRoute)
}

// servingMedia reports whether a request is for a stored image, which is
// compressed already: gzip would spend CPU for nothing.
func servingMedia(c echo.Context) bool {
	return c.Path() == views.PathMedia+"/:id" || c.Path() == campaignImageRoute
}

// routes registers every route, grouped by the middleware they need.
func (h *handler) routes(e *echo.Echo, d Deps) {
	e.Use(
		middleware.RequestID(),
		h.requestLog,
		middleware.Recover(),
		h.secureHeaders,
		middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Skipper: ownBodyLimit, Limit: h.opts.BodyLimit}),
		// API answers (webhook acknowledgements) are a few bytes: the
		// middleware sets up a compressor per request even when it then
		// skips, which cost a quarter of the webhook's CPU.
		middleware.GzipWithConfig(middleware.GzipConfig{
			Skipper: func(c echo.Context) bool {
				return streaming(c) || servingMedia(c) || strings.HasPrefix(c.Request().URL.Path, "/api/")
			},
		}),
		middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{
			Skipper: func(c echo.Context) bool {
				return streaming(c) || uploading(c) || strings.HasPrefix(c.Request().URL.Path, views.PathAdminQueues)
			},
			Timeout: h.opts.RequestTimeout,
		}),
	)

	// Public: no session.
	e.GET(views.PathHealthz, h.healthz)
	e.GET(views.PathReadyz, h.readyz)
	e.GET(views.PathMetrics, h.metricsEndpoint)
	e.GET(views.PathStaticPrefix+"*", echo.WrapHandler(static.Handler()))

	// Middleware chains per route rather than echo groups: a group with
	// middleware adds catch-all routes, which would turn unknown URLs into
	// sign-in redirects instead of 404s.
	web := []echo.MiddlewareFunc{h.loadSession, h.csrf(), h.loadPrincipal}
	tenant := slices.Concat(web, []echo.MiddlewareFunc{h.requireUser})
	admin := slices.Concat(tenant, []echo.MiddlewareFunc{h.requireOwner, h.relaxedCSP})

	// Web: session, CSRF and the signed-in user when there is one.
	e.GET(views.PathHome, h.landing, web...)
	e.GET(views.PathSignUp, h.newSignUp, web...)
	e.POST(views.PathSignUp, h.createSignUp, web...)
	e.GET(views.PathSignIn, h.newSignIn, web...)
	e.POST(views.PathSignIn, h.createSignIn, web...)
	e.POST(views.PathSignOut, h.signOut, web...)
	e.GET(views.PathPasswordForgot, h.newPasswordReset, web...)
	e.POST(views.PathPasswordForgot, h.createPasswordReset, web...)
	e.GET(views.PathPasswordReset, h.editPassword, web...)
	e.POST(views.PathPasswordReset, h.updatePassword, web...)

	// Tenant: a signed-in user (of a suspended tenant too: it reads its
	// pages, and what suspension stops is decided where the work is done).
	e.GET(views.PathDashboard, h.showDashboard, tenant...)
	e.GET(views.PathDashCredits, h.dashboardCredits, tenant...)
	e.GET(views.PathCreditBadge, h.creditBadge, tenant...)
	e.GET(views.PathCredits, h.showCredits, tenant...)
	e.GET(views.PathCreditsSummary, h.creditsSummaryPart, tenant...)
	e.GET(views.PathDashNumbers, h.dashboardNumbers, tenant...)
	e.GET(views.PathDashActivity, h.dashboardActivity, tenant...)
	e.GET(views.PathDashHandoffs, h.dashboardHandoffs, tenant...)
	e.GET(views.PathDashCampaigns, h.dashboardCampaigns, tenant...)
	e.GET(views.PathDashWeek, h.dashboardWeek, tenant...)
	e.GET(views.PathEvents, h.events, tenant...)

	e.GET(views.PathInstances, h.listInstances, tenant...)
	e.POST(views.PathInstances, h.createInstance, tenant...)
	e.GET(views.PathInstances+"/:id", h.showInstance, tenant...)
	e.GET(views.PathInstances+"/:id/panel", h.instancePanel, tenant...)
	e.GET(views.PathInstances+"/:id/qr", h.instanceQR, tenant...)
	e.GET(views.PathInstances+"/:id/qr.png", h.instanceQRPNG, tenant...)
	e.POST(views.PathInstances+"/:id/pairing-code", h.requestPairingCode, tenant...)
	e.POST(views.PathInstances+"/:id/reconnect", h.reconnectInstance, tenant...)
	e.POST(views.PathInstances+"/:id/logout", h.logoutInstance, tenant...)
	e.POST(views.PathInstances+"/:id/rename", h.renameInstance, tenant...)
	e.POST(views.PathInstances+"/:id/delete", h.deleteInstance, tenant...)

	e.GET(views.PathContacts, h.listContacts, tenant...)
	e.GET(views.PathContacts+"/:id", h.showContact, tenant...)
	e.GET(views.PathContacts+"/:id/header", h.contactHeader, tenant...)
	e.GET(views.PathContacts+"/:id/messages", h.contactMessages, tenant...)
	e.POST(views.PathContacts+"/:id/reply", h.replyToContact, tenant...)
	e.POST(views.PathContacts+"/:id/mode", h.setContactMode, tenant...)
	e.POST(views.PathContacts+"/:id/tags", h.setContactTags, tenant...)
	e.POST(views.PathContacts+"/:id/delete", h.deleteContact, tenant...)

	e.GET(views.PathSettings, h.showSettings, tenant...)
	e.POST(views.PathSettings, h.saveSettings, tenant...)
	e.POST(views.PathSettingsReset, h.resetSettings, tenant...)
	e.POST(views.PathSettings+"/knowledge", h.createKnowledge, tenant...)
	e.POST(views.PathSettings+"/knowledge/:id/update", h.updateKnowledge, tenant...)
	e.POST(views.PathSettings+"/knowledge/:id/delete", h.deleteKnowledge, tenant...)

	e.GET(views.PathCampaigns, h.listCampaigns, tenant...)
	e.GET(views.PathCampaignNew, h.newCampaign, tenant...)
	e.POST(views.PathCampaignNew, h.createCampaign, tenant...)
	upload := slices.Concat([]echo.MiddlewareFunc{
		longDeadlines(uploadTimeout),
		middleware.BodyLimit(uploadBodyLimit),
		middleware.ContextTimeout(uploadTimeout),
	}, tenant)
	e.GET(campaignUploadRoute, h.showCampaignUpload, tenant...)
	e.POST(campaignUploadRoute, h.uploadCampaignFile, upload...)
	e.GET(views.PathCampaigns+"/:id/"+views.StepMap, h.showCampaignMap, tenant...)
	e.GET(views.PathCampaigns+"/:id/"+views.StepReview, h.showCampaignReview, tenant...)
	e.GET(views.PathCampaigns+"/:id/report.csv", h.campaignReport, tenant...)
	e.GET(views.PathCampaigns+"/:id/"+views.StepMessage, h.showCampaignMessage, tenant...)
	e.POST(campaignMessageRoute, h.saveCampaignMessage, slices.Concat([]echo.MiddlewareFunc{middleware.BodyLimit(messageBodyLimit)}, tenant)...)
	e.POST(views.PathCampaigns+"/:id/preview", h.campaignPreview, tenant...)
	e.GET(campaignImageRoute, h.campaignImage, tenant...)
	e.GET(views.PathMedia+"/:id", h.showMedia, tenant...)
	e.GET(views.PathCampaigns+"/:id/"+views.StepSend, h.showCampaignSend, tenant...)
	e.POST(views.PathCampaigns+"/:id/"+views.StepSend, h.saveCampaignSend, tenant...)
	e.POST(views.PathCampaigns+"/:id/estimate", h.campaignEstimate, tenant...)
	e.GET(views.PathCampaigns+"/:id", h.showCampaign, tenant...)
	e.GET(views.PathCampaigns+"/:id/progress", h.campaignProgress, tenant...)
	e.GET(views.PathCampaigns+"/:id/recipients", h.campaignRecipients, tenant...)
	e.GET(views.PathCampaigns+"/:id/results.csv", h.campaignResults, tenant...)
	e.POST(views.PathCampaigns+"/:id/:action", h.campaignAction, tenant...)

	e.GET(views.PathBilling, h.showBilling, tenant...)
	e.POST(views.PathBillingCheckout, h.createCheckout, tenant...)
	e.POST(views.PathBillingTopUp, h.createTopUp, tenant...)
	e.POST(views.PathBillingPortal, h.openPortal, tenant...)

	e.GET(views.PathQuestions, h.listQuestions, tenant...)
	e.POST(views.PathQuestions+"/:id/answer", h.answerQuestion, tenant...)
	e.POST(views.PathQuestions+"/:id/dismiss", h.dismissQuestion, tenant...)

	e.GET(views.PathAccount, h.showAccount, tenant...)
	e.POST(views.PathAccountProfile, h.updateProfile, tenant...)
	e.POST(views.PathAccountLogin, h.updateLogin, tenant...)

	// Gateway webhooks: no session, no CSRF; WAHA's HMAC signature, or
	// Evolution's per-instance secret header, is the check.
	e.POST(views.PathWebhookWAHA, h.whatsappWebhook(whatsapp.ProviderWAHA))
	e.POST(views.PathWebhookEvolution, h.whatsappWebhook(whatsapp.ProviderEvolution))
	// Stripe: no session, no CSRF; the Stripe-Signature header is the check.
	e.POST(views.PathWebhookStripe, h.stripeWebhook)

	// Platform owners.
	queues := echo.WrapHandler(queuesConsole(d.AsynqOpt))
	e.Any(views.PathAdminQueues, queues, admin...)
	e.Any(views.PathAdminQueues+"/*", queues, admin...)
	ownerPages := slices.Concat(tenant, []echo.MiddlewareFunc{h.requireOwner})
	e.GET(views.PathAdmin, h.showConsole, ownerPages...)
	e.GET(views.PathAdminTenants, h.listTenants, ownerPages...)
	e.GET(views.PathAdminTenants+"/:id", h.showTenant, ownerPages...)
	e.POST(views.PathAdminTenants+"/:id/"+views.TenantActionCredits, h.adjustTenantCredits, ownerPages...)
	e.POST(views.PathAdminTenants+"/:id/"+views.TenantActionSuspend, h.suspendTenant, ownerPages...)
	e.POST(views.PathAdminTenants+"/:id/"+views.TenantActionUnsuspend, h.unsuspendTenant, ownerPages...)
	e.POST(views.PathAdminTenants+"/:id/"+views.TenantActionPlan, h.changeTenantPlan, ownerPages...)
	e.POST(views.PathAdminTenants+"/:id/"+views.TenantActionPasswordReset, h.sendTenantPasswordReset, ownerPages...)
	e.POST(views.PathAdminTenants+"/:id/"+views.TenantActionViewAs, h.startViewAs, ownerPages...)
	e.POST(views.PathViewAsStop, h.stopViewAs, ownerPages...)
	e.GET(views.PathAdminAudit, h.showAudit, ownerPages...)
	e.GET(views.PathAdminPlans, h.showPlans, ownerPages...)
	e.GET(views.PathAdminPlanNew, h.newPlan, ownerPages...)
	e.POST(views.PathAdminPlanNew, h.savePlan, ownerPages...)
	e.GET(views.PathAdminPlans+"/:id", h.editPlan, ownerPages...)
	e.POST(views.PathAdminPlans+"/:id", h.savePlan, ownerPages...)
	e.GET(views.PathAdminPackNew, h.newPack, ownerPages...)
	e.POST(views.PathAdminPackNew, h.savePack, ownerPages...)
	e.GET(views.PathAdminPacks+"/:id", h.editPack, ownerPages...)
	e.POST(views.PathAdminPacks+"/:id", h.savePack, ownerPages...)
	e.GET(views.PathAdminNodes, h.listNodes, ownerPages...)
	e.GET(views.PathAdminAI, h.showAICosts, ownerPages...)
	e.GET(views.PathAdminEconomics, h.showEconomics, ownerPages...)
	e.GET(views.PathAdminFailures, h.showFailures, ownerPages...)
	e.POST(views.PathAdminNodes, h.createNode, ownerPages...)
	e.POST(views.PathAdminNodes+"/:id/update", h.updateNode, ownerPages...)
	e.POST(views.PathAdminNodes+"/:id/delete", h.deleteNode, ownerPages...)
}
