package app

import (
	"math"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/economics"
	"github.com/myaibud/aibud/views"
)

// showEconomics is this month's estimated cost of every tenant: Gemini
// tokens at the configured prices, and the servers' monthly cost shared by
// the numbers on them. Revenue is not shown: no payment is recorded yet.
func (h *handler) showEconomics(c echo.Context) error {
	now := time.Now().UTC()
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	report, serversMonthly, err := h.costReport(c, start)
	if err != nil {
		return err
	}
	chart, err := h.dailyCostChart(c, start, now, serversMonthly)
	if err != nil {
		return err
	}
	vm := views.Economics{Month: start.Format("January 2006"), InputPerMTok: h.opts.AIPrices.InputPerMTok,
		OutputPerMTok: h.opts.AIPrices.OutputPerMTok, Idle: report.Idle, Total: economicsRow(report.Total), Chart: chart}
	for _, t := range report.Tenants {
		vm.Rows = append(vm.Rows, economicsRow(t))
	}
	return render(c, http.StatusOK, views.EconomicsPage(h.shell(c, "Unit economics", views.NavEconomics), vm), nil)
}

// costReport reads the month's tokens and the numbers on every node and
// shares the cost out; it also returns the servers' monthly cost.
func (h *handler) costReport(c echo.Context, start time.Time) (economics.Report, float64, error) {
	ctx := c.Request().Context()
	usage, err := h.store.AIUsageAllTenants(ctx, start)
	if err != nil {
		return economics.Report{}, 0, err
	}
	nodes, err := h.store.NodesWithUse(ctx)
	if err != nil {
		return economics.Report{}, 0, err
	}
	held, err := h.store.NodeNumbersAllTenants(ctx)
	if err != nil {
		return economics.Report{}, 0, err
	}
	names := map[int64]string{}
	var us []economics.Usage
	for _, u := range usage {
		names[u.TenantID] = u.TenantName
		us = append(us, economics.Usage{TenantID: u.TenantID, InputTokens: u.InputTokens, OutputTokens: u.OutputTokens})
	}
	numbers := map[int64]map[int64]int{}
	for _, n := range held {
		names[n.TenantID] = n.TenantName
		if numbers[n.NodeID] == nil {
			numbers[n.NodeID] = map[int64]int{}
		}
		numbers[n.NodeID][n.TenantID] = n.Numbers
	}
	var ns []economics.Node
	monthly := 0.0
	for _, n := range nodes {
		ns = append(ns, economics.Node{MonthlyCost: n.MonthlyCost, Numbers: numbers[n.ID]})
		monthly += n.MonthlyCost
	}
	return economics.Costs(h.opts.AIPrices, us, ns, names), monthly, nil
}

// dailyCostChart is the estimated cost of each day of the month so far.
func (h *handler) dailyCostChart(c echo.Context, start, now time.Time, serversMonthly float64) (views.BarChart, error) {
	days, err := h.store.AITokensByDayAllTenants(c.Request().Context(), start, now, time.UTC)
	if err != nil {
		return views.BarChart{}, err
	}
	tokens := make([]economics.Day, len(days))
	dates := make([]time.Time, len(days))
	for i, d := range days {
		tokens[i], dates[i] = economics.Day{InputTokens: d.InputTokens, OutputTokens: d.OutputTokens}, d.Day
	}
	inMonth := start.AddDate(0, 1, -1).Day()
	costs := economics.Daily(h.opts.AIPrices, tokens, serversMonthly, inMonth)
	cents := make([]int64, len(costs))
	for i, v := range costs {
		cents[i] = int64(math.Round(v * 100))
	}
	return views.DailyMoneyBars("Estimated cost per day this month (AI tokens, and servers spread evenly)", dates, cents, 7), nil
}

func economicsRow(t economics.TenantCost) views.EconomicsRow {
	return views.EconomicsRow{TenantID: t.TenantID, Name: t.Name, Numbers: t.Numbers, InputTokens: t.InputTokens,
		OutputTokens: t.OutputTokens, AI: t.AI, Servers: t.Servers, Total: t.Total(), PerNumber: t.PerNumber()}
}
