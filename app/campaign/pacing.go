package campaign

import (
	"errors"
	"fmt"
	"time"
)

// Pace is how fast one WhatsApp number may send campaign messages. It is
// kept per number across all of a tenant's campaigns: sending in bursts or
// too much in a day is what gets numbers banned.
type Pace struct {
	// PerMinute is the average rate; the gap between two messages is
	// a minute divided by it (1 when not positive).
	PerMinute int
	// JitterPct varies each gap at random by up to this percentage either
	// way, so the sends do not look like a machine's.
	JitterPct int
	// PauseEvery messages (0: never), the number rests for PauseFor.
	PauseEvery int
	PauseFor   time.Duration
	// DailyCap is the most messages per day in the tenant's time zone
	// (0: no cap).
	DailyCap int
}

// DefaultPace is the pace a campaign starts with: 6 messages a minute
// ±30 %, a 5-minute pause every 50 messages, 300 a day.
func DefaultPace() Pace {
	return Pace{PerMinute: 6, JitterPct: 30, PauseEvery: 50, PauseFor: 5 * time.Minute, DailyCap: 300}
}

// Validate returns every out-of-range setting, joined.
func (p Pace) Validate() error {
	var errs []error
	if p.PerMinute < 1 || p.PerMinute > 60 {
		errs = append(errs, fmt.Errorf("messages per minute must be 1 to 60, not %d", p.PerMinute))
	}
	if p.JitterPct < 0 || p.JitterPct > 90 {
		errs = append(errs, fmt.Errorf("jitter must be 0 to 90 %%, not %d", p.JitterPct))
	}
	if p.PauseEvery < 0 || p.PauseFor < 0 || (p.PauseEvery > 0 && p.PauseFor <= 0) {
		errs = append(errs, errors.New("a pause needs a positive number of messages and a positive length"))
	}
	if p.DailyCap < 0 {
		errs = append(errs, fmt.Errorf("the daily cap cannot be negative (%d)", p.DailyCap))
	}
	return errors.Join(errs...)
}

// rampPct is the share of the rate and the daily cap a newly connected
// number gets, by whole days since it connected: days 0–2 a quarter, days
// 3–6 half, from day 7 the full pace.
func rampPct(day int) int {
	switch {
	case day < 3:
		return 25
	case day < 7:
		return 50
	}
	return 100
}

// Ramp is p made gentler for a number connected recently (see rampPct):
// new numbers that send at full speed at once are the first to be banned.
// Days are whole 24-hour periods since connectedAt (a future one counts as
// day 0); an unknown (zero) connectedAt counts as an old number. Rate and
// cap stay at least 1.
func Ramp(p Pace, connectedAt, now time.Time) Pace {
	if connectedAt.IsZero() {
		return p
	}
	pct := rampPct(max(0, int(now.Sub(connectedAt)/(24*time.Hour))))
	if pct == 100 {
		return p
	}
	p.PerMinute = max(1, p.PerMinute*pct/100)
	if p.DailyCap > 0 {
		p.DailyCap = max(1, p.DailyCap*pct/100)
	}
	return p
}

// RampFor is the default pace ramped for a number connected at
// connectedAt: days 0–2 1 a minute and 75 a day (25 %), days 3–6 3 a
// minute and 150 a day (50 %), then DefaultPace.
func RampFor(connectedAt, now time.Time) Pace { return Ramp(DefaultPace(), connectedAt, now) }

// NumberState is what one number has sent, as the pace needs it.
type NumberState struct {
	// SentToday counts the messages sent on Day.
	SentToday int
	// SentSincePause counts the messages sent since the last pause.
	SentSincePause int
	// LastSentAt is when the last message went out (zero: never).
	LastSentAt time.Time
	// Day is the midnight, in the tenant's time zone, starting the day
	// SentToday counts; its Location is the zone the cap rolls over in.
	Day time.Time
}

