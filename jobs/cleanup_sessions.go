package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// TypeCleanupSessions removes expired sign-in sessions, and customers'
// files whose retention is over.
const TypeCleanupSessions = "sessions:cleanup"

// NewCleanupSessionsTask returns the cleanup task.
func NewCleanupSessionsTask() (*asynq.Task, error) {
	return newTask(TypeCleanupSessions, struct{}{}, asynq.Queue(QueueLow), asynq.MaxRetry(1), asynq.Timeout(time.Minute))
}

func (w *Worker) cleanupSessions(ctx context.Context, _ *asynq.Task) error {
	n, err := w.store.DeleteExpiredSessions(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		w.log.InfoContext(ctx, "removed expired sessions", "count", n)
	}
	files, err := w.store.DeleteExpiredMediaAllTenants(ctx, time.Now())
	if err != nil {
		return err
	}
	if n := files; n > 0 {
		w.log.InfoContext(ctx, "removed customers' files past their retention", "count", n)
	}
	return nil
}
