package economics_test

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/myaibud/aibud/app/economics"
)

func TestCosts(t *testing.T) {
	prices := economics.Prices{InputPerMTok: 0.30, AudioInputPerMTok: 1.00, OutputPerMTok: 2.50}
	names := map[int64]string{1: "Bakery", 2: "Garage", 3: "Florist"}
	tests := []struct {
		name  string
		usage []economics.Usage
		nodes []economics.Node
		want  economics.Report
	}{
		{name: "nothing", want: economics.Report{}},
		{
			name:  "tokens only",
			usage: []economics.Usage{{TenantID: 1, InputTokens: 2_000_000, OutputTokens: 400_000}},
			want: economics.Report{
				Tenants: []economics.TenantCost{{TenantID: 1, Name: "Bakery", InputTokens: 2_000_000, OutputTokens: 400_000, AI: 1.60}},
				Total:   economics.TenantCost{InputTokens: 2_000_000, OutputTokens: 400_000, AI: 1.60},
			},
		},
		{
			// 1M text input at $0.30, 1M audio at $1.00, 0.4M output at
			// $2.50.
			name:  "audio input at its own price",
			usage: []economics.Usage{{TenantID: 1, InputTokens: 2_000_000, AudioInputTokens: 1_000_000, OutputTokens: 400_000}},
			want: economics.Report{
				Tenants: []economics.TenantCost{{TenantID: 1, Name: "Bakery", InputTokens: 2_000_000, AudioInputTokens: 1_000_000,
					OutputTokens: 400_000, AI: 2.30}},
				Total: economics.TenantCost{InputTokens: 2_000_000, AudioInputTokens: 1_000_000, OutputTokens: 400_000, AI: 2.30},
			},
		},
		{
			// Node A ($40) holds 3 of tenant 1 and 1 of tenant 2: $30 and $10.
			// Node B ($15) holds 1 of tenant 2 and 2 of tenant 3: $5 and $10.
			// Node C ($20) holds nothing: idle, borne by no tenant.
			name: "tokens and shared servers",
			usage: []economics.Usage{
				{TenantID: 1, InputTokens: 1_000_000, OutputTokens: 1_000_000},
				{TenantID: 3, InputTokens: 10_000_000},
			},
			nodes: []economics.Node{
				{MonthlyCost: 40, Numbers: map[int64]int{1: 3, 2: 1}},
				{MonthlyCost: 15, Numbers: map[int64]int{2: 1, 3: 2}},
				{MonthlyCost: 20},
			},
			want: economics.Report{
				Tenants: []economics.TenantCost{
					{TenantID: 1, Name: "Bakery", Numbers: 3, InputTokens: 1_000_000, OutputTokens: 1_000_000, AI: 2.80, Servers: 30},
					{TenantID: 2, Name: "Garage", Numbers: 2, Servers: 15},
					{TenantID: 3, Name: "Florist", Numbers: 2, InputTokens: 10_000_000, AI: 3, Servers: 10},
				},
				Total: economics.TenantCost{Numbers: 7, InputTokens: 11_000_000, OutputTokens: 1_000_000, AI: 5.80, Servers: 75},
				Idle:  20,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := economics.Costs(prices, tt.usage, tt.nodes, names)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("Costs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTenantCostPerNumber(t *testing.T) {
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"shared by its numbers", economics.TenantCost{Numbers: 4, AI: 2, Servers: 10}.PerNumber(), 3},
		{"no number: the whole cost", economics.TenantCost{AI: 2}.PerNumber(), 2},
	}
	for _, tt := range tests {
		if math.Abs(tt.got-tt.want) > 1e-9 {
			t.Errorf("%s: %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestAICost(t *testing.T) {
	p := economics.Prices{InputPerMTok: 1, AudioInputPerMTok: 3, OutputPerMTok: 4}
	tests := []struct {
		name                 string
		input, audio, output int64
		want                 float64
	}{
		{"nothing", 0, 0, 0, 0},
		{"text in and out", 1_000_000, 0, 500_000, 3},
		{"half the input is audio", 1_000_000, 500_000, 0, 2},
		{"audio never counts beyond the input", 1_000_000, 2_000_000, 0, 3},
		{"negative audio counts as none", 1_000_000, -5, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.AICost(tt.input, tt.audio, tt.output); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("AICost(%d, %d, %d) = %v, want %v", tt.input, tt.audio, tt.output, got, tt.want)
			}
		})
	}
}

func TestDaily(t *testing.T) {
	p := economics.Prices{InputPerMTok: 1, OutputPerMTok: 4}
	got := economics.Daily(p, []economics.Day{{}, {InputTokens: 500_000, OutputTokens: 250_000}}, 30, 30)
	if diff := cmp.Diff([]float64{1, 2.5}, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Daily (-want +got):\n%s", diff)
	}
}
