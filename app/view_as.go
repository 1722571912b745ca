package app

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// sessionViewAs holds the tenant a platform owner views read-only.
const sessionViewAs = "view_as_tenant_id"

// applyViewAs swaps the owner's tenant for the one they view, when they
// view one: the tenant pages then read that tenant's data through its own
// scope, exactly as its users do. A tenant gone since is forgotten.
func (h *handler) applyViewAs(c echo.Context, p *principal) error {
	ctx := c.Request().Context()
	id := h.sessions.GetInt64(ctx, sessionViewAs)
	if id == 0 || !p.owner {
		return nil
	}
	t, err := h.store.TenantByID(ctx, id)
	if errors.Is(err, db.ErrNotFound) {
		h.sessions.Remove(ctx, sessionViewAs)
		return nil
	}
	if err != nil {
		return err
	}
	p.tenant, p.store, p.viewing = t, h.store.Tenant(t.ID), true
	return nil
}

// guardViewAs keeps a view read-only and audited: every state-changing
// request is refused but stopping the view and signing out, and every page
// the owner opens is written to the audit log (see viewAsAudited).
func (h *handler) guardViewAs(c echo.Context, p *principal) error {
	r := c.Request()
	if !safeMethod(r.Method) {
		if r.URL.Path == views.PathViewAsStop || r.URL.Path == views.PathSignOut {
			return nil
		}
		return Errorf(EForbidden, "You are viewing %s read-only: stop viewing to change anything.", p.tenant.Name)
	}
	if !viewAsAudited(c) {
		return nil
	}
	return h.store.Audit(r.Context(), db.Actor{UserID: p.user.ID, Email: p.user.Email}, p.tenant.ID, db.AuditViewAsPage,
		map[string]string{"path": r.URL.RequestURI()}, "")
}

// viewAsAudited reports whether a GET is a page view: a document the
// browser navigates to (a full page, a boosted link, a download), not an
// htmx partial (a poll, a live refresh), an image or the event stream, and
// not the owner's own console.
func viewAsAudited(c echo.Context) bool {
	r := c.Request()
	if r.Method != http.MethodGet || r.URL.Path == views.PathEvents || strings.HasPrefix(r.URL.Path, views.PathAdmin) {
		return false
	}
	if isHTMX(c) && r.Header.Get("HX-Boosted") == "" {
		return false
	}
	dest := r.Header.Get("Sec-Fetch-Dest")
	return dest == "" || dest == "document"
}

// startViewAs lets the owner browse the tenant's pages read-only, audited
// with the reason.
func (h *handler) startViewAs(c echo.Context) error {
	t, err := h.consoleTenant(c)
	if err != nil {
		return err
	}
	reason := reasonOf(c)
	if reason == "" {
		return h.tenantFormFailed(c, t, views.TenantForms{Errors: map[string]string{"view": "Say why, in up to 500 characters."}})
	}
	ctx := c.Request().Context()
	if err := h.store.Audit(ctx, actor(c), t.ID, db.AuditViewAsStarted, nil, reason); err != nil {
		return err
	}
	h.sessions.Put(ctx, sessionViewAs, t.ID)
	h.putFlash(c, "success", "You are viewing "+t.Name+" read-only.")
	return redirect(c, views.PathDashboard)
}

// stopViewAs ends the view and goes back to the tenant's console page.
func (h *handler) stopViewAs(c echo.Context) error {
	ctx := c.Request().Context()
	id := h.sessions.GetInt64(ctx, sessionViewAs)
	if id == 0 {
		return redirect(c, views.PathAdminTenants)
	}
	if err := h.store.Audit(ctx, actor(c), id, db.AuditViewAsStopped, nil, ""); err != nil {
		return err
	}
	h.sessions.Remove(ctx, sessionViewAs)
	h.putFlash(c, "success", "You stopped viewing the tenant.")
	return redirect(c, views.AdminTenantPath(id))
}
