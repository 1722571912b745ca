// Package jobs defines the background tasks of aibud on asynq: task types,
// payloads, constructors and handlers, the worker's middleware and the
// periodic schedule. Handlers are safe to run twice: asynq delivers at least
// once.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/metrics"
	"github.com/myaibud/aibud/db"
)

// Queues and their priorities.
const (
	QueueCritical = "critical"
	QueueDefault  = "default"
	QueueLow      = "low"
)

// Worker holds what job handlers use.
type Worker struct {
	store     *db.Store
	publisher *live.Publisher
	metrics   *metrics.Metrics
	log       *slog.Logger
}

// NewWorker returns a Worker.
func NewWorker(store *db.Store, publisher *live.Publisher, m *metrics.Metrics, log *slog.Logger) *Worker {
	return &Worker{store: store, publisher: publisher, metrics: m, log: log}
}

// Register lists every task type and its handler; it is the worker's routes.
func Register(mux *asynq.ServeMux, w *Worker) {
	mux.Use(w.observe, w.recoverPanics)
	mux.HandleFunc(TypeAuditLedger, w.auditLedger)
	mux.HandleFunc(TypeCleanupSessions, w.cleanupSessions)
}

// NewServer returns the asynq server that runs the handlers.
func NewServer(opt asynq.RedisConnOpt, concurrency int, log *slog.Logger) *asynq.Server {
	return asynq.NewServer(opt, asynq.Config{
		Concurrency:     concurrency,
		Queues:          map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1},
		Logger:          asynqLogger{log: log.With("component", "asynq")},
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: 25 * time.Second,
		// Failures are logged by observe; asynq's own error log would repeat them.
		ErrorHandler: asynq.ErrorHandlerFunc(func(context.Context, *asynq.Task, error) {}),
	})
}

// observe logs every finished task once and records its metrics.
func (w *Worker) observe(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		start := time.Now()
		err := next.ProcessTask(ctx, t)
		d := time.Since(start)
		id, _ := asynq.GetTaskID(ctx)
		retried, _ := asynq.GetRetryCount(ctx)
		attrs := []slog.Attr{
			slog.String("type", t.Type()), slog.String("task_id", id),
			slog.Int("retry", retried), slog.Int64("duration_ms", d.Milliseconds()),
		}
		if tid := tenantOf(t); tid != 0 {
			attrs = append(attrs, slog.Int64("tenant_id", tid))
		}
		switch {
		case err == nil:
			w.metrics.ObserveJob(t.Type(), "ok", d)
			w.log.LogAttrs(ctx, slog.LevelDebug, "job done", attrs...)
		case errors.Is(err, asynq.SkipRetry):
			w.metrics.ObserveJob(t.Type(), "skip", d)
			w.log.LogAttrs(ctx, slog.LevelError, "job failed for good", append(attrs, slog.String("err", err.Error()))...)
		default:
			w.metrics.ObserveJob(t.Type(), "error", d)
			w.log.LogAttrs(ctx, slog.LevelWarn, "job failed, will retry", append(attrs, slog.String("err", err.Error()))...)
		}
		return err
	})
}

// recoverPanics turns a panic into an error (retried) with the stack logged.
func (w *Worker) recoverPanics(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
		defer func() {
			if r := recover(); r != nil {
				w.log.Error("job panicked", "type", t.Type(), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next.ProcessTask(ctx, t)
	})
}

// asynqLogger adapts slog to asynq's logger.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...)) }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...)) }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...)) }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...)) }
func (l asynqLogger) Fatal(args ...any) { l.log.Error(fmt.Sprint(args...)) }
