package views

import (
	"net/url"
	"strconv"
)

// Paths of pages and partials. Handlers and templates both use these, so a
// route and its links change together.
const (
	PathHome         = "/"
	PathSignUp       = "/sign-up"
	PathSignIn       = "/sign-in"
	PathSignOut      = "/sign-out"
	PathDashboard    = "/dashboard"
	PathCredits      = "/credits"
	PathCreditBadge  = "/partials/credit-badge"
	PathDashCredits  = "/dashboard/credits"
	PathEvents       = "/events"
	PathAdminQueues  = "/admin/queues"
	PathHealthz      = "/healthz"
	PathReadyz       = "/readyz"
	PathMetrics      = "/metrics"
	PathStaticPrefix = "/static/"
)

// Element ids that htmx swaps target.
const (
	IDFlash         = "flash"
	IDLedger        = "ledger"
	IDAuthForm      = "auth-form"
	IDCreditBadge   = "credit-badge"
	IDCreditBalance = "credit-balance"
)

// Target returns the CSS selector of an element id, for hx-target.
func Target(id string) string { return "#" + id }

// SignInPath returns the sign-in URL that leads back to next afterwards.
func SignInPath(next string) string {
	if next == "" || next == PathDashboard {
		return PathSignIn
	}
	return PathSignIn + "?next=" + url.QueryEscape(next)
}

// CreditsPagePath returns the URL of one page of the ledger.
func CreditsPagePath(page int) string {
	if page <= 1 {
		return PathCredits
	}
	return PathCredits + "?page=" + strconv.Itoa(page)
}
