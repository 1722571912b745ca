package views

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Paths of pages and partials. Handlers and templates both use these, so a
// route and its links change together.
const (
	PathHome           = "/"
	PathSignUp         = "/sign-up"
	PathSignIn         = "/sign-in"
	PathSignOut        = "/sign-out"
	PathDashboard      = "/dashboard"
	PathCredits        = "/credits"
	PathCreditBadge    = "/partials/credit-badge"
	PathDashCredits    = "/dashboard/credits"
	PathCreditsSummary = "/credits/summary"
	PathDashNumbers    = "/dashboard/numbers"
	PathDashActivity   = "/dashboard/activity"
	PathDashHandoffs   = "/dashboard/handoffs"
	PathDashCampaigns  = "/dashboard/campaigns"
	PathDashWeek       = "/dashboard/week"
	PathEvents         = "/events"
	PathAdminQueues    = "/admin/queues"
	PathAdminNodes     = "/admin/nodes"
	PathAdminAI        = "/admin/ai"
	PathAdminFailures  = "/admin/failures"
	PathInstances      = "/instances"
	PathContacts       = "/contacts"
	PathSettings       = "/settings"
	PathSettingsReset  = "/settings/reset"
	PathKnowledge      = "/settings/knowledge"
	PathWebhookWAHA    = "/api/webhooks/whatsapp"
	// PathWebhookEvolution receives Evolution API's webhooks.
	PathWebhookEvolution = "/api/webhooks/evolution"
	PathHealthz          = "/healthz"
	PathReadyz           = "/readyz"
	PathMetrics          = "/metrics"
	PathStaticPrefix     = "/static/"
)

// Paths of billing. PathBillingCheckout, PathBillingTopUp and
// PathBillingPortal answer with a redirect to Stripe; PathWebhookStripe
// receives Stripe's events.
const (
	PathBilling         = "/billing"
	PathBillingCheckout = "/billing/checkout"
	PathBillingTopUp    = "/billing/top-up"
	PathBillingPortal   = "/billing/portal"
	PathWebhookStripe   = "/api/webhooks/stripe"
)

// Paths of the account page and of password resets.
const (
	PathAccount        = "/account"
	PathAccountProfile = "/account/profile"
	PathAccountLogin   = "/account/login"
	PathPasswordForgot = "/password/forgot"
	PathPasswordReset  = "/password/reset"
)

// Element ids of the account page's forms.
const (
	IDProfileForm = "profile-form"
	IDLoginForm   = "login-form"
)

// Element ids of the layout: the main content (the skip link's target)
// and the region that announces what a swap says (app.js fills it).
const (
	IDMain     = "main"
	IDAnnounce = "announce"
)

