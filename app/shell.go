package app

import (
	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/billing"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// shell builds the layout's view model from what middleware loaded; it is the
// one place that does, so handlers never load nav data themselves.
func (h *handler) shell(c echo.Context, title, active string) views.Shell {
	p := mustPrincipal(c)
	s := views.Shell{
		Title:      title,
		Active:     active,
		UserEmail:  p.user.Email,
		TenantName: p.tenant.Name,
		Plan:       p.tenant.Plan,
		Credits:    p.tenant.CreditBalance,
		IsOwner:    p.owner,
		Flash:      h.popFlash(c),
		Suspended:  !p.tenant.May(db.ActSend),
		// The reason is the owner's words to the tenant, shown on every page.
		SuspendReason: p.tenant.SuspendReason,
		ViewingAs:     p.viewing,
		Location:      p.tenant.Location(),
		Rendered:      p.at,
	}
	switch billing.BalanceLevel(p.tenant.CreditBalance, h.opts.LowBalance) {
	case billing.BalanceEmpty:
		s.OutOfCredits = true
	case billing.BalanceLow:
		s.LowCredits = true
	}
	if t := p.tenant.PaymentFailedAt; t != nil && p.tenant.Plan != billing.Starter {
		s.GraceEnds = billing.GraceEnds(*t, h.opts.BillingGrace)
	}
	return s
}
