package app

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/jobs"
	"github.com/myaibud/aibud/views"
)

// consoleLedgerPerPage is the length of a page of a tenant's ledger in the
// console; consolePayments how many of its latest payments it shows.
const (
	consoleLedgerPerPage = 25
	consolePayments      = 20
)

// consoleTenant loads the tenant of the route's :id; a 404 when there is none.
func (h *handler) consoleTenant(c echo.Context) (*db.Tenant, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	return h.store.TenantByID(c.Request().Context(), id)
}

// showTenant is a tenant's page in the console: usage, ledger, numbers,
// campaigns and conversations (read-only), and the owner's actions.
func (h *handler) showTenant(c echo.Context) error {
	t, err := h.consoleTenant(c)
	if err != nil {
		return err
	}
	vm, err := h.consoleTenantView(c, t, pageParam(c, "ledger"))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ConsoleTenantPage(h.shell(c, t.Name, views.NavTenants), vm), nil)
}

// consoleTenantView reads what a tenant's console page shows. The owner
// reads the tenant's data through its own scope, named by the route.
func (h *handler) consoleTenantView(c echo.Context, t *db.Tenant, ledgerPage int) (views.ConsoleTenant, error) {
	ctx, ts := c.Request().Context(), h.store.Tenant(t.ID)
	vm := views.ConsoleTenant{ID: t.ID, Name: t.Name, Plan: t.Plan, Credits: t.CreditBalance, Status: t.Status,
		SuspendReason: t.SuspendReason, SuspendedAt: t.SuspendedAt, CreatedAt: t.CreatedAt, CreditRef: newCreditRef()}
	var err error
	if vm.Plans, err = h.planChoices(c); err != nil {
		return vm, err
	}
	if vm.Chart, err = usageChart(c, ts, time.UTC); err != nil {
		return vm, err
	}
	page := db.Page{Number: ledgerPage, PerPage: consoleLedgerPerPage}
	entries, total, err := ts.Ledger(ctx, page)
	if err != nil {
		return vm, err
	}
	vm.Ledger = ledgerView(entries, total, page.Normalize(), time.UTC).Entries
	vm.LedgerPager = views.Pager{Page: page.Normalize().Number, Pages: pages(total, consoleLedgerPerPage), Total: total, URL: views.AdminTenantLedgerPath(t.ID)}
	if vm.Payments, err = paymentRows(c, ts); err != nil {
		return vm, err
	}
	if vm.Emails, err = h.store.UserEmailsAllTenants(ctx, t.ID); err != nil {
		return vm, err
	}
	if err := consoleTenantActivity(c, ts, &vm); err != nil {
		return vm, err
	}
	audit, _, err := h.store.AuditLogAllTenants(ctx, db.AuditFilter{TenantID: t.ID, Page: db.Page{PerPage: 10}})
	vm.Audit = auditRows(audit)
	return vm, err
}

// paymentRows reads the tenant's latest payments.
func paymentRows(c echo.Context, ts *db.TenantStore) ([]views.PaymentRow, error) {
	ps, err := ts.Payments(c.Request().Context(), consolePayments)
	if err != nil {
		return nil, err
	}
	rows := make([]views.PaymentRow, len(ps))
	for i, p := range ps {
		kind := "Subscription invoice"
		if p.Kind == db.PaymentTopUp {
			kind = "Credit top-up"
		}
		rows[i] = views.PaymentRow{At: p.PaidAt, Kind: kind, Amount: views.MoneyIn(p.AmountCents, p.Currency), StripeID: p.StripeID}
	}
	return rows, nil
}

// consoleTenantActivity fills a tenant's numbers, campaigns and latest
// conversations.
func consoleTenantActivity(c echo.Context, ts *db.TenantStore, vm *views.ConsoleTenant) error {
	ctx := c.Request().Context()
	numbers, err := ts.Instances(ctx)
	if err != nil {
		return err
	}
	for _, n := range numbers {
		vm.Numbers = append(vm.Numbers, views.ConsoleNumber{Name: n.Name, Phone: deref(n.Phone), Status: n.Status})
	}
	campaigns, _, err := ts.Campaigns(ctx, db.Page{PerPage: 10})
	if err != nil {
		return err
	}
	for _, cp := range campaigns {
		vm.Campaigns = append(vm.Campaigns, views.ConsoleCampaign{Name: cp.Name, State: cp.State, CreatedAt: cp.CreatedAt})
	}
	convs, err := ts.RecentConversations(ctx, 10)
	if err != nil {
		return err
	}
	for _, cv := range convs {
		name := cv.Name
		if name == "" {
			name = deref(cv.Phone)
		}
		vm.Conversations = append(vm.Conversations, views.ConsoleConversation{Contact: name, LastBody: cv.LastBody,
			LastSender: cv.LastSender, At: cv.LastMessageAt})
	}
	return nil
}

