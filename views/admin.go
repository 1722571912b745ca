package views

import (
	"net/url"
	"strconv"
	"strings"
)

// Paths of the owner's console. The existing sections (PathAdminNodes,
// PathAdminAI, PathAdminFailures, PathAdminQueues) sit beside them.
const (
	PathAdmin        = "/admin"
	PathAdminTenants = "/admin/tenants"
	PathAdminAudit   = "/admin/audit"
	// PathAdminEconomics is this month's estimated cost per tenant.
	PathAdminEconomics = "/admin/economics"
)

// Actions on a tenant's console page, the last segment of their POST path.
const (
	TenantActionCredits       = "credits"
	TenantActionSuspend       = "suspend"
	TenantActionUnsuspend     = "unsuspend"
	TenantActionPasswordReset = "password-reset"
	TenantActionPlan          = "plan"
	TenantActionViewAs        = "view-as"
)

// PathViewAsStop ends an owner's read-only view of a tenant; it is the one
// form that works while viewing.
const PathViewAsStop = "/admin/view-as/stop"

// Nav keys of the console's sections (NavAdmin is the servers' page).
const (
	NavConsole = "admin-home"
	NavTenants = "admin-tenants"
	NavAudit   = "admin-audit"
	// NavEconomics is the unit economics page.
	NavEconomics = "admin-economics"
)

// consoleItems lists the console's own navigation in order.
func consoleItems() []NavItem {
	return []NavItem{
		{NavConsole, "Overview", PathAdmin},
		{NavTenants, "Tenants", PathAdminTenants},
		{NavAudit, "Audit", PathAdminAudit},
		{NavPlans, "Plans", PathAdminPlans},
		{NavAdmin, "Servers", PathAdminNodes},
		{NavAdminAI, "AI costs", PathAdminAI},
		{NavEconomics, "Economics", PathAdminEconomics},
		{NavFailures, "Failures", PathAdminFailures},
		{"admin-queues", "Queues", PathAdminQueues},
	}
}

// inConsole reports whether a nav key is one of the console's sections.
func inConsole(active string) bool { return strings.HasPrefix(active, "admin") }

// AdminTenantPath is a tenant's page in the console.
func AdminTenantPath(id int64) string { return PathAdminTenants + "/" + strconv.FormatInt(id, 10) }

// AdminTenantActionPath is an owner's action on a tenant (TenantAction…).
func AdminTenantActionPath(id int64, action string) string { return AdminTenantPath(id) + "/" + action }

// AdminTenantLedgerPath is a tenant's console page showing page n of its
// ledger.
func AdminTenantLedgerPath(id int64) func(n int) string {
	return func(n int) string { return AdminTenantPath(id) + "?ledger=" + strconv.Itoa(n) }
}

// TenantQuery is the tenant list's search, sort and page.
type TenantQuery struct {
	Q    string
	Sort string
	Desc bool
	Page int
}

// AdminTenantsPath is the tenant list for q.
func AdminTenantsPath(q TenantQuery) string {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.Sort != "" {
		v.Set("sort", q.Sort)
		if q.Desc {
			v.Set("dir", "desc")
		}
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if len(v) == 0 {
		return PathAdminTenants
	}
	return PathAdminTenants + "?" + v.Encode()
}

// AuditQuery is the audit log's filter and page.
type AuditQuery struct {
	TenantID int64
	Action   string
	Page     int
}

// AdminAuditPath is the audit log for q.
func AdminAuditPath(q AuditQuery) string {
	v := url.Values{}
	if q.TenantID != 0 {
		v.Set("tenant", strconv.FormatInt(q.TenantID, 10))
	}
	if q.Action != "" {
		v.Set("action", q.Action)
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if len(v) == 0 {
		return PathAdminAudit
	}
	return PathAdminAudit + "?" + v.Encode()
}
