package app

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/economics"
	"github.com/myaibud/aibud/views"
)

// showEconomics is this month's estimated cost of every tenant (Gemini
// tokens at the configured prices, and the servers' monthly cost shared by
// the numbers on them) against what it paid (the payments Stripe
// reported), with the margin.
func (h *handler) showEconomics(c echo.Context) error {
	now := time.Now().UTC()
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	costs, serversMonthly, err := h.costReport(c, start)
	if err != nil {
		return err
	}
	report, err := h.marginReport(c, costs, start)
	if err != nil {
		return err
	}
	chart, err := h.dailyMarginChart(c, start, now, serversMonthly)
	if err != nil {
		return err
	}
	vm := views.Economics{Month: start.Format("January 2006"), InputPerMTok: h.opts.AIPrices.InputPerMTok,
		AudioInputPerMTok: h.opts.AIPrices.AudioInputPerMTok, OutputPerMTok: h.opts.AIPrices.OutputPerMTok, Idle: report.Idle, Total: economicsRow(report.Total), Chart: chart}
	for _, t := range report.Tenants {
		vm.Rows = append(vm.Rows, economicsRow(t))
	}
	return render(c, http.StatusOK, views.EconomicsPage(h.shell(c, "Unit economics", views.NavEconomics), vm), nil)
}

// marginReport sets the month's payments of every tenant against its cost.
func (h *handler) marginReport(c echo.Context, costs economics.Report, start time.Time) (economics.MarginReport, error) {
	paid, err := h.store.RevenueAllTenants(c.Request().Context(), start, start.AddDate(0, 1, 0))
	if err != nil {
		return economics.MarginReport{}, err
	}
	names := map[int64]string{}
	revenue := make([]economics.Revenue, len(paid))
	for i, p := range paid {
		names[p.TenantID] = p.TenantName
		revenue[i] = economics.Revenue{TenantID: p.TenantID, Currency: p.Currency, Cents: p.Cents}
	}
	return economics.Margins(costs, revenue, names), nil
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
		us = append(us, economics.Usage{TenantID: u.TenantID, InputTokens: u.InputTokens,
			AudioInputTokens: u.AudioInputTokens, OutputTokens: u.OutputTokens})
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

// dailyMarginChart is the revenue (in dollars) and the estimated cost of
// each day of the month so far.
func (h *handler) dailyMarginChart(c echo.Context, start, now time.Time, serversMonthly float64) (views.BarChart, error) {
	ctx := c.Request().Context()
	days, err := h.store.AITokensByDayAllTenants(ctx, start, now, time.UTC)
	if err != nil {
		return views.BarChart{}, err
	}
	paid, err := h.store.RevenueByDayAllTenants(ctx, start, now, time.UTC)
	if err != nil {
		return views.BarChart{}, err
	}
	tokens := make([]economics.Day, len(days))
	dates := make([]time.Time, len(days))
	for i, d := range days {
		tokens[i], dates[i] = economics.Day{InputTokens: d.InputTokens, AudioInputTokens: d.AudioInputTokens, OutputTokens: d.OutputTokens}, d.Day
	}
	revenue := make([]economics.DayRevenue, len(paid))
	for i, p := range paid {
		revenue[i] = economics.DayRevenue{Day: p.Day, Currency: p.Currency, Cents: p.Cents}
	}
	inMonth := start.AddDate(0, 1, -1).Day()
	costs := economics.Daily(h.opts.AIPrices, tokens, serversMonthly, inMonth)
	return views.DailyMoneyVersus("Revenue in US dollars against estimated cost per day this month (AI tokens, and servers spread evenly)",
		dates, toCents(economics.DailyRevenue(dates, revenue)), toCents(costs), 7), nil
}

// toCents rounds dollars to cents.
func toCents(vs []float64) []int64 {
	out := make([]int64, len(vs))
	for i, v := range vs {
		out[i] = int64(math.Round(v * 100))
	}
	return out
}

func economicsRow(t economics.TenantMargin) views.EconomicsRow {
	pct := "–"
	if p, ok := t.MarginPercent(); ok {
		pct = strconv.FormatFloat(p, 'f', 1, 64) + "%"
	}
	return views.EconomicsRow{TenantID: t.TenantID, Name: t.Name, Numbers: t.Numbers, InputTokens: t.InputTokens,
		OutputTokens: t.OutputTokens, AI: t.AI, Servers: t.Servers, Total: t.Total(), PerNumber: t.PerNumber(),
		Revenue: t.Revenue, Margin: t.Margin(), Other: views.MoneyByCurrency(t.Other), MarginPercent: pct}
}