// usageChart is the tenant's credits used per day over the last 30 days.
func usageChart(c echo.Context, ts *db.TenantStore, loc *time.Location) (views.BarChart, error) {
	now := time.Now()
	days, err := ts.CreditUsageByDay(c.Request().Context(), now.AddDate(0, 0, -29), now, loc)
	if err != nil {
		return views.BarChart{}, err
	}
	dates := make([]time.Time, len(days))
	values := make([]int64, len(days))
	for i, d := range days {
		dates[i], values[i] = d.Day, max(d.Net(), 0)
	}
	return views.DailyBars("Credits used per day, last 30 days", dates, values, 7), nil
}

// newCreditRef names one credit form: the ledger reference of what it
// grants, so a form sent twice grants once.
func newCreditRef() string { return "owner:" + rand.Text() }

var creditRefPattern = regexp.MustCompile(`^owner:[A-Z2-7]{26}$`)

// actor is the signed-in owner, as the audit log records them.
func actor(c echo.Context) db.Actor {
	p := mustPrincipal(c)
	return db.Actor{UserID: p.user.ID, Email: p.user.Email}
}

// creditForm is the owner's credit adjustment.
type creditForm struct {
	Amount string `form:"amount"`
	Reason string `form:"reason"`
	Ref    string `form:"ref"`
}

// Validate checks the form; amount is the credits to add (negative: remove).
func (f creditForm) Validate() (errs map[string]string, amount int64) {
	errs = map[string]string{}
	amount, err := strconv.ParseInt(strings.TrimSpace(f.Amount), 10, 64)
	if err != nil || amount == 0 || amount > 1_000_000 || amount < -1_000_000 {
		errs["amount"] = "Enter a whole number of credits between -1,000,000 and 1,000,000, not 0."
	}
	if r := strings.TrimSpace(f.Reason); r == "" || len(r) > 500 {
		errs["reason"] = "Say why, in up to 500 characters."
	}
	if !creditRefPattern.MatchString(f.Ref) {
		errs["amount"] = "The form is out of date: reload the page."
	}
	return errs, amount
}

// adjustTenantCredits grants or removes credits through the ledger, audited,
// and tells the tenant's browsers.
func (h *handler) adjustTenantCredits(c echo.Context) error {
	t, err := h.consoleTenant(c)
	if err != nil {
		return err
	}
	var f creditForm
	if err := c.Bind(&f); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	errs, amount := f.Validate()
	if len(errs) > 0 {
		return h.tenantFormFailed(c, t, views.TenantForms{Amount: f.Amount, CreditReason: f.Reason, Errors: errs})
	}
	ctx := c.Request().Context()
	_, err = h.store.AdjustCredits(ctx, actor(c), t.ID, amount, strings.TrimSpace(f.Reason), f.Ref)
	if errors.Is(err, db.ErrInsufficientCredits) {
		errs["amount"] = "The tenant has " + views.Number(t.CreditBalance) + " credits: the balance cannot go below zero."
		return h.tenantFormFailed(c, t, views.TenantForms{Amount: f.Amount, CreditReason: f.Reason, Errors: errs})
	}
	if err != nil {
		return err
	}
	if err := h.publisher.Publish(ctx, t.ID, live.CreditsUpdated, nil); err != nil {
		h.log.WarnContext(ctx, "publish live update", "event", live.CreditsUpdated, "tenant_id", t.ID, "err", err)
	}
	h.putFlash(c, "success", "Credits adjusted by "+views.Signed(amount)+".")
	return redirect(c, views.AdminTenantPath(t.ID))
}

// tenantFormFailed shows the tenant's page again with the form's errors.
func (h *handler) tenantFormFailed(c echo.Context, t *db.Tenant, forms views.TenantForms) error {
	vm, err := h.consoleTenantView(c, t, 1)
	if err != nil {
		return err
	}
	vm.Forms = forms
	return render(c, http.StatusUnprocessableEntity, views.ConsoleTenantPage(h.shell(c, t.Name, views.NavTenants), vm), nil)
}

