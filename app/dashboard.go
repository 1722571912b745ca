package app

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/views"
)

func (h *handler) showDashboard(c echo.Context) error {
	ts, p := tenantStore(c), mustPrincipal(c)
	now := time.Now()
	days, err := ts.CreditUsageByDay(c.Request().Context(), now, now, p.tenant.Location())
	if err != nil {
		return err
	}
	vm := views.Dashboard{Credits: p.tenant.CreditBalance, UsedToday: days[0].Net()}
	return render(c, http.StatusOK, views.DashboardPage(h.shell(c, "Dashboard", views.NavDashboard), vm), nil)
}

// dashboardCredits is the live-refreshed balance figure.
func (h *handler) dashboardCredits(c echo.Context) error {
	bal, err := tenantStore(c).CreditBalance(c.Request().Context())
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.CreditBalance(bal))
}

// creditBadge is the live-refreshed balance in the header.
func (h *handler) creditBadge(c echo.Context) error {
	bal, err := tenantStore(c).CreditBalance(c.Request().Context())
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.CreditBadge(bal))
}
