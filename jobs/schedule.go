package jobs

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
)

// NewScheduler returns the scheduler of periodic tasks. Every worker process
// runs one; each periodic task is enqueued with Unique over its period, so
// several schedulers enqueue it once. Recovery of unfinished work is not a
// periodic task: every worker runs the sweeper (RunSweeper). Recovery of unfinished work is not a
// periodic task: every worker runs the sweeper (RunSweeper).
func NewScheduler(opt asynq.RedisConnOpt, log *slog.Logger) (*asynq.Scheduler, error) {
	s := asynq.NewScheduler(opt, &asynq.SchedulerOpts{
		Logger:   asynqLogger{log: log.With("component", "scheduler")},
		LogLevel: asynq.WarnLevel,
	})
	for _, p := range []struct {
		spec   string
		unique time.Duration
		task   func() (*asynq.Task, error)
	}{
		{"@hourly", 55 * time.Minute, NewAuditLedgerTask},
		{"@every 15m", 14 * time.Minute, NewCleanupSessionsTask},
		{"@every 1m", 50 * time.Second, NewCheckInstancesTask},
		{"@every 1m", 50 * time.Second, NewReturnHandoffsTask},
		{"@every 5m", 4 * time.Minute, NewBillingDueTask},
		{"@every 5m", 4 * time.Minute, NewLowBalanceTask},
	} {
		t, err := p.task()
		if err != nil {
			return nil, err
		}
		if _, err := s.Register(p.spec, t, asynq.Unique(p.unique)); err != nil {
			return nil, fmt.Errorf("schedule %s: %w", t.Type(), err)
		}
	}
	return s, nil
}
