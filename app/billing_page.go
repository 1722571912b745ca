package app

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/billing"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// invoicesShown is how many recent invoices /billing lists.
const invoicesShown = 12

func (h *handler) showBilling(c echo.Context) error {
	vm, err := h.billingView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.BillingPage(h.shell(c, "Billing", views.NavBilling), vm), nil)
}

// billingView reads the plans, packs and the tenant's subscription; the
// invoices come from Stripe, and a failure there only hides them.
func (h *handler) billingView(c echo.Context) (views.Billing, error) {
	ctx, ts, t := c.Request().Context(), tenantStore(c), mustPrincipal(c).tenant
	plans, err := h.store.PlansList(ctx, false)
	if err != nil {
		return views.Billing{}, err
	}
	packs, err := h.store.CreditPacks(ctx)
	if err != nil {
		return views.Billing{}, err
	}
	insts, err := ts.Instances(ctx)
	if err != nil {
		return views.Billing{}, err
	}
	st := billing.StateOf(t)
	vm := views.Billing{
		Enabled: h.billing != nil, Plan: st.Plan, PendingPlan: st.PendingPlan, PeriodEnd: st.PeriodEnd,
		Credits: t.CreditBalance, NumbersUsed: len(insts),
		CostAIReply: h.opts.CostAIReply, CostAIMediaReply: h.opts.CostAIMediaReply, CostMessage: h.opts.CostMessage, Location: t.Location(),
		HasCustomer: t.StripeCustomerID != nil, Subscribed: subscribed(t),
		Notice: checkoutNotice(c.QueryParam("checkout")), SupportEmail: h.opts.SupportEmail,
	}
	for _, p := range plans {
		vm.Plans = append(vm.Plans, views.BillingPlan{ID: p.ID, Name: p.Name, PriceCents: p.PriceCents, Currency: p.Currency,
			MonthlyCredits: p.MonthlyCredits, InstanceLimit: p.InstanceLimit})
	}
	for _, p := range packs {
		vm.Packs = append(vm.Packs, views.BillingPack{ID: p.ID, Credits: p.Credits, PriceCents: p.PriceCents, Currency: p.Currency})
	}
	if h.billing != nil && vm.HasCustomer {
		vm.Invoices, vm.InvoicesFailed = h.invoices(ctx, *t.StripeCustomerID)
	}
	return vm, nil
}

func (h *handler) invoices(ctx context.Context, customerID string) ([]views.BillingInvoice, bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	invs, err := h.billing.Invoices(ctx, customerID, invoicesShown)
	if err != nil {
		h.log.WarnContext(ctx, "list stripe invoices", "err", err)
		return nil, true
	}
	out := make([]views.BillingInvoice, len(invs))
	for i, inv := range invs {
		out[i] = views.BillingInvoice(inv)
	}
	return out, false
}

// subscribed reports whether the tenant pays a subscription now: plan
// changes then go through the customer portal, not a second Checkout.
func subscribed(t *db.Tenant) bool {
	switch t.SubscriptionStatus {
	case billing.StatusActive, billing.StatusTrialing, billing.StatusPastDue, billing.StatusUnpaid:
		return t.StripeCustomerID != nil
	}
	return false
}

func checkoutNotice(v string) string {
	switch v {
	case "success":
		return "Thank you: your payment went through. New credits and plan changes show here within a minute."
	case "cancel":
		return "Checkout was cancelled: nothing was charged."
	case "portal":
		return "Back from the billing portal. Changes you made there show here within a minute."
	}
	return ""
}

// errBillingOff answers the billing POSTs when Stripe is not configured.
var errBillingOff = Errorf(EInvalid, "Billing is not configured on this server.")

// checkout is what every Checkout session of the tenant shares.
func (h *handler) checkout(c echo.Context) billing.Checkout {
	p := mustPrincipal(c)
	base := h.opts.BaseURL.String() + views.PathBilling
	co := billing.Checkout{TenantID: p.tenant.ID, Email: p.user.Email, SuccessURL: base + "?checkout=success", CancelURL: base + "?checkout=cancel"}
	if p.tenant.StripeCustomerID != nil {
		co.CustomerID = *p.tenant.StripeCustomerID
	}
	return co
}

// createCheckout sends the tenant to Checkout for a paid plan; a tenant
// already subscribed changes plan in the customer portal instead.
func (h *handler) createCheckout(c echo.Context) error {
	if h.billing == nil {
		return errBillingOff
	}
	plan, err := h.store.Plan(c.Request().Context(), c.FormValue("plan"))
	if errors.Is(err, db.ErrNotFound) || (err == nil && (!plan.Active || plan.PriceCents == 0)) {
		return Errorf(EInvalid, "Choose one of the paid plans.")
	}
	if err != nil {
		return err
	}
	if subscribed(mustPrincipal(c).tenant) {
		return h.openPortal(c)
	}
	url, err := h.billing.SubscriptionCheckout(c.Request().Context(), h.checkout(c), plan.ID, billing.Price{
		StripePriceID: plan.StripePriceID, Name: "My Aibud " + plan.Name, AmountCents: plan.PriceCents, Currency: plan.Currency,
	})
	if err != nil {
		return err
	}
	return redirect(c, url)
}

// createTopUp sends the tenant to Checkout for a credit pack.
func (h *handler) createTopUp(c echo.Context) error {
	if h.billing == nil {
		return errBillingOff
	}
	id, _ := strconv.ParseInt(c.FormValue("pack"), 10, 64)
	pack, err := h.store.CreditPack(c.Request().Context(), id)
	if errors.Is(err, db.ErrNotFound) {
		return Errorf(EInvalid, "Choose one of the credit packs.")
	}
	if err != nil {
		return err
	}
	url, err := h.billing.TopUpCheckout(c.Request().Context(), h.checkout(c), pack.ID, pack.Credits, billing.Price{
		StripePriceID: pack.StripePriceID, Name: views.Number(pack.Credits) + " My Aibud credits",
		AmountCents: pack.PriceCents, Currency: pack.Currency,
	})
	if err != nil {
		return err
	}
	return redirect(c, url)
}

// openPortal sends a tenant that is a Stripe customer to Stripe's customer
// portal (card, invoices, plan changes, cancelling).
func (h *handler) openPortal(c echo.Context) error {
	if h.billing == nil {
		return errBillingOff
	}
	t := mustPrincipal(c).tenant
	if t.StripeCustomerID == nil {
		return Errorf(EInvalid, "Subscribe to a plan or buy credits first: the billing portal opens after your first payment.")
	}
	url, err := h.billing.PortalURL(c.Request().Context(), *t.StripeCustomerID, h.opts.BaseURL.String()+views.PathBilling+"?checkout=portal")
	if err != nil {
		return err
	}
	return redirect(c, url)
}
