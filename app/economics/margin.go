package economics

import (
	"sort"
	"time"
)

// CostCurrency is the currency costs are estimated in (US dollars): only
// revenue in it is set against them.
const CostCurrency = "usd"

// Revenue is what one tenant paid in one currency over the period, in
// the currency's smallest unit.
type Revenue struct {
	TenantID int64
	Currency string
	Cents    int64
}

// TenantMargin is one tenant's cost and revenue. Revenue is in dollars of
// CostCurrency; Other is revenue in other currencies (code → cents), shown
// on its own and left out of the margin rather than summed wrongly.
type TenantMargin struct {
	TenantCost
	Revenue float64
	Other   map[string]int64
}

// Margin is the revenue left after the cost.
func (m TenantMargin) Margin() float64 { return m.Revenue - m.Total() }

// MarginPercent is the margin as a share of revenue; false without revenue
// (a percentage of nothing means nothing).
func (m TenantMargin) MarginPercent() (float64, bool) {
	if m.Revenue <= 0 {
		return 0, false
	}
	return m.Margin() / m.Revenue * 100, true
}

// MarginReport is every tenant's cost and revenue, and the totals (the
// servers holding no number are in the total cost).
type MarginReport struct {
	Tenants []TenantMargin
	Total   TenantMargin
	Idle    float64
}

// Margins sets each tenant's revenue against its cost. A tenant that paid
// but cost nothing is listed too (named by names). Tenants come the most
// expensive first, then the highest revenue.
func Margins(costs Report, revenue []Revenue, names map[int64]string) MarginReport {
	byTenant := map[int64]*TenantMargin{}
	for _, c := range costs.Tenants {
		byTenant[c.TenantID] = &TenantMargin{TenantCost: c}
	}
	out := MarginReport{Total: TenantMargin{TenantCost: costs.Total}, Idle: costs.Idle}
	for _, r := range revenue {
		m := byTenant[r.TenantID]
		if m == nil {
			m = &TenantMargin{TenantCost: TenantCost{TenantID: r.TenantID, Name: names[r.TenantID]}}
			byTenant[r.TenantID] = m
		}
		addRevenue(m, r)
		addRevenue(&out.Total, r)
	}
	for _, m := range byTenant {
		out.Tenants = append(out.Tenants, *m)
	}
	sort.Slice(out.Tenants, func(i, j int) bool {
		a, b := out.Tenants[i], out.Tenants[j]
		if a.Total() != b.Total() {
			return a.Total() > b.Total()
		}
		if a.Revenue != b.Revenue {
			return a.Revenue > b.Revenue
		}
		return a.TenantID < b.TenantID
	})
	return out
}

func addRevenue(m *TenantMargin, r Revenue) {
	if r.Currency == CostCurrency {
		m.Revenue += float64(r.Cents) / 100
		return
	}
	if m.Other == nil {
		m.Other = map[string]int64{}
	}
	m.Other[r.Currency] += r.Cents
}

// DayRevenue is what was paid on one day in one currency.
type DayRevenue struct {
	Day      time.Time
	Currency string
	Cents    int64
}

// DailyRevenue is the revenue in CostCurrency of each of days, in dollars;
// payments on other days or in other currencies are left out.
func DailyRevenue(days []time.Time, paid []DayRevenue) []float64 {
	index := make(map[string]int, len(days))
	for i, d := range days {
		index[d.Format(time.DateOnly)] = i
	}
	out := make([]float64, len(days))
	for _, p := range paid {
		i, ok := index[p.Day.Format(time.DateOnly)]
		if ok && p.Currency == CostCurrency {
			out[i] += float64(p.Cents) / 100
		}
	}
	return out
}
