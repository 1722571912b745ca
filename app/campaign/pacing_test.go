package campaign_test

import (
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/campaign"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestNextSendAt(t *testing.T) {
	madrid := mustZone(t, "Europe/Madrid")
	at := func(day, hour, min, sec int) time.Time { return time.Date(2026, 11, day, hour, min, sec, 0, madrid) }
	p := campaign.DefaultPace() // a message every 10 s ±3 s, 5 min pause every 50, 300 a day
	now := at(23, 12, 0, 0)
	today := campaign.DayStart(now, madrid)
	sent := func(n, sincePause int, last time.Time) campaign.NumberState {
		return campaign.NumberState{SentToday: n, SentSincePause: sincePause, LastSentAt: last, Day: today}
	}
	tests := []struct {
		name string
		p    campaign.Pace
		st   campaign.NumberState
		now  time.Time
		rnd  float64
		want time.Time
	}{
		{"never sent: now", p, campaign.NumberState{}, now, 0.5, now},
		{"just sent, average gap", p, sent(1, 1, now), now, 0.5, now.Add(10 * time.Second)},
		{"shortest jitter", p, sent(1, 1, now), now, 0, now.Add(7 * time.Second)},
		{"longest jitter", p, sent(1, 1, now), now, 1, now.Add(13 * time.Second)},
		{"rnd clamped below", p, sent(1, 1, now), now, -3, now.Add(7 * time.Second)},
		{"rnd clamped above", p, sent(1, 1, now), now, 9, now.Add(13 * time.Second)},
		{"no jitter", campaign.Pace{PerMinute: 2}, sent(1, 1, now), now, 1, now.Add(30 * time.Second)},
		{"gap already over", p, sent(1, 1, now.Add(-time.Minute)), now, 0.5, now},
		{"49 since the pause: normal gap", p, sent(49, 49, now), now, 0.5, now.Add(10 * time.Second)},
		{"50 since the pause: pause", p, sent(50, 50, now), now, 0.5, now.Add(5 * time.Minute)},
		{"pause partly over", p, sent(50, 50, now.Add(-2*time.Minute)), now, 0.5, now.Add(3 * time.Minute)},
		{"no pauses", campaign.Pace{PerMinute: 6, DailyCap: 300}, sent(50, 50, now), now, 0.5, now.Add(10 * time.Second)},
		{"cap reached: local midnight", p, sent(300, 10, now), now, 0.5, at(24, 0, 0, 0)},
		{"one below the cap", p, sent(299, 10, now), now, 0.5, now.Add(10 * time.Second)},
		{"cap from yesterday is over", p, campaign.NumberState{SentToday: 300, SentSincePause: 10, LastSentAt: at(22, 23, 0, 0), Day: campaign.DayStart(at(22, 0, 0, 0), madrid)}, now, 0.5, now},
		{"cap reached at 23:59:55, gap crosses midnight", p, campaign.NumberState{SentToday: 300, SentSincePause: 1, LastSentAt: at(23, 23, 59, 55), Day: today}, at(23, 23, 59, 55), 0.5, at(24, 0, 0, 5)},
		{"no cap", campaign.Pace{PerMinute: 6}, sent(5000, 1, now), now, 0.5, now.Add(10 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := campaign.NextSendAt(tt.p, tt.st, tt.now, tt.rnd); !got.Equal(tt.want) {
				t.Errorf("NextSendAt = %v, want %v", got.In(madrid), tt.want)
			}
		})
	}
}

// TestNextSendAtCapRollsInTenantZone checks that the cap rolls at the
// tenant's midnight, not UTC's: in São Paulo (UTC-3) 22:00 is already the
// next day in UTC but the same day for the tenant.
func TestCatchUpNeverBursts(t *testing.T) {
	now := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	p := campaign.Pace{PerMinute: 60, JitterPct: 30}
	for _, tt := range []struct {
		name string
		next time.Time
		want time.Time
	}{
		{"on time: the pace's own slot", now.Add(900 * time.Millisecond), now.Add(900 * time.Millisecond)},
		{"a late send's next slot already passed: half a gap from now", now.Add(-200 * time.Millisecond), now.Add(500 * time.Millisecond)},
		{"a slot just after now: still half a gap", now.Add(100 * time.Millisecond), now.Add(500 * time.Millisecond)},
		{"a pause stays a pause", now.Add(5 * time.Minute), now.Add(5 * time.Minute)},
	} {
		if got := p.CatchUp(tt.next, now); !got.Equal(tt.want) {
			t.Errorf("%s: %s, want %s", tt.name, got.Sub(now), tt.want.Sub(now))
		}
	}
	if g := (campaign.Pace{PerMinute: 6}).MinGap(); g != 5*time.Second {
		t.Errorf("min gap at 6/min = %s", g)
	}
	if g := (campaign.Pace{}).MinGap(); g != 30*time.Second {
		t.Errorf("min gap of an unset pace = %s", g)
	}
}

