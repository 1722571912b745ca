package app

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/views"
)

// landing is the first page: what My Aibud does and the way to sign up;
// the dashboard for someone signed in.
func (h *handler) landing(c echo.Context) error {
	if principalOf(c) != nil {
		return c.Redirect(http.StatusSeeOther, views.PathDashboard)
	}
	return render(c, http.StatusOK, views.Landing(h.opts.DefaultCredits), nil)
}
