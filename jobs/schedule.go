package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
)

// Periodic is a task enqueued once per period.
type Periodic struct {
	Every time.Duration
	Task  func() (*asynq.Task, error)
}

// Periodics lists the periodic tasks. Periods are written in production
// minutes; minute is how long a minute lasts (time.Minute in production,
// seconds in tests, SCHEDULE_MINUTE), so every period shrinks alike.
// Recovery of unfinished work is not a periodic task: every worker runs the
// sweeper (RunSweeper).
func Periodics(minute time.Duration) []Periodic {
	ps := []Periodic{
		{time.Hour, NewAuditLedgerTask},
		{15 * time.Minute, NewCleanupSessionsTask},
		{time.Minute, NewCheckInstancesTask},
		{time.Minute, NewReturnHandoffsTask},
		{5 * time.Minute, NewBillingDueTask},
		{5 * time.Minute, NewLowBalanceTask},
	}
	for i := range ps {
		// Whole minutes each: the product cannot overflow.
		ps[i].Every = ps[i].Every / time.Minute * minute
	}
	return ps
}

// PeriodStart is the start of the period of length every that holds now.
// Periods are aligned on the clock (a minute's period starts at :00), not
// on when a process started, so every worker names the same period alike.
func PeriodStart(now time.Time, every time.Duration) time.Time {
	return now.Truncate(every)
}

// due reports the period to enqueue now, if any: the current period when it
// is not the last one enqueued by this process.
func due(now time.Time, every time.Duration, last time.Time) (time.Time, bool) {
	start := PeriodStart(now, every)
	return start, !start.Equal(last)
}

// PeriodTaskID is the task id of a periodic task's run for the period of
// length every starting at start. Every worker enqueues the current period
// under this id; asynq refuses all but the first (ErrTaskIDConflict), and
// keeps the id taken after the run for the task's retention (two periods).
// The id names the period's length too: a minute period and a 2 s one can
// start at the same instant, and workers run with a shorter
// SCHEDULE_MINUTE must not find a period taken by ones with another.
func PeriodTaskID(taskType string, every time.Duration, start time.Time) string {
	return fmt.Sprintf("%s:%d:%d", taskType, start.Unix(), every/time.Second)
}

// Scheduler enqueues each periodic task once per period, however many
// worker processes run one and whenever they start: each names the
// current period by the clock and enqueues it under the period's task id.
// A worker started mid-period enqueues that period if no other did.
type Scheduler struct {
	queue     *asynq.Client
	periodics []Periodic
	tick      time.Duration
	log       *slog.Logger
}

// NewScheduler returns the scheduler of the given periodic tasks.
func NewScheduler(queue *asynq.Client, ps []Periodic, log *slog.Logger) (*Scheduler, error) {
	shortest := time.Duration(0)
	for _, p := range ps {
		if p.Every < time.Second {
			return nil, fmt.Errorf("schedule: period %s is shorter than a second", p.Every)
		}
		if shortest == 0 || p.Every < shortest {
			shortest = p.Every
		}
	}
	// A new period is seen within a twentieth of the shortest period, at
	// most a second late; between periods a tick costs no Redis call.
	tick := min(max(shortest/20, 50*time.Millisecond), time.Second)
	return &Scheduler{queue: queue, periodics: ps, tick: tick, log: log.With("component", "scheduler")}, nil
}

// Run enqueues periodic tasks until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	last := make([]time.Time, len(s.periodics))
	t := time.NewTicker(s.tick)
	defer t.Stop()
	for {
		for i, p := range s.periodics {
			start, ok := due(time.Now(), p.Every, last[i])
			if !ok {
				continue
			}
			if err := s.enqueue(ctx, p, start); err != nil {
				if ctx.Err() == nil {
					s.log.WarnContext(ctx, "enqueue periodic task", "err", err)
				}
				continue // tried again next tick
			}
			last[i] = start
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// enqueue enqueues the run of p for the period starting at start; a run
// another worker enqueued already is success.
func (s *Scheduler) enqueue(ctx context.Context, p Periodic, start time.Time) error {
	task, err := p.Task()
	if err != nil {
		return err
	}
	_, err = s.queue.EnqueueContext(ctx, task, asynq.TaskID(PeriodTaskID(task.Type(), p.Every, start)),
		// Kept after its run so that a worker starting later in the
		// period finds the id taken. Counted from the run's end, which is
		// after start: two periods cover the rest of this one.
		asynq.Retention(2*p.Every))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", task.Type(), err)
	}
	return nil
}
