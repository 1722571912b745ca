package app

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// showPlans lists the plans and credit packs, on sale or not.
func (h *handler) showPlans(c echo.Context) error {
	ctx := c.Request().Context()
	plans, err := h.store.PlansList(ctx, true)
	if err != nil {
		return err
	}
	packs, err := h.store.CreditPacksAll(ctx)
	if err != nil {
		return err
	}
	counts, err := h.store.PlanTenantCountsAllTenants(ctx)
	if err != nil {
		return err
	}
	var vm views.Plans
	for _, p := range plans {
		vm.Plans = append(vm.Plans, views.PlanRow{ID: p.ID, Name: p.Name, Currency: p.Currency, StripePriceID: p.StripePriceID,
			PriceCents: p.PriceCents, MonthlyCredits: p.MonthlyCredits, InstanceLimit: p.InstanceLimit, SortOrder: p.SortOrder,
			Tenants: counts[p.ID], Active: p.Active})
	}
	for _, p := range packs {
		vm.Packs = append(vm.Packs, views.PackRow{ID: p.ID, Credits: p.Credits, PriceCents: p.PriceCents, Currency: p.Currency,
			StripePriceID: p.StripePriceID, SortOrder: p.SortOrder, Active: p.Active})
	}
	return render(c, http.StatusOK, views.PlansPage(h.shell(c, "Plans", views.NavPlans), vm), nil)
}

