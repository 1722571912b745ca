// Package economics estimates what each tenant costs the platform: Gemini
// tokens at configured prices, and WAHA servers' monthly cost shared by the
// numbers on them. It is arithmetic only: callers read the usage and pass it
// in.
package economics

import "sort"

// Prices are Gemini's prices in US dollars per million tokens
// (GEMINI_PRICE_INPUT_PER_MTOK, GEMINI_PRICE_AUDIO_INPUT_PER_MTOK,
// GEMINI_PRICE_OUTPUT_PER_MTOK). Gemini charges audio input at its own,
// higher rate; text, images, video and documents at the input rate.
type Prices struct {
	InputPerMTok      float64
	AudioInputPerMTok float64
	OutputPerMTok     float64
}

// AICost is the price of the tokens, in dollars: input tokens, of which
// audio are audio (never more than input), and output tokens.
func (p Prices) AICost(input, audio, output int64) float64 {
	audio = max(min(audio, input), 0)
	return (float64(input-audio)*p.InputPerMTok + float64(audio)*p.AudioInputPerMTok + float64(output)*p.OutputPerMTok) / 1e6
}

// Usage is one tenant's model tokens over the period; AudioInputTokens are
// part of InputTokens.
type Usage struct {
	TenantID         int64
	InputTokens      int64
	AudioInputTokens int64
	OutputTokens     int64
}

// Node is a WAHA server's monthly cost in dollars and the numbers each
// tenant holds on it.
type Node struct {
	MonthlyCost float64
	Numbers     map[int64]int // tenant ID → numbers on the node
}

// TenantCost is one tenant's estimated cost, in dollars.
type TenantCost struct {
	TenantID         int64
	Name             string
	Numbers          int
	InputTokens      int64
	AudioInputTokens int64
	OutputTokens     int64
	AI               float64
	Servers          float64
}

// Total is the tenant's AI and server cost.
func (t TenantCost) Total() float64 { return t.AI + t.Servers }

// PerNumber is the tenant's cost per WhatsApp number; its whole cost when
// it has none.
func (t TenantCost) PerNumber() float64 {
	if t.Numbers == 0 {
		return t.Total()
	}
	return t.Total() / float64(t.Numbers)
}

// Report is every tenant's cost, the most expensive first, and the totals.
// Idle is the cost of servers holding no number, which no tenant bears.
type Report struct {
	Tenants []TenantCost
	Total   TenantCost
	Idle    float64
}

// Costs shares the cost out: each tenant pays its own tokens, and of each
// node's monthly cost the part its numbers hold (cost × its numbers on the
// node / numbers on the node). names names the tenants.
func Costs(p Prices, usage []Usage, nodes []Node, names map[int64]string) Report {
	byTenant := map[int64]*TenantCost{}
	get := func(id int64) *TenantCost {
		if byTenant[id] == nil {
			byTenant[id] = &TenantCost{TenantID: id, Name: names[id]}
		}
		return byTenant[id]
	}
	var r Report
	for _, u := range usage {
		t := get(u.TenantID)
		t.InputTokens += u.InputTokens
		t.AudioInputTokens += u.AudioInputTokens
		t.OutputTokens += u.OutputTokens
		t.AI += p.AICost(u.InputTokens, u.AudioInputTokens, u.OutputTokens)
	}
	for _, n := range nodes {
		held := 0
		for _, k := range n.Numbers {
			held += k
		}
		if held == 0 {
			r.Idle += n.MonthlyCost
			continue
		}
		for id, k := range n.Numbers {
			t := get(id)
			t.Numbers += k
			t.Servers += n.MonthlyCost * float64(k) / float64(held)
		}
	}
	for _, t := range byTenant {
		r.Tenants = append(r.Tenants, *t)
		r.Total.Numbers += t.Numbers
		r.Total.InputTokens += t.InputTokens
		r.Total.AudioInputTokens += t.AudioInputTokens
		r.Total.OutputTokens += t.OutputTokens
		r.Total.AI += t.AI
		r.Total.Servers += t.Servers
	}
	r.Total.Servers += r.Idle
	sort.Slice(r.Tenants, func(i, j int) bool {
		a, b := r.Tenants[i], r.Tenants[j]
		if a.Total() != b.Total() {
			return a.Total() > b.Total()
		}
		return a.TenantID < b.TenantID
	})
	return r
}

// Day is the model tokens of one day, all tenants together;
// AudioInputTokens are part of InputTokens.
type Day struct {
	InputTokens      int64
	AudioInputTokens int64
	OutputTokens     int64
}

// Daily is each day's cost: its tokens, and the servers' monthly cost
// spread evenly over the daysInMonth days of the month.
func Daily(p Prices, days []Day, serversMonthly float64, daysInMonth int) []float64 {
	out := make([]float64, len(days))
	for i, d := range days {
		out[i] = p.AICost(d.InputTokens, d.AudioInputTokens, d.OutputTokens) + serversMonthly/float64(daysInMonth)
	}
	return out
}
