package app

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// showConsole is the console's home: the platform at a glance and the
// latest owner actions.
func (h *handler) showConsole(c echo.Context) error {
	ctx := c.Request().Context()
	sum, err := h.store.ConsoleSummaryAllTenants(ctx)
	if err != nil {
		return err
	}
	audit, _, err := h.store.AuditLogAllTenants(ctx, db.AuditFilter{Page: db.Page{PerPage: 10}})
	if err != nil {
		return err
	}
	vm := views.ConsoleHome{Tenants: sum.Tenants, Suspended: sum.Suspended, CreditsOutstanding: sum.CreditsOutstanding,
		Messages30: sum.Messages30, AIReplies30: sum.AIReplies30, DeadEvents: sum.DeadEvents7, JobFailures: sum.JobFailures7,
		RecentAudit: auditRows(audit)}
	return render(c, http.StatusOK, views.ConsoleHomePage(h.shell(c, "Console", views.NavConsole), vm), nil)
}

// tenantsPerPage is the length of a page of the tenant list.
const tenantsPerPage = 50

// listTenants is the searchable, sortable list of every tenant.
func (h *handler) listTenants(c echo.Context) error {
	q := views.TenantQuery{Q: strings.TrimSpace(c.QueryParam("q")), Sort: c.QueryParam("sort"), Desc: c.QueryParam("dir") == "desc",
		Page: pageParam(c, "page")}
	rows, total, err := h.store.TenantsAllTenants(c.Request().Context(), db.TenantFilter{Query: q.Q, Sort: q.Sort, Desc: q.Desc,
		Page: db.Page{Number: q.Page, PerPage: tenantsPerPage}})
	if err != nil {
		return err
	}
	vm := views.Tenants{Query: q, Pager: views.Pager{Page: max(q.Page, 1), Pages: pages(total, tenantsPerPage), Total: total,
		URL: func(n int) string { p := q; p.Page = n; return views.AdminTenantsPath(p) }}}
	for _, t := range rows {
		vm.Rows = append(vm.Rows, views.TenantRow{ID: t.ID, Name: t.Name, Email: t.Email, Plan: t.Plan, Credits: t.CreditBalance,
			Numbers: t.NumbersConnected, Messages: t.Messages, AIReplies: t.AIReplies, LastActivity: t.LastActivity, Status: t.Status,
			Revenue: t.RevenueCents, Other: views.MoneyByCurrency(t.OtherRevenue)})
	}
	return render(c, http.StatusOK, views.TenantsPage(h.shell(c, "Tenants", views.NavTenants), vm), nil)
}

// auditPerPage is the length of a page of the audit log.
const auditPerPage = 50

// showAudit is the audit log, filtered by tenant and action.
func (h *handler) showAudit(c echo.Context) error {
	q := views.AuditQuery{Action: c.QueryParam("action"), Page: pageParam(c, "page")}
	q.TenantID, _ = strconv.ParseInt(c.QueryParam("tenant"), 10, 64)
	entries, total, err := h.store.AuditLogAllTenants(c.Request().Context(), db.AuditFilter{TenantID: q.TenantID, Action: q.Action,
		Page: db.Page{Number: q.Page, PerPage: auditPerPage}})
	if err != nil {
		return err
	}
	vm := views.Audit{Query: q, Actions: db.AuditActions, Rows: auditRows(entries),
		Pager: views.Pager{Page: max(q.Page, 1), Pages: pages(total, auditPerPage), Total: total,
			URL: func(n int) string { p := q; p.Page = n; return views.AdminAuditPath(p) }}}
	return render(c, http.StatusOK, views.AuditPage(h.shell(c, "Audit log", views.NavAudit), vm), nil)
}

func auditRows(entries []db.AuditEntry) []views.AuditRow {
	rows := make([]views.AuditRow, len(entries))
	for i, e := range entries {
		r := views.AuditRow{At: e.CreatedAt, Actor: e.ActorEmail, Action: e.Action, Reason: e.Reason}
		if e.TenantID != nil {
			r.TenantID = *e.TenantID
		}
		if e.TenantName != nil {
			r.TenantName = *e.TenantName
		}
		if d := string(e.Details); d != "{}" {
			r.Details = d
		}
		rows[i] = r
	}
	return rows
}

// pageParam reads a page number from the query; 1 when absent or wrong.
func pageParam(c echo.Context, name string) int {
	n, err := strconv.Atoi(c.QueryParam(name))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// pages is the number of pages total rows fill.
func pages(total, per int) int { return (total + per - 1) / per }
