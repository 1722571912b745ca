package campaign_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/campaign"
)

func TestAssign(t *testing.T) {
	full := campaign.NumberCapacity{Remaining: 300, PerDay: 300}
	tests := []struct {
		name       string
		recipients int
		numbers    []campaign.NumberCapacity
		want       []int
	}{
		{"one number", 10, []campaign.NumberCapacity{full}, []int{10}},
		{"two equal", 10, []campaign.NumberCapacity{full, full}, []int{5, 5}},
		{"odd count: the earlier number gets the extra", 11, []campaign.NumberCapacity{full, full}, []int{6, 5}},
		{"weighted by what is left today", 100, []campaign.NumberCapacity{full, {Remaining: 100, PerDay: 300}}, []int{75, 25}},
		{"a number at its cap gets none today", 50, []campaign.NumberCapacity{full, {Remaining: 0, PerDay: 300}}, []int{50, 0}},
		{"beyond today: the rest by full days", 500, []campaign.NumberCapacity{{Remaining: 100, PerDay: 300}, {Remaining: 0, PerDay: 300}}, []int{300, 200}},
		{"a bigger cap takes more", 400, []campaign.NumberCapacity{{Remaining: 300, PerDay: 300}, {Remaining: 100, PerDay: 100}}, []int{300, 100}},
		{"no capacity at all: equal", 10, []campaign.NumberCapacity{{}, {}, {}}, []int{4, 3, 3}},
		{"no recipients", 0, []campaign.NumberCapacity{full, full}, []int{0, 0}},
		{"no numbers", 10, nil, []int{}},
		{"negative capacity counts as none", 4, []campaign.NumberCapacity{{Remaining: -5, PerDay: -5}, full}, []int{0, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, campaign.Assign(tt.recipients, tt.numbers)); diff != "" {
				t.Errorf("Assign (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAssignAddsUp checks on random inputs that every recipient is
// assigned once and no number passes today's capacity while others have
// room.
func TestAssignAddsUp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		numbers := make([]campaign.NumberCapacity, 1+r.IntN(6))
		left := 0
		for i := range numbers {
			numbers[i].PerDay = r.IntN(500)
			numbers[i].Remaining = r.IntN(numbers[i].PerDay + 1)
			left += numbers[i].Remaining
		}
		recipients := r.IntN(3000)
		got := campaign.Assign(recipients, numbers)
		sum := 0
		for i, c := range got {
			sum += c
			if recipients <= left && c > numbers[i].Remaining {
				t.Fatalf("Assign(%d, %+v) = %v: number %d over today's capacity", recipients, numbers, got, i)
			}
		}
		if sum != recipients {
			t.Fatalf("Assign(%d, %+v) = %v adds up to %d", recipients, numbers, got, sum)
		}
	}
}

func TestCapacityOf(t *testing.T) {
	utc := time.UTC
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, utc)
	today, yesterday := campaign.DayStart(now, utc), campaign.DayStart(now.AddDate(0, 0, -1), utc)
	tests := []struct {
		name string
		p    campaign.Pace
		st   campaign.NumberState
		want campaign.NumberCapacity
	}{
		{"fresh", campaign.DefaultPace(), campaign.NumberState{}, campaign.NumberCapacity{Remaining: 300, PerDay: 300}},
		{"100 sent today", campaign.DefaultPace(), campaign.NumberState{SentToday: 100, Day: today}, campaign.NumberCapacity{Remaining: 200, PerDay: 300}},
		{"300 sent yesterday", campaign.DefaultPace(), campaign.NumberState{SentToday: 300, Day: yesterday}, campaign.NumberCapacity{Remaining: 300, PerDay: 300}},
		{"over the cap", campaign.DefaultPace(), campaign.NumberState{SentToday: 310, Day: today}, campaign.NumberCapacity{Remaining: 0, PerDay: 300}},
		{"no cap: the rate's day", campaign.Pace{PerMinute: 2}, campaign.NumberState{}, campaign.NumberCapacity{Remaining: 2880, PerDay: 2880}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := campaign.CapacityOf(tt.p, tt.st, now); got != tt.want {
				t.Errorf("CapacityOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEstimate(t *testing.T) {
	madrid := mustZone(t, "Europe/Madrid")
	at := func(day, hour, min, sec int) time.Time { return time.Date(2026, 11, day, hour, min, sec, 0, madrid) }
	now := at(23, 12, 0, 0)
	plan := campaign.NumberPlan{Pace: campaign.DefaultPace()}
	night := plan
	night.Quiet = campaign.QuietHours{Start: 21 * 60, End: 9 * 60}
	fresh := campaign.NumberPlan{Pace: campaign.RampFor(now, now)} // 1 a minute, 75 a day
	tests := []struct {
		name       string
		recipients int
		numbers    []campaign.NumberPlan
		now        time.Time
		want       time.Time
	}{
		{"no recipients", 0, []campaign.NumberPlan{plan}, now, now},
		{"no numbers", 10, nil, now, time.Time{}},
		{"one message", 1, []campaign.NumberPlan{plan}, now, now},
		{"ten, 10 s apart", 10, []campaign.NumberPlan{plan}, now, now.Add(90 * time.Second)},
		{"fifty: no pause yet", 50, []campaign.NumberPlan{plan}, now, now.Add(490 * time.Second)},
		{"fifty-one: the pause", 51, []campaign.NumberPlan{plan}, now, now.Add(790 * time.Second)},
		{"two numbers share", 20, []campaign.NumberPlan{plan, plan}, now, now.Add(90 * time.Second)},
		// 300 sends: 294 gaps of 10 s and 5 pauses of 5 min, then the cap.
		{"the cap: the rest tomorrow", 301, []campaign.NumberPlan{plan}, now, at(24, 0, 0, 0)},
		{"the day's 300", 300, []campaign.NumberPlan{plan}, now, now.Add(4440 * time.Second)},
		{"quiet hours stop the evening", 10, []campaign.NumberPlan{night}, at(23, 20, 59, 0), at(24, 9, 0, 30)},
		{"a new number ramps", 3, []campaign.NumberPlan{fresh}, now, now.Add(2 * time.Minute)},
		{"a new number's cap", 76, []campaign.NumberPlan{fresh}, now, at(24, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := campaign.Estimate(tt.recipients, tt.numbers, tt.now, madrid); !got.Equal(tt.want) {
				t.Errorf("Estimate = %v, want %v", got.In(madrid), tt.want)
			}
		})
	}
}

func TestEstimateLargeCampaign(t *testing.T) {
	madrid := mustZone(t, "Europe/Madrid")
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, madrid)
	plans := []campaign.NumberPlan{{Pace: campaign.DefaultPace()}, {Pace: campaign.DefaultPace()}, {Pace: campaign.DefaultPace()}}
	got := campaign.Estimate(100000, plans, now, madrid)
	// 300 a day on each of three numbers: the 33,334th of a number goes out
	// 111 days after the first.
	if days := campaign.DaysAfter(now, got, madrid); days != 111 {
		t.Errorf("100,000 recipients on three numbers finish %d days later (%v), want 111", days, got)
	}
}

func TestDaysAfter(t *testing.T) {
	madrid := mustZone(t, "Europe/Madrid")
	at := func(mon time.Month, day, hour int) time.Time { return time.Date(2026, mon, day, hour, 0, 0, 0, madrid) }
	tests := []struct {
		name        string
		now, finish time.Time
		want        int
	}{
		{"today", at(11, 23, 9), at(11, 23, 23), 0},
		{"tomorrow just after midnight", at(11, 23, 22), at(11, 24, 1), 1},
		{"tomorrow in UTC, today in Madrid", at(11, 23, 9), time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC), 1},
		{"over the spring DST change", at(3, 28, 12), at(3, 29, 23), 1},
		{"over the autumn DST change", at(10, 24, 12), at(10, 26, 1), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := campaign.DaysAfter(tt.now, tt.finish, madrid); got != tt.want {
				t.Errorf("DaysAfter = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCost(t *testing.T) {
	tests := []struct {
		name       string
		recipients int
		price      int64
		want       int64
	}{
		{"simple", 1200, 2, 2400},
		{"free", 1200, 0, 0},
		{"no recipients", 0, 5, 0},
		{"100,000 at a high price", 100000, 1_000_000, 100_000_000_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := campaign.Cost(tt.recipients, tt.price); got != tt.want {
				t.Errorf("Cost = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCostCheck(t *testing.T) {
	tests := []struct {
		name          string
		cost, balance int64
		want          campaign.Coverage
	}{
		{"covered", 100, 250, campaign.Coverage{Cost: 100, Balance: 250, Covered: true}},
		{"exactly", 100, 100, campaign.Coverage{Cost: 100, Balance: 100, Covered: true}},
		{"short", 100, 30, campaign.Coverage{Cost: 100, Balance: 30, Short: 70}},
		{"empty balance", 100, 0, campaign.Coverage{Cost: 100, Short: 100}},
		{"nothing to pay", 0, 0, campaign.Coverage{Covered: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := campaign.CostCheck(tt.cost, tt.balance); got != tt.want {
				t.Errorf("CostCheck = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestAffordable(t *testing.T) {
	tests := []struct {
		name           string
		balance, price int64
		want           int64
	}{
		{"some", 250, 2, 125},
		{"rounded down", 251, 2, 125},
		{"none", 0, 2, 0},
		{"negative balance", -10, 2, 0},
		{"free", 10, 0, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := campaign.Affordable(tt.balance, tt.price); got != tt.want {
				t.Errorf("Affordable = %d, want %d", got, tt.want)
			}
		})
	}
}
