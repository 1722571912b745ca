package app

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
)

// isHTMX reports whether the request comes from htmx.
func isHTMX(c echo.Context) bool { return c.Request().Header.Get("HX-Request") == "true" }

// wantsPartial reports whether to answer with a partial: an htmx request
// that is neither boosted nor a history restore (those need the whole page).
func wantsPartial(c echo.Context) bool {
	h := c.Request().Header
	return isHTMX(c) && h.Get("HX-Boosted") != "true" && h.Get("HX-History-Restore-Request") != "true"
}

// render writes the page, or the partial for htmx requests, with status.
// Both variants are cached separately by anything that honours Vary.
func render(c echo.Context, status int, page, partial templ.Component) error {
	c.Response().Header().Add(echo.HeaderVary, "HX-Request")
	comp := page
	if partial != nil && wantsPartial(c) {
		comp = partial
	}
	return renderComponent(c, status, comp)
}

// renderComponent writes one component through templ's pooled buffer, so a
// failed render never sends half a page.
func renderComponent(c echo.Context, status int, comp templ.Component) error {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// redirect sends the browser elsewhere after a POST or when signed out: a
// full navigation for htmx (HX-Redirect), a 303 otherwise.
func redirect(c echo.Context, to string) error {
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, to)
}