func TestNextSendAtCapRollsInTenantZone(t *testing.T) {
	sp := mustZone(t, "America/Sao_Paulo")
	p := campaign.DefaultPace()
	st := campaign.NumberState{}
	first := time.Date(2026, 11, 23, 9, 0, 0, 0, sp)
	for i := range p.DailyCap {
		st = st.Record(p, first.Add(time.Duration(i)*time.Minute), sp)
	}
	if st.SentToday != p.DailyCap {
		t.Fatalf("sent today %d, want %d", st.SentToday, p.DailyCap)
	}
	late := time.Date(2026, 11, 23, 22, 0, 0, 0, sp) // 01:00 UTC on the 24th
	want := time.Date(2026, 11, 24, 0, 0, 0, 0, sp)
	if got := campaign.NextSendAt(p, st, late, 0.5); !got.Equal(want) {
		t.Errorf("NextSendAt at 22:00 with the cap reached = %v, want %v", got.In(sp), want)
	}
	next := st.Record(p, want, sp)
	if next.SentToday != 1 || !next.Day.Equal(want) {
		t.Errorf("after midnight: sent today %d on %v, want 1 on %v", next.SentToday, next.Day, want)
	}
}

func TestRecord(t *testing.T) {
	utc := time.UTC
	p := campaign.DefaultPace()
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, utc)
	day := campaign.DayStart(t0, utc)
	tests := []struct {
		name      string
		st        campaign.NumberState
		at        time.Time
		today     int
		sincePaus int
	}{
		{"first ever", campaign.NumberState{}, t0, 1, 1},
		{"next one", campaign.NumberState{SentToday: 3, SentSincePause: 3, LastSentAt: t0, Day: day}, t0.Add(10 * time.Second), 4, 4},
		{"after the pause", campaign.NumberState{SentToday: 50, SentSincePause: 50, LastSentAt: t0, Day: day}, t0.Add(5 * time.Minute), 51, 1},
		{"after a long rest", campaign.NumberState{SentToday: 20, SentSincePause: 20, LastSentAt: t0, Day: day}, t0.Add(time.Hour), 21, 1},
		{"a new day", campaign.NumberState{SentToday: 300, SentSincePause: 7, LastSentAt: t0, Day: day}, day.AddDate(0, 0, 1), 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.st.Record(p, tt.at, utc)
			if got.SentToday != tt.today || got.SentSincePause != tt.sincePaus || !got.LastSentAt.Equal(tt.at) || !got.Day.Equal(campaign.DayStart(tt.at, utc)) {
				t.Errorf("Record = %+v, want %d today, %d since the pause, last at %v", got, tt.today, tt.sincePaus, tt.at)
			}
		})
	}
}

func TestRamp(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	daysAgo := func(d float64) time.Time { return now.Add(-time.Duration(d * float64(24*time.Hour))) }
	tests := []struct {
		name      string
		connected time.Time
		perMinute int
		cap       int
	}{
		{"connected just now", now, 1, 75},
		{"connected in the future (clock skew)", now.Add(time.Hour), 1, 75},
		{"day 2", daysAgo(2.9), 1, 75},
		{"day 3", daysAgo(3), 3, 150},
		{"day 6", daysAgo(6.9), 3, 150},
		{"day 7", daysAgo(7), 6, 300},
		{"a year", daysAgo(365), 6, 300},
		{"unknown", time.Time{}, 6, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := campaign.RampFor(tt.connected, now)
			if got.PerMinute != tt.perMinute || got.DailyCap != tt.cap {
				t.Errorf("RampFor = %d/min %d/day, want %d/min %d/day", got.PerMinute, got.DailyCap, tt.perMinute, tt.cap)
			}
			if got.JitterPct != 30 || got.PauseEvery != 50 || got.PauseFor != 5*time.Minute {
				t.Errorf("RampFor changed jitter or pauses: %+v", got)
			}
		})
	}
	slow := campaign.Ramp(campaign.Pace{PerMinute: 2, DailyCap: 2}, now, now)
	if slow.PerMinute != 1 || slow.DailyCap != 1 {
		t.Errorf("a ramped pace must keep at least 1/min and 1/day, got %+v", slow)
	}
	if uncapped := campaign.Ramp(campaign.Pace{PerMinute: 8}, now, now); uncapped.DailyCap != 0 {
		t.Errorf("no cap must stay no cap, got %d", uncapped.DailyCap)
	}
}

