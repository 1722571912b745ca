package jobs

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPeriodics(t *testing.T) {
	every := func(minute time.Duration) map[string]time.Duration {
		got := map[string]time.Duration{}
		for _, p := range Periodics(minute) {
			task, err := p.Task()
			if err != nil {
				t.Fatal(err)
			}
			got[task.Type()] = p.Every
		}
		return got
	}
	tests := []struct {
		name   string
		minute time.Duration
		want   map[string]time.Duration
	}{
		{"production", time.Minute, map[string]time.Duration{
			TypeAuditLedger: time.Hour, TypeCleanupSessions: 15 * time.Minute,
			TypeCheckInstances: time.Minute, TypeReturnHandoffs: time.Minute,
			TypeBillingDue: 5 * time.Minute, TypeLowBalance: 5 * time.Minute,
		}},
		{"tests' two-second minute", 2 * time.Second, map[string]time.Duration{
			TypeAuditLedger: 120 * time.Second, TypeCleanupSessions: 30 * time.Second,
			TypeCheckInstances: 2 * time.Second, TypeReturnHandoffs: 2 * time.Second,
			TypeBillingDue: 10 * time.Second, TypeLowBalance: 10 * time.Second,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, every(tt.minute)); diff != "" {
				t.Errorf("periods (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDue(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name      string
		now       string
		every     time.Duration
		last      string // "" : nothing enqueued yet by this process
		wantStart string
		wantDue   bool
	}{
		{"a worker's first tick enqueues the current period",
			"2026-11-30T12:00:05Z", time.Minute, "", "2026-11-30T12:00:00Z", true},
		{"a worker started 25 s later names the same period",
			"2026-11-30T12:00:30Z", time.Minute, "", "2026-11-30T12:00:00Z", true},
		{"later in the period: nothing to do",
			"2026-11-30T12:00:59.999Z", time.Minute, "2026-11-30T12:00:00Z", "2026-11-30T12:00:00Z", false},
		{"the next period starts on the clock's minute",
			"2026-11-30T12:01:00Z", time.Minute, "2026-11-30T12:00:00Z", "2026-11-30T12:01:00Z", true},
		{"after a pause the current period only, not the missed ones",
			"2026-11-30T12:07:10Z", time.Minute, "2026-11-30T12:00:00Z", "2026-11-30T12:07:00Z", true},
		{"hourly on the hour",
			"2026-11-30T12:59:59Z", time.Hour, "2026-11-30T11:00:00Z", "2026-11-30T12:00:00Z", true},
		{"fifteen minutes on the quarter",
			"2026-11-30T12:44:00Z", 15 * time.Minute, "2026-11-30T12:30:00Z", "2026-11-30T12:30:00Z", false},
		{"five minutes",
			"2026-11-30T12:05:00Z", 5 * time.Minute, "2026-11-30T12:00:00Z", "2026-11-30T12:05:00Z", true},
		{"a test's two-second period",
			"2026-11-30T12:00:03.5Z", 2 * time.Second, "2026-11-30T12:00:00Z", "2026-11-30T12:00:02Z", true},
		{"a clock in another zone names the same period",
			"2026-11-30T09:00:30-03:00", time.Hour, "2026-11-30T12:00:00Z", "2026-11-30T12:00:00Z", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var last time.Time
			if tt.last != "" {
				last = at(tt.last)
			}
			start, ok := due(at(tt.now), tt.every, last)
			if !start.Equal(at(tt.wantStart)) || ok != tt.wantDue {
				t.Errorf("due = %s, %v; want %s, %v", start, ok, tt.wantStart, tt.wantDue)
			}
		})
	}
}

func TestPeriodTaskID(t *testing.T) {
	start := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"type, period start and length", PeriodTaskID(TypeAuditLedger, time.Hour, start), "ledger:audit:1796040000:3600"},
		{"same period from another zone", PeriodTaskID(TypeAuditLedger, time.Hour, start.In(time.FixedZone("BRT", -3*3600))), "ledger:audit:1796040000:3600"},
		{"next period", PeriodTaskID(TypeCheckInstances, time.Minute, start.Add(time.Minute)), "instances:check:1796040060:60"},
		{"a shorter period starting at the same instant", PeriodTaskID(TypeCheckInstances, 2*time.Second, start.Add(time.Minute)), "instances:check:1796040060:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestNewScheduler(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name     string
		minute   time.Duration
		wantTick time.Duration
	}{
		{"production ticks each second", time.Minute, time.Second},
		{"a two-second minute ticks every 100 ms", 2 * time.Second, 100 * time.Millisecond},
		{"a one-second minute ticks every 50 ms", time.Second, 50 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewScheduler(nil, Periodics(tt.minute), log)
			if err != nil {
				t.Fatal(err)
			}
			if s.tick != tt.wantTick {
				t.Errorf("tick %s, want %s", s.tick, tt.wantTick)
			}
		})
	}
	if _, err := NewScheduler(nil, []Periodic{{Every: 500 * time.Millisecond, Task: NewAuditLedgerTask}}, log); err == nil {
		t.Error("a period under a second was accepted")
	}
}