// reasonOf reads a required reason; "" when it is missing or too long.
func reasonOf(c echo.Context) string {
	r := strings.TrimSpace(c.FormValue("reason"))
	if len(r) > 500 {
		return ""
	}
	return r
}

// suspendTenant and unsuspendTenant switch what suspension stops (see
// db.Tenant.May), audited with the reason.
func (h *handler) suspendTenant(c echo.Context) error   { return h.setSuspended(c, true) }
func (h *handler) unsuspendTenant(c echo.Context) error { return h.setSuspended(c, false) }

func (h *handler) setSuspended(c echo.Context, suspend bool) error {
	t, err := h.consoleTenant(c)
	if err != nil {
		return err
	}
	reason := reasonOf(c)
	if reason == "" {
		return h.tenantFormFailed(c, t, views.TenantForms{Errors: map[string]string{"suspend": "Say why, in up to 500 characters."}})
	}
	ctx := c.Request().Context()
	changed, err := h.store.SetSuspended(ctx, actor(c), t.ID, suspend, reason)
	if err != nil {
		return err
	}
	msg := map[bool]string{true: "Tenant suspended.", false: "Tenant reinstated."}[suspend]
	if !changed {
		msg = "Nothing to change."
	}
	h.putFlash(c, "success", msg)
	return redirect(c, views.AdminTenantPath(t.ID))
}

// planChoices are the plans of the plans table, inactive ones too (an
// owner may keep a tenant on a plan no longer on sale).
func (h *handler) planChoices(c echo.Context) ([]views.PlanChoice, error) {
	plans, err := h.store.PlansList(c.Request().Context(), true)
	if err != nil {
		return nil, err
	}
	out := make([]views.PlanChoice, len(plans))
	for i, p := range plans {
		label := fmt.Sprintf("%s (%d numbers)", p.Name, p.InstanceLimit)
		if !p.Active {
			label += " · not on sale"
		}
		out[i] = views.PlanChoice{ID: p.ID, Label: label}
	}
	return out, nil
}

// changeTenantPlan moves the tenant to another plan of the plans table,
// audited; the plan's limits apply at once (numbers beyond its limit pause).
func (h *handler) changeTenantPlan(c echo.Context) error {
	t, err := h.consoleTenant(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	planID, reason := c.FormValue("plan"), reasonOf(c)
	plan, err := h.store.Plan(ctx, planID)
	if errors.Is(err, db.ErrNotFound) || reason == "" {
		return h.tenantFormFailed(c, t, views.TenantForms{Errors: map[string]string{"plan": "Choose a plan and say why, in up to 500 characters."}})
	}
	if err != nil {
		return err
	}
	changed, err := h.store.SetPlan(ctx, actor(c), t.ID, plan.ID, reason)
	if err != nil {
		return err
	}
	if err := h.publisher.Publish(ctx, t.ID, live.CreditsUpdated, nil); err != nil {
		h.log.WarnContext(ctx, "publish live update", "event", live.CreditsUpdated, "tenant_id", t.ID, "err", err)
	}
	msg := "Plan changed to " + plan.Name + "."
	if !changed {
		msg = "The tenant is on that plan already."
	}
	h.putFlash(c, "success", msg)
	return redirect(c, views.AdminTenantPath(t.ID))
}

// sendTenantPasswordReset emails one of the tenant's users a reset link,
// through the same job as the forgotten-password page, audited.
func (h *handler) sendTenantPasswordReset(c echo.Context) error {
	t, err := h.consoleTenant(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	emails, err := h.store.UserEmailsAllTenants(ctx, t.ID)
	if err != nil {
		return err
	}
	email := db.NormalizeEmail(c.FormValue("email"))
	if !slices.Contains(emails, email) {
		return echo.ErrNotFound
	}
	// Audited first: an action is never taken unrecorded.
	if err := h.store.Audit(ctx, actor(c), t.ID, db.AuditPasswordReset, map[string]string{"email": email}, ""); err != nil {
		return err
	}
	task, err := jobs.NewSendPasswordResetTask(jobs.SendPasswordResetPayload{Email: email, IP: c.RealIP()})
	if err != nil {
		return err
	}
	if _, err := h.queue.EnqueueContext(ctx, task); err != nil {
		return fmt.Errorf("enqueue password reset: %w", err)
	}
	h.putFlash(c, "success", "A password reset link is on its way to "+email+".")
	return redirect(c, views.AdminTenantPath(t.ID))
}