// DayStart is the midnight starting t's day in loc.
func DayStart(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// sentOn is how many messages count against the cap on the day of t.
func (st NumberState) sentOn(t time.Time) int {
	if st.Day.IsZero() || !DayStart(t, st.Day.Location()).Equal(st.Day) {
		return 0
	}
	return st.SentToday
}

// NextSendAt is the earliest time a number may send its next message, not
// before now. rnd, in [0, 1] (clamped), places the gap within the jitter:
// 0 the shortest, 1 the longest, 0.5 the average. After PauseEvery
// messages the gap is PauseFor instead. When the day's cap is reached, the
// next message waits for midnight in the tenant's zone (NumberState.Day).
// Quiet hours are applied after this, with NextAllowed.
func NextSendAt(p Pace, st NumberState, now time.Time, rnd float64) time.Time {
	at := now
	if !st.LastSentAt.IsZero() {
		gap := p.gap(rnd)
		if p.PauseEvery > 0 && st.SentSincePause >= p.PauseEvery {
			gap = max(gap, p.PauseFor)
		}
		if next := st.LastSentAt.Add(gap); next.After(at) {
			at = next
		}
	}
	if p.DailyCap > 0 && st.sentOn(at) >= p.DailyCap {
		at = DayStart(st.Day.AddDate(0, 0, 1).Add(time.Hour), st.Day.Location())
	}
	return at
}

// MinGap is the least time between two messages a number sends at pace
// p: half the average gap, below the shortest jittered one. A send that
// catches up with a late slot never follows the previous one closer than
// this, so a delay never turns into a burst.
func (p Pace) MinGap() time.Duration {
	return time.Minute / time.Duration(max(p.PerMinute, 1)) / 2
}

// CatchUp is when a number may send next, given next, the time its pace
// gives counting from the slot it sent in, and now, when it actually sent:
// next, but never closer to now than MinGap.
func (p Pace) CatchUp(next, now time.Time) time.Time {
	if floor := now.Add(p.MinGap()); next.Before(floor) {
		return floor
	}
	return next
}

// gap is the time between two messages at rate p, jittered by rnd.
func (p Pace) gap(rnd float64) time.Duration {
	rnd = min(max(rnd, 0), 1)
	base := time.Minute / time.Duration(max(p.PerMinute, 1))
	jitter := float64(min(max(p.JitterPct, 0), 100)) / 100
	return time.Duration(float64(base) * (1 + (2*rnd-1)*jitter))
}

// Record is st after a message was sent at t: the day rolls over at
// midnight in loc, and the pause count starts again after a pause (or any
// rest at least as long as one).
func (st NumberState) Record(p Pace, t time.Time, loc *time.Location) NumberState {
	day := DayStart(t, loc)
	if !day.Equal(st.Day) {
		st.Day, st.SentToday = day, 0
	}
	rested := !st.LastSentAt.IsZero() && p.PauseFor > 0 && t.Sub(st.LastSentAt) >= p.PauseFor
	if rested || (p.PauseEvery > 0 && st.SentSincePause >= p.PauseEvery) {
		st.SentSincePause = 0
	}
	st.SentToday++
	st.SentSincePause++
	st.LastSentAt = t
	return st
}

// QuietHours is a daily window, in minutes after local midnight, when no
// campaign message is sent: [Start, End). A Start after End spans
// midnight (21:00–09:00 is {1260, 540}); Start equal to End is no window.
type QuietHours struct {
	Start, End int
}

// Validate reports minutes outside a day.
func (q QuietHours) Validate() error {
	if q.Start < 0 || q.Start >= 24*60 || q.End < 0 || q.End >= 24*60 {
		return fmt.Errorf("quiet hours must be between 00:00 and 23:59, not %d–%d minutes", q.Start, q.End)
	}
	return nil
}

// NextAllowed is t, or when t falls in the quiet hours in loc, the end of
// them. Times are wall-clock times, so a window keeps its hours on a DST
// change day; an end that falls in the hour skipped in spring is the
// moment the clocks jump, and in autumn's repeated hour the later one.
func NextAllowed(t time.Time, q QuietHours, loc *time.Location) time.Time {
	if q.Start == q.End {
		return t
	}
	l := t.In(loc)
	m := l.Hour()*60 + l.Minute()
	day := l
	switch {
	case q.Start < q.End && (m < q.Start || m >= q.End):
		return t
	case q.Start > q.End && m >= q.End && m < q.Start:
		return t
	case q.Start > q.End && m >= q.Start:
		day = time.Date(l.Year(), l.Month(), l.Day()+1, 12, 0, 0, 0, loc)
	}
	return wallTime(day, q.End, loc)
}

// wallTime is the first moment of day (in loc) whose wall clock reads
// minute minutes after midnight.
func wallTime(day time.Time, minute int, loc *time.Location) time.Time {
	t := time.Date(day.Year(), day.Month(), day.Day(), minute/60, minute%60, 0, 0, loc)
	if t.Hour()*60+t.Minute() != minute {
		// In the skipped hour: Go moved past it; the clocks jumped at the
		// start of the zone t is in.
		start, _ := t.ZoneBounds()
		return start
	}
	return t
}