// Element ids that htmx swaps target.
const (
	IDFlash          = "flash"
	IDLedger         = "ledger"
	IDAuthForm       = "auth-form"
	IDCreditBadge    = "credit-badge"
	IDDashCredits    = "dash-credits"
	IDCreditsSummary = "credits-summary"
	IDInstanceList   = "instance-list"
	IDInstancePanel  = "instance-panel"
	IDInstanceForm   = "instance-form"
	IDNodeList       = "node-list"
	IDDashNumbers    = "dash-numbers"
	IDDashActivity   = "dash-activity"
	IDDashHandoffs   = "dash-handoffs"
	IDDashWeek       = "dash-week"
	IDQuestionList   = "question-list"
	IDContactList    = "contact-list"
	IDContactHeader  = "contact-header"
	IDMessageList    = "messages"
	IDReplyForm      = "reply-form"
	IDKnowledge      = "knowledge"
	IDSettingsForm   = "settings-form"
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

// PasswordResetPath is the link a reset email carries. The token is in the
// query, which the request log leaves out (it logs the path only).
func PasswordResetPath(token string) string {
	return PathPasswordReset + "?token=" + url.QueryEscape(token)
}

// CreditsPagePath returns the URL of one page of the ledger.
func CreditsPagePath(page int) string {
	if page <= 1 {
		return PathCredits
	}
	return PathCredits + "?page=" + strconv.Itoa(page)
}

// InstancePath is the page of one WhatsApp number.
func InstancePath(id int64) string { return PathInstances + "/" + strconv.FormatInt(id, 10) }

// InstanceActionPath is a sub-path of an instance, e.g. "qr", "logout".
func InstanceActionPath(id int64, action string) string { return InstancePath(id) + "/" + action }

// NodePath is an owner's action on a gateway node.
func NodePath(id int64, action string) string {
	return PathAdminNodes + "/" + strconv.FormatInt(id, 10) + "/" + action
}

// QRImageID is the id of an instance's QR image element.
func QRImageID(id int64) string { return "qr-" + strconv.FormatInt(id, 10) }

// ContactPath is a contact's conversation.
func ContactPath(id int64) string { return PathContacts + "/" + strconv.FormatInt(id, 10) }

// ContactActionPath is a sub-path of a contact, e.g. "reply", "mode".
func ContactActionPath(id int64, action string) string { return ContactPath(id) + "/" + action }

// KnowledgePath is an action on a knowledge entry.
func KnowledgePath(id int64, action string) string {
	return PathKnowledge + "/" + strconv.FormatInt(id, 10) + "/" + action
}

// KnowledgeEntryID is the element id of a knowledge entry.
func KnowledgeEntryID(id int64) string { return "knowledge-" + strconv.FormatInt(id, 10) }

// KnowledgeFieldID is the id of a field of a knowledge entry's form (id 0:
// the form adding one), unique on the page so each label focuses its own
// field.
func KnowledgeFieldID(id int64, field string) string {
	if id == 0 {
		return "knowledge-new-" + field
	}
	return KnowledgeEntryID(id) + "-" + field
}

// live is the hx-trigger of a region kept current by live updates: it is
// re-fetched on the named events, which the stream also sends when it
// (re)connects for those published while it was not connected (e.g. a
// number connected before its page's stream opened), and on "resync" when
// the stream cannot tell what was missed.
func live(events string) string {
	var b strings.Builder
	for _, e := range strings.Split(events, ",") {
		b.WriteString("sse:" + strings.TrimSpace(e) + ", ")
	}
	b.WriteString("sse:resync")
	return b.String()
}

// EventsPath is the live-updates stream of a page whose data was read at
// since: on opening, the stream tells which events the page may have
// missed (or "resync" when it cannot tell), instead of every live region
// re-fetching.
func EventsPath(since time.Time) string {
	return PathEvents + "?since=" + strconv.FormatInt(since.UnixMilli(), 10)
}

// Paths of the campaign wizard: the list, the new draft, and each draft's
// steps.
const (
	PathCampaigns   = "/campaigns"
	PathCampaignNew = "/campaigns/new"
)

// The campaign wizard's steps, in order; each is a page under
// CampaignStepPath.
const (
	StepUpload  = "upload"
	StepMap     = "map"
	StepReview  = "review"
	StepMessage = "message"
	StepSend    = "send"
)

// CampaignSteps lists the wizard's steps in order.
var CampaignSteps = []string{StepUpload, StepMap, StepReview, StepMessage, StepSend}

// CampaignPath is a launched campaign's page (a draft's redirects to its
// step).
func CampaignPath(id int64) string { return PathCampaigns + "/" + strconv.FormatInt(id, 10) }

// CampaignActionPath is a campaign's sub-path: an action (pause, resume,
// cancel, retry), a partial (progress, tally, recipients, estimate) or a
// download (results.csv).
func CampaignActionPath(id int64, action string) string { return CampaignPath(id) + "/" + action }

// CampaignStepPath is the page of one step of a draft.
func CampaignStepPath(id int64, step string) string {
	return PathCampaigns + "/" + strconv.FormatInt(id, 10) + "/" + step
}

// CampaignReportPath is a draft's clean-up report download.
func CampaignReportPath(id int64) string { return CampaignStepPath(id, "report.csv") }

// CampaignPreviewPath is the message step's live preview partial.
func CampaignPreviewPath(id int64) string { return CampaignStepPath(id, "preview") }

// CampaignImagePath is a draft's image; mediaID versions the address, so a
// replaced image is fetched anew.
func CampaignImagePath(id, mediaID int64) string {
	return CampaignStepPath(id, "image") + "?v=" + strconv.FormatInt(mediaID, 10)
}

// PathMedia is where a tenant's files (a sent message's image) are served.
const PathMedia = "/media"

// MediaPath is one of the tenant's files.
func MediaPath(id int64) string { return PathMedia + "/" + strconv.FormatInt(id, 10) }

// Element ids of the campaign wizard.
const (
	IDCampaignPreview    = "campaign-preview"
	IDMessageForm        = "message-form"
	IDSendEstimate       = "send-estimate"
	IDCampaignProgress   = "campaign-progress"
	IDCampaignTally      = "campaign-tally"
	IDCampaignRecipients = "campaign-recipients"
	IDDashboardCampaigns = "dashboard-campaigns"
)
