package app

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

const ledgerPerPage = 25

func (h *handler) showCredits(c echo.Context) error {
	ctx := c.Request().Context()
	ts, p := tenantStore(c), mustPrincipal(c)
	loc := p.tenant.Location()
	page, _ := strconv.Atoi(c.QueryParam("page"))

	entries, total, err := ts.Ledger(ctx, db.Page{Number: page, PerPage: ledgerPerPage})
	if err != nil {
		return err
	}
	ledger := ledgerView(entries, total, db.Page{Number: page, PerPage: ledgerPerPage}.Normalize(), loc)
	if wantsPartial(c) {
		return render(c, http.StatusOK, nil, views.LedgerTable(ledger))
	}

	vm, err := creditsSummary(c)
	if err != nil {
		return err
	}
	vm.Ledger, vm.Location = ledger, loc
	return render(c, http.StatusOK, views.CreditsPage(h.shell(c, "Credits", views.NavCredits), vm), views.LedgerTable(ledger))
}

// creditsSummaryPart is the live-refreshed balance, month's use and chart.
func (h *handler) creditsSummaryPart(c echo.Context) error {
	vm, err := creditsSummary(c)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.CreditsSummary(vm))
}

// creditsSummary reads the balance and the last 30 days' use.
func creditsSummary(c echo.Context) (views.Credits, error) {
	ctx, ts := c.Request().Context(), tenantStore(c)
	now := time.Now()
	days, err := ts.CreditUsageByDay(ctx, now.AddDate(0, 0, -29), now, mustPrincipal(c).tenant.Location())
	if err != nil {
		return views.Credits{}, err
	}
	dates := make([]time.Time, len(days))
	values := make([]int64, len(days))
	var used int64
	for i, d := range days {
		dates[i], values[i] = d.Day, max(d.Net(), 0)
		used += d.Net()
	}
	bal, err := ts.CreditBalance(ctx)
	if err != nil {
		return views.Credits{}, err
	}
	return views.Credits{Balance: bal, Used30: used, Chart: views.DailyBars("Credits used per day, last 30 days", dates, values, 7)}, nil
}

func ledgerView(entries []db.LedgerEntry, total int, page db.Page, loc *time.Location) views.Ledger {
	rows := make([]views.LedgerRow, len(entries))
	for i, e := range entries {
		rows[i] = views.LedgerRow{At: e.CreatedAt, Kind: e.Kind, Reason: e.Reason, Amount: e.Amount, BalanceAfter: e.BalanceAfter}
	}
	pages := (total + page.PerPage - 1) / page.PerPage
	return views.Ledger{
		Entries:  rows,
		Location: loc,
		Pager:    views.Pager{Page: page.Number, Pages: pages, Total: total, URL: views.CreditsPagePath, Target: views.IDLedger},
	}
}
