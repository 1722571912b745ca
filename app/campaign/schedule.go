package campaign

import (
	"math"
	"time"
)

// NumberCapacity is how much one number can still send.
type NumberCapacity struct {
	// Remaining is what it may still send today.
	Remaining int
	// PerDay is what it may send on a full day (its daily cap).
	PerDay int
}

// CapacityOf is a number's capacity at now under pace p. A pace without a
// daily cap counts what its rate allows in 24 hours.
func CapacityOf(p Pace, st NumberState, now time.Time) NumberCapacity {
	perDay := p.DailyCap
	if perDay <= 0 {
		perDay = max(p.PerMinute, 1) * 60 * 24
	}
	return NumberCapacity{Remaining: max(0, perDay-st.sentOn(now)), PerDay: perDay}
}

// Assign spreads recipients over numbers and returns how many each one
// sends, in the same order. What the numbers can still send today is
// shared in proportion to what each has left today; recipients beyond that
// are shared in proportion to each number's full day. So a number that has
// already sent much today gets fewer, and the numbers finish together.
// Numbers with no capacity at all get none unless all are so, in which
// case they share equally. Shares are rounded by largest remainder (ties to
// the earlier number), so they add up to recipients exactly.
func Assign(recipients int, numbers []NumberCapacity) []int {
	out := make([]int, len(numbers))
	if recipients <= 0 || len(numbers) == 0 {
		return out
	}
	today, perDay := make([]int, len(numbers)), make([]int, len(numbers))
	left := 0
	for i, n := range numbers {
		today[i], perDay[i] = max(n.Remaining, 0), max(n.PerDay, 0)
		left += today[i]
	}
	first := min(recipients, left)
	for i, c := range shareOut(first, today) {
		out[i] += c
	}
	for i, c := range shareOut(recipients-first, perDay) {
		out[i] += c
	}
	return out
}

// shareOut splits total in proportion to weights by largest remainder; with
// no weight at all it splits equally.
func shareOut(total int, weights []int) []int {
	out := make([]int, len(weights))
	var sum int64
	for _, w := range weights {
		sum += int64(w)
	}
	if total <= 0 {
		return out
	}
	if sum == 0 {
		weights = make([]int, len(weights))
		for i := range weights {
			weights[i] = 1
		}
		sum = int64(len(weights))
	}
	rem := make([]int64, len(weights))
	given := 0
	for i, w := range weights {
		share := int64(total) * int64(w)
		out[i], rem[i] = int(share/sum), share%sum
		given += out[i]
	}
	for ; given < total; given++ {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		out[best]++
		rem[best] = -1
	}
	return out
}

// NumberPlan is one number's part in a campaign, for Estimate.
type NumberPlan struct {
	Pace  Pace
	State NumberState
	Quiet QuietHours
}

// Estimate is when a campaign of recipients, starting at now, should
// finish: recipients are spread with Assign and each number's share is
// played out with the average gap (NextSendAt with rnd 0.5), its pauses,
// its daily cap and the quiet hours, in the tenant's zone loc. Each pace
// is taken as it is at now: a new number's ramp is not sped up over the
// days, so the estimate errs late. With no recipients it is now; with no
// numbers, the zero time.
func Estimate(recipients int, numbers []NumberPlan, now time.Time, loc *time.Location) time.Time {
	if recipients <= 0 {
		return now
	}
	if len(numbers) == 0 {
		return time.Time{}
	}
	caps := make([]NumberCapacity, len(numbers))
	for i, n := range numbers {
		caps[i] = CapacityOf(n.Pace, n.State, now)
	}
	finish := now
	for i, count := range Assign(recipients, caps) {
		n := numbers[i]
		st, t := n.State, now
		for range count {
			t = NextAllowed(NextSendAt(n.Pace, st, t, 0.5), n.Quiet, loc)
			st = st.Record(n.Pace, t, loc)
		}
		if t.After(finish) {
			finish = t
		}
	}
	return finish
}

// DaysAfter is how many calendar days in loc finish falls after now: 0
// today, 1 tomorrow, and so on, for "finishing today 18:40".
func DaysAfter(now, finish time.Time, loc *time.Location) int {
	d := DayStart(finish, loc).Sub(DayStart(now, loc)).Hours() / 24
	return int(math.Round(d)) // DST days have 23 or 25 hours
}

// Cost is what sending recipients messages costs, in credits.
func Cost(recipients int, pricePerMessage int64) int64 {
	if recipients <= 0 || pricePerMessage <= 0 {
		return 0
	}
	return int64(recipients) * pricePerMessage
}

// Coverage says whether a balance covers a campaign's cost.
type Coverage struct {
	Cost    int64
	Balance int64
	// Covered is true when the balance is at least the cost.
	Covered bool
	// Short is how much the balance lacks (0 when covered).
	Short int64
}

// CostCheck compares a campaign's cost with the tenant's balance, for the
// warning shown before launch.
func CostCheck(cost, balance int64) Coverage {
	c := Coverage{Cost: cost, Balance: balance, Covered: balance >= cost}
	if !c.Covered {
		c.Short = cost - balance
	}
	return c
}

// Affordable is how many messages a balance pays for ("your credits cover
// 1,200 of 5,000 messages").
func Affordable(balance, pricePerMessage int64) int64 {
	if balance <= 0 {
		return 0
	}
	if pricePerMessage <= 0 {
		return math.MaxInt64
	}
	return balance / pricePerMessage
}