var (
	planIDPattern      = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,39}$`)
	currencyPattern    = regexp.MustCompile(`^[a-z]{3}$`)
	stripePricePattern = regexp.MustCompile(`^price_[A-Za-z0-9]{1,190}$`)
	pricePattern       = regexp.MustCompile(`^[0-9]{1,7}(\.[0-9]{1,2})?$`)
)

// parseCents reads an amount such as "29", "29.5" or "29.00" as cents.
func parseCents(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if !pricePattern.MatchString(s) {
		return 0, false
	}
	whole, frac, _ := strings.Cut(s, ".")
	w, _ := strconv.ParseInt(whole, 10, 64)
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	return w*100 + f, true
}

// centsInput formats cents for a price field.
func centsInput(cents int64) string {
	return strconv.FormatInt(cents/100, 10) + "." + strconv.FormatInt(100+cents%100, 10)[1:]
}

// formInt reads a whole number between lo and hi, or sets the field's error.
func formInt(errs map[string]string, field, s string, lo, hi int64, msg string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < lo || n > hi {
		errs[field] = msg
	}
	return n
}

// validateCommon checks the fields plans and packs share: currency, Stripe
// price, order, reason.
func validateCommon(errs map[string]string, currency, stripePrice, order, reason string) int {
	if !currencyPattern.MatchString(currency) {
		errs["currency"] = "Enter a currency as three lower-case letters, such as usd."
	}
	if stripePrice != "" && !stripePricePattern.MatchString(stripePrice) {
		errs["stripe_price_id"] = "Enter a Stripe price id (price_…), or leave it empty."
	}
	n := formInt(errs, "sort_order", order, -1000, 1000, "Enter a whole number between -1000 and 1000.")
	if r := strings.TrimSpace(reason); r == "" || len(r) > 500 {
		errs["reason"] = "Say why, in up to 500 characters."
	}
	return int(n)
}

// planInput is the plan form as sent.
type planInput struct {
	ID             string `form:"id"`
	Name           string `form:"name"`
	Price          string `form:"price"`
	Currency       string `form:"currency"`
	MonthlyCredits string `form:"monthly_credits"`
	InstanceLimit  string `form:"instance_limit"`
	StripePriceID  string `form:"stripe_price_id"`
	SortOrder      string `form:"sort_order"`
	Active         string `form:"active"`
	Reason         string `form:"reason"`
}

// form is the input shown again, with errs.
func (in planInput) form(isNew bool, errs map[string]string) views.PlanForm {
	return views.PlanForm{New: isNew, ID: in.ID, Name: in.Name, Price: in.Price, Currency: in.Currency, MonthlyCredits: in.MonthlyCredits,
		InstanceLimit: in.InstanceLimit, StripePriceID: in.StripePriceID, SortOrder: in.SortOrder, Reason: in.Reason,
		Active: in.Active == "on", Errors: errs}
}

// Validate checks the form and returns the plan it describes.
func (in planInput) Validate() (map[string]string, db.Plan) {
	errs := map[string]string{}
	p := db.Plan{ID: strings.TrimSpace(in.ID), Name: strings.TrimSpace(in.Name), Currency: strings.TrimSpace(in.Currency),
		StripePriceID: strings.TrimSpace(in.StripePriceID), Active: in.Active == "on"}
	if !planIDPattern.MatchString(p.ID) || p.ID == "new" {
		errs["id"] = "Use 1 to 40 lower-case letters, digits, - or _, starting with a letter (not \"new\")."
	}
	if p.Name == "" || len(p.Name) > 100 {
		errs["name"] = "Enter a name of up to 100 characters."
	}
	var ok bool
	if p.PriceCents, ok = parseCents(in.Price); !ok {
		errs["price"] = "Enter a price such as 29 or 29.00 (0 for a free plan)."
	}
	p.MonthlyCredits = formInt(errs, "monthly_credits", in.MonthlyCredits, 0, 100_000_000, "Enter a whole number of credits, 0 or more.")
	p.InstanceLimit = int(formInt(errs, "instance_limit", in.InstanceLimit, 0, 1000, "Enter a whole number of numbers between 0 and 1000."))
	p.SortOrder = validateCommon(errs, p.Currency, p.StripePriceID, in.SortOrder, in.Reason)
	if p.ID == db.PlanStarter {
		if !p.Active {
			errs["active"] = "Starter is the sign-up plan: it stays on sale."
		}
		if p.PriceCents != 0 {
			errs["price"] = "Starter is the free sign-up plan: its price stays 0."
		}
	}
	return errs, p
}

// newPlan is the form to add a plan.
func (h *handler) newPlan(c echo.Context) error {
	f := views.PlanForm{New: true, Currency: "usd", Price: "0.00", MonthlyCredits: "0", InstanceLimit: "1", SortOrder: "10", Active: true}
	return render(c, http.StatusOK, views.PlanFormPage(h.shell(c, "New plan", views.NavPlans), f), nil)
}

// editPlan is a plan's edit form.
func (h *handler) editPlan(c echo.Context) error {
	p, err := h.store.Plan(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	f := views.PlanForm{ID: p.ID, Name: p.Name, Price: centsInput(p.PriceCents), Currency: p.Currency,
		MonthlyCredits: strconv.FormatInt(p.MonthlyCredits, 10), InstanceLimit: strconv.Itoa(p.InstanceLimit),
		StripePriceID: p.StripePriceID, SortOrder: strconv.Itoa(p.SortOrder), Active: p.Active}
	return render(c, http.StatusOK, views.PlanFormPage(h.shell(c, p.Name, views.NavPlans), f), nil)
}

// savePlan adds a plan (no :id) or saves a plan's edit, audited; the form
// comes back with its errors at the fields.
func (h *handler) savePlan(c echo.Context) error {
	ctx := c.Request().Context()
	var in planInput
	if err := c.Bind(&in); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	isNew := c.Param("id") == ""
	if !isNew {
		if _, err := h.store.Plan(ctx, c.Param("id")); err != nil {
			return err
		}
		in.ID = c.Param("id")
	}
	errs, p := in.Validate()
	if len(errs) == 0 {
		var err error
		if isNew {
			err = h.store.CreatePlan(ctx, actor(c), &p, strings.TrimSpace(in.Reason))
		} else {
			_, err = h.store.UpdatePlan(ctx, actor(c), &p, strings.TrimSpace(in.Reason))
		}
		switch {
		case errors.Is(err, db.ErrConflict) && strings.Contains(err.Error(), "stripe_price"):
			errs["stripe_price_id"] = "Another plan is sold at this Stripe price."
		case errors.Is(err, db.ErrConflict):
			errs["id"] = "A plan with this id exists already."
		case err != nil:
			return err
		}
	}
	if len(errs) > 0 {
		return render(c, http.StatusUnprocessableEntity, views.PlanFormPage(h.shell(c, "Plan", views.NavPlans), in.form(isNew, errs)), nil)
	}
	h.putFlash(c, "success", "Plan "+p.Name+" saved.")
	return redirect(c, views.PathAdminPlans)
}

// packInput is the credit pack form as sent.
type packInput struct {
	Credits       string `form:"credits"`
	Price         string `form:"price"`
	Currency      string `form:"currency"`
	StripePriceID string `form:"stripe_price_id"`
	SortOrder     string `form:"sort_order"`
	Active        string `form:"active"`
	Reason        string `form:"reason"`
}

// form is the input shown again, with errs.
func (in packInput) form(id int64, errs map[string]string) views.PackForm {
	return views.PackForm{ID: id, Credits: in.Credits, Price: in.Price, Currency: in.Currency, StripePriceID: in.StripePriceID,
		SortOrder: in.SortOrder, Reason: in.Reason, Active: in.Active == "on", Errors: errs}
}

// Validate checks the form and returns the pack it describes.
func (in packInput) Validate() (map[string]string, db.CreditPack) {
	errs := map[string]string{}
	p := db.CreditPack{Currency: strings.TrimSpace(in.Currency), StripePriceID: strings.TrimSpace(in.StripePriceID), Active: in.Active == "on"}
	p.Credits = formInt(errs, "credits", in.Credits, 1, 100_000_000, "Enter a whole number of credits, 1 or more.")
	var ok bool
	if p.PriceCents, ok = parseCents(in.Price); !ok || p.PriceCents == 0 {
		errs["price"] = "Enter a price above 0, such as 10 or 9.99."
	}
	p.SortOrder = validateCommon(errs, p.Currency, p.StripePriceID, in.SortOrder, in.Reason)
	return errs, p
}

// newPack is the form to add a credit pack.
func (h *handler) newPack(c echo.Context) error {
	f := views.PackForm{Currency: "usd", SortOrder: "10", Active: true}
	return render(c, http.StatusOK, views.PackFormPage(h.shell(c, "New credit pack", views.NavPlans), f), nil)
}

// editPack is a credit pack's edit form.
func (h *handler) editPack(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	p, err := h.store.CreditPackAny(c.Request().Context(), id)
	if err != nil {
		return err
	}
	f := views.PackForm{ID: p.ID, Credits: strconv.FormatInt(p.Credits, 10), Price: centsInput(p.PriceCents), Currency: p.Currency,
		StripePriceID: p.StripePriceID, SortOrder: strconv.Itoa(p.SortOrder), Active: p.Active}
	return render(c, http.StatusOK, views.PackFormPage(h.shell(c, "Credit pack", views.NavPlans), f), nil)
}

// savePack adds a credit pack (no :id) or saves a pack's edit, audited.
func (h *handler) savePack(c echo.Context) error {
	ctx := c.Request().Context()
	var in packInput
	if err := c.Bind(&in); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	var id int64
	if c.Param("id") != "" {
		var err error
		if id, err = pathID(c); err != nil {
			return err
		}
		if _, err := h.store.CreditPackAny(ctx, id); err != nil {
			return err
		}
	}
	errs, p := in.Validate()
	if len(errs) > 0 {
		return render(c, http.StatusUnprocessableEntity, views.PackFormPage(h.shell(c, "Credit pack", views.NavPlans), in.form(id, errs)), nil)
	}
	var err error
	if p.ID = id; id == 0 {
		err = h.store.CreateCreditPack(ctx, actor(c), &p, strings.TrimSpace(in.Reason))
	} else {
		_, err = h.store.UpdateCreditPack(ctx, actor(c), &p, strings.TrimSpace(in.Reason))
	}
	if err != nil {
		return err
	}
	h.putFlash(c, "success", "Credit pack of "+views.Number(p.Credits)+" credits saved.")
	return redirect(c, views.PathAdminPlans)
}
