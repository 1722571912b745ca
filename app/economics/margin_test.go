package economics_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/myaibud/aibud/app/economics"
)

func TestMargins(t *testing.T) {
	names := map[int64]string{1: "Bakery", 2: "Garage", 3: "Florist"}
	bakery := economics.TenantCost{TenantID: 1, Name: "Bakery", Numbers: 1, AI: 4, Servers: 6}
	garage := economics.TenantCost{TenantID: 2, Name: "Garage", Numbers: 1, Servers: 5}
	costs := economics.Report{Tenants: []economics.TenantCost{bakery, garage},
		Total: economics.TenantCost{Numbers: 2, AI: 4, Servers: 11 + 20}, Idle: 20}
	tests := []struct {
		name    string
		costs   economics.Report
		revenue []economics.Revenue
		want    economics.MarginReport
	}{
		{name: "nothing", want: economics.MarginReport{}},
		{
			name:  "cost without revenue: a loss, no percentage",
			costs: costs,
			want: economics.MarginReport{
				Tenants: []economics.TenantMargin{{TenantCost: bakery}, {TenantCost: garage}},
				Total:   economics.TenantMargin{TenantCost: costs.Total}, Idle: 20,
			},
		},
		{
			// Bakery paid $29 + $10 against $10 of cost; Florist paid $99
			// and cost nothing; Garage paid €45, kept apart.
			name:  "revenue in dollars and another currency",
			costs: costs,
			revenue: []economics.Revenue{
				{TenantID: 1, Currency: "usd", Cents: 2900}, {TenantID: 1, Currency: "usd", Cents: 1000},
				{TenantID: 2, Currency: "eur", Cents: 4500}, {TenantID: 3, Currency: "usd", Cents: 9900},
			},
			want: economics.MarginReport{
				Tenants: []economics.TenantMargin{
					{TenantCost: bakery, Revenue: 39},
					{TenantCost: garage, Other: map[string]int64{"eur": 4500}},
					{TenantCost: economics.TenantCost{TenantID: 3, Name: "Florist"}, Revenue: 99},
				},
				Total: economics.TenantMargin{TenantCost: costs.Total, Revenue: 138, Other: map[string]int64{"eur": 4500}},
				Idle:  20,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := economics.Margins(tt.costs, tt.revenue, names)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-9), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Margins (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarginAndPercent(t *testing.T) {
	tests := []struct {
		name        string
		m           economics.TenantMargin
		margin, pct float64
		hasPct      bool
	}{
		{"profit", economics.TenantMargin{TenantCost: economics.TenantCost{AI: 4, Servers: 6}, Revenue: 40}, 30, 75, true},
		{"loss", economics.TenantMargin{TenantCost: economics.TenantCost{AI: 10, Servers: 15}, Revenue: 20}, -5, -25, true},
		{"break-even", economics.TenantMargin{TenantCost: economics.TenantCost{Servers: 29}, Revenue: 29}, 0, 0, true},
		{"no revenue", economics.TenantMargin{TenantCost: economics.TenantCost{AI: 3}}, -3, 0, false},
		{"only other currencies", economics.TenantMargin{Other: map[string]int64{"eur": 900}}, 0, 0, false},
	}
	approx := cmpopts.EquateApprox(0, 1e-9)
	for _, tt := range tests {
		pct, ok := tt.m.MarginPercent()
		if !cmp.Equal(tt.m.Margin(), tt.margin, approx) || !cmp.Equal(pct, tt.pct, approx) || ok != tt.hasPct {
			t.Errorf("%s: margin %v, percent %v %v; want %v, %v %v", tt.name, tt.m.Margin(), pct, ok, tt.margin, tt.pct, tt.hasPct)
		}
	}
}

func TestDailyRevenue(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	days := []time.Time{day(1), day(2), day(3)}
	paid := []economics.DayRevenue{
		{Day: day(1), Currency: "usd", Cents: 2900}, {Day: day(1), Currency: "usd", Cents: 1050},
		{Day: day(2), Currency: "eur", Cents: 9900},                                            // another currency: not set against cost
		{Day: day(3), Currency: "usd", Cents: 100}, {Day: day(4), Currency: "usd", Cents: 500}, // outside the days
	}
	if diff := cmp.Diff([]float64{39.5, 0, 1}, economics.DailyRevenue(days, paid), cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("DailyRevenue (-want +got):\n%s", diff)
	}
}