func TestPaceValidate(t *testing.T) {
	tests := []struct {
		name string
		p    campaign.Pace
		want string
	}{
		{"default", campaign.DefaultPace(), ""},
		{"no pauses, no cap", campaign.Pace{PerMinute: 10}, ""},
		{"zero rate", campaign.Pace{}, "per minute"},
		{"too fast", campaign.Pace{PerMinute: 61}, "per minute"},
		{"jitter", campaign.Pace{PerMinute: 1, JitterPct: 95}, "jitter"},
		{"pause without length", campaign.Pace{PerMinute: 1, PauseEvery: 10}, "pause"},
		{"negative cap", campaign.Pace{PerMinute: 1, DailyCap: -1}, "cap"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestNextAllowed(t *testing.T) {
	madrid := mustZone(t, "Europe/Madrid")
	at := func(mon time.Month, day, hour, min int) time.Time {
		return time.Date(2026, mon, day, hour, min, 0, 0, madrid)
	}
	utc := func(mon time.Month, day, hour, min int) time.Time {
		return time.Date(2026, mon, day, hour, min, 0, 0, time.UTC)
	}
	night := campaign.QuietHours{Start: 21 * 60, End: 9 * 60}  // 21:00–09:00, over midnight
	lunch := campaign.QuietHours{Start: 14 * 60, End: 16 * 60} // 14:00–16:00
	early := campaign.QuietHours{Start: 60, End: 150}          // 01:00–02:30, ends in the skipped hour on 29 March
	tests := []struct {
		name string
		t    time.Time
		q    campaign.QuietHours
		want time.Time
	}{
		{"no quiet hours", at(11, 23, 3, 0), campaign.QuietHours{}, at(11, 23, 3, 0)},
		{"daytime, before the window", at(11, 23, 13, 59), lunch, at(11, 23, 13, 59)},
		{"in the window", at(11, 23, 14, 0), lunch, at(11, 23, 16, 0)},
		{"at the end", at(11, 23, 16, 0), lunch, at(11, 23, 16, 0)},
		{"over midnight, evening", at(11, 23, 22, 30), night, at(11, 24, 9, 0)},
		{"over midnight, at the start", at(11, 23, 21, 0), night, at(11, 24, 9, 0)},
		{"over midnight, after midnight", at(11, 24, 3, 0), night, at(11, 24, 9, 0)},
		{"over midnight, open", at(11, 24, 9, 0), night, at(11, 24, 9, 0)},
		{"over midnight, open before the start", at(11, 24, 20, 59), night, at(11, 24, 20, 59)},
		{"month end", at(11, 30, 23, 0), night, at(12, 1, 9, 0)},
		// 29 March 2026: Madrid goes from 02:00 CET to 03:00 CEST.
		{"DST night: evening before", at(3, 28, 22, 0), night, utc(3, 29, 7, 0)},
		{"DST night: before the jump", utc(3, 29, 0, 30), night, utc(3, 29, 7, 0)},
		{"DST night: after the jump", utc(3, 29, 1, 30), night, utc(3, 29, 7, 0)},
		{"DST: end in the skipped hour", utc(3, 29, 0, 15), early, utc(3, 29, 1, 0)},
		{"DST: after the window", utc(3, 29, 1, 0), early, utc(3, 29, 1, 0)},
		{"DST: window the day after", at(3, 30, 1, 30), early, utc(3, 30, 0, 30)},
		// 25 October 2026: 03:00 CEST back to 02:00 CET; 02:30 happens twice.
		{"autumn DST: end in the repeated hour is the later one", utc(10, 24, 23, 30), early, utc(10, 25, 1, 30)},
		{"autumn DST night", at(10, 24, 22, 0), night, utc(10, 25, 8, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := campaign.NextAllowed(tt.t, tt.q, madrid); !got.Equal(tt.want) {
				t.Errorf("NextAllowed(%v) = %v, want %v", tt.t.In(madrid), got.In(madrid), tt.want.In(madrid))
			}
		})
	}
}

func TestQuietHoursValidate(t *testing.T) {
	for _, q := range []campaign.QuietHours{{}, {Start: 21 * 60, End: 9 * 60}, {Start: 0, End: 1439}} {
		if err := q.Validate(); err != nil {
			t.Errorf("%+v: %v", q, err)
		}
	}
	for _, q := range []campaign.QuietHours{{Start: -1}, {Start: 0, End: 1440}} {
		if err := q.Validate(); err == nil {
			t.Errorf("%+v: want an error", q)
		}
	}
}
