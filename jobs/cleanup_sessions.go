package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// TypeCleanupSessions removes expired sign-in sessions, customers' files
// whose retention is over, and kept-apart bytes no file names any more
// (MEDIA_STORAGE=disk: of deleted contacts and expired files).
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
	swept, err := w.store.SweepBlobs(ctx, time.Now().Add(-blobGrace))
	if err != nil {
		return err
	}
	if swept > 0 {
		w.log.InfoContext(ctx, "removed stored bytes no file names", "count", swept)
	}
	return nil
}

// blobGrace is how old kept-apart bytes no file names must be before the
// cleanup deletes them: a file's bytes are written just before its row
// commits, within seconds.
const blobGrace = time.Hour
