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
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/mailer"
	"github.com/myaibud/aibud/app/metrics"
	"github.com/myaibud/aibud/app/whatsapp"
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
	queue     *asynq.Client
	publisher *live.Publisher
	gateways  *whatsapp.Gateways
	outbox    *whatsapp.Outbox
	ai        *ai.Client
	mail      mailer.Sender
	metrics   *metrics.Metrics
	log       *slog.Logger
	opts      Options

	zonesMu sync.Mutex
	zones   map[int64]cachedZone
}

// Options tune the workers; zero values take the defaults.
type Options struct {
	// ParseEvent reads a stored webhook body of a provider (its signature
	// was checked when it arrived).
	ParseEvent func(provider string, body []byte) (whatsapp.Event, error)
	// QRPollEvery is how often a number waiting for a scan has its QR code
	// refreshed; QRPollFor is for how long after the last reason to.
	QRPollEvery time.Duration
	QRPollFor   time.Duration
	// CostAIReply and CostMessage are the credits an AI answer and an
	// outgoing message cost.
	CostAIReply int64
	CostMessage int64
	// CostAIMediaReply is what an AI answer costs instead when the model
	// reads a voice note, photo or document (more tokens).
	CostAIMediaReply int64
	// Media bounds the files the AI reads and sets how long they are kept.
	Media MediaLimits
	// AILease is how long one run of an AI answer may take before another
	// worker takes it over (default 75 s): longer than the model call's
	// timeout. EventLease is the same for a webhook event (default 20 s).
	AILease    time.Duration
	EventLease time.Duration
	// AITimeout bounds one model call (default 60 s).
	AITimeout time.Duration
	// ResetLink turns a password reset token into the link emailed
	// (APP_BASE_URL/password/reset?token=…).
	ResetLink func(token string) string
	// BillingGrace is how long a failed renewal keeps the paid plan
	// (default 7 days).
	BillingGrace time.Duration
	// LowBalance is the balance below which owners are emailed (0: off);
	// BillingLink is the billing page the email links to.
	LowBalance  int64
	BillingLink string
	// InboxGrace is how old a message a gateway lists must be before the
	// per-number check takes it for one its webhook dropped (default
	// 30 s; see recoverInbox).
	InboxGrace time.Duration
}

// Deps are the services the workers use.
type Deps struct {
	Store     *db.Store
	Queue     *asynq.Client
	Publisher *live.Publisher
	Gateways  *whatsapp.Gateways
	Outbox    *whatsapp.Outbox
	AI        *ai.Client
	// Mail sends email; nil when SMTP_URL is not set.
	Mail    mailer.Sender
	Metrics *metrics.Metrics
	Log     *slog.Logger
}

// NewWorker returns a Worker.
func NewWorker(d Deps, o Options) *Worker {
	if o.QRPollEvery == 0 {
		o.QRPollEvery = 2 * time.Second
	}
	if o.QRPollFor == 0 {
		o.QRPollFor = 4 * time.Minute
	}
	if o.InboxGrace <= 0 {
		o.InboxGrace = inboxGrace
	}
	if o.AITimeout <= 0 {
		o.AITimeout = time.Minute
	}
	if o.AILease <= 0 {
		o.AILease = o.AITimeout + 15*time.Second
	}
	if o.BillingGrace <= 0 {
		o.BillingGrace = 7 * 24 * time.Hour
	}
	if o.EventLease <= 0 {
		o.EventLease = 20 * time.Second
	}
	return &Worker{store: d.Store, queue: d.Queue, publisher: d.Publisher, gateways: d.Gateways, outbox: d.Outbox,
		ai: d.AI, mail: d.Mail, metrics: d.Metrics, log: d.Log, opts: o, zones: make(map[int64]cachedZone)}
}

// publish sends a live update; a failure is logged, not returned: the change
// is committed and the page catches up on its next load.
func (w *Worker) publish(ctx context.Context, tenantID int64, name string, data any) {
	if err := w.publisher.Publish(ctx, tenantID, name, data); err != nil {
		w.log.WarnContext(ctx, "publish live update", "event", name, "tenant_id", tenantID, "err", err)
	}
}

// enqueue adds a task; a task with the same id already queued is not an
// error (that is how duplicates are dropped).
func (w *Worker) enqueue(ctx context.Context, t *asynq.Task, err error) error {
	return enqueueOnce(ctx, w.queue, t, err)
}

func enqueueOnce(ctx context.Context, queue *asynq.Client, t *asynq.Task, err error) error {
	if err != nil {
		return err
	}
	if _, err := queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
		return fmt.Errorf("enqueue %s: %w", t.Type(), err)
	}
	return nil
}

// lastAttempt reports whether a failure now is final.
func lastAttempt(ctx context.Context) bool {
	retried, _ := asynq.GetRetryCount(ctx)
	max, _ := asynq.GetMaxRetry(ctx)
	return retried >= max
}

// Register lists every task type and its handler; it is the worker's routes.
func Register(mux *asynq.ServeMux, w *Worker) {
	mux.Use(w.observe, w.recoverPanics)
	mux.HandleFunc(TypeAuditLedger, w.auditLedger)
	mux.HandleFunc(TypeCleanupSessions, w.cleanupSessions)
	mux.HandleFunc(TypeProvisionInstance, w.provisionInstance)
	mux.HandleFunc(TypeRefreshQR, w.refreshQR)
	mux.HandleFunc(TypeProcessWebhook, w.processWebhook)
	mux.HandleFunc(TypeProcessStripeEvent, w.processStripeEvent)
	mux.HandleFunc(TypeBillingDue, w.billingDue)
	mux.HandleFunc(TypeLowBalance, w.lowBalance)
	mux.HandleFunc(TypeCheckInstances, w.checkInstances)
	mux.HandleFunc(TypeCheckInstance, w.checkInstance)
	mux.HandleFunc(TypeAIReply, w.aiReply)
	mux.HandleFunc(TypeSendMessage, w.sendMessage)
	mux.HandleFunc(TypeDispatchCampaign, w.dispatchCampaign)
	mux.HandleFunc(TypeReturnHandoffs, w.returnHandoffs)
	mux.HandleFunc(TypeSendPasswordReset, w.sendPasswordReset)
}

// ServerOptions tune the asynq server; zero values take the defaults.
type ServerOptions struct {
	Concurrency int
	// RetryDelay overrides asynq's exponential retry backoff (tests).
	RetryDelay func(n int, err error, t *asynq.Task) time.Duration
}

// NewServer returns the asynq server that runs the handlers.
func NewServer(opt asynq.RedisConnOpt, so ServerOptions, log *slog.Logger) *asynq.Server {
	concurrency := so.Concurrency
	if concurrency <= 0 {
		concurrency = 20
	}
	var retry asynq.RetryDelayFunc = retryDelay
	if so.RetryDelay != nil {
		retry = so.RetryDelay
	}
	return asynq.NewServer(opt, asynq.Config{
		RetryDelayFunc:  retry,
		Concurrency:     concurrency,
		Queues:          map[string]int{QueueCritical: 6, QueueDefault: 3, QueueLow: 1},
		Logger:          asynqLogger{log: log.With("component", "asynq")},
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: 25 * time.Second,
		// Scheduled tasks (QR refreshes, retries) become due within a second.
		DelayedTaskCheckInterval: time.Second,
		// Idle workers look for new tasks this often (asynq's default is a
		// second, which a customer waiting for an answer would feel). One
		// Redis call per tick per process. An answer crosses two or three
		// queue hops, each waiting up to a tick: at 50 leads/s, 10 ms
		// instead of 25 ms took the p99 from 106–148 ms to 60–83 ms
		// (interleaved runs) for about 35 ms/s more CPU when idle; 5 ms gave
		// 35 ms for twice that.
		TaskCheckInterval: 10 * time.Millisecond,
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
		case errors.Is(err, asynq.SkipRetry) || lastAttempt(ctx):
			w.metrics.ObserveJob(t.Type(), "giveup", d)
			w.log.LogAttrs(ctx, slog.LevelError, "job failed for good", append(attrs, slog.String("err", err.Error()))...)
			w.recordGiveUp(ctx, t, id, err)
		default:
			w.metrics.ObserveJob(t.Type(), "error", d)
			w.log.LogAttrs(ctx, slog.LevelWarn, "job failed, will retry", append(attrs, slog.String("err", err.Error()))...)
		}
		return err
	})
}

// recordGiveUp keeps a task given up on for the owner's console.
func (w *Worker) recordGiveUp(ctx context.Context, t *asynq.Task, id string, err error) {
	tenant := tenantOf(t)
	f := &db.JobFailure{TaskType: t.Type(), TaskID: id, TenantID: &tenant, Error: err.Error()}
	if rerr := w.store.RecordJobFailure(context.WithoutCancel(ctx), f); rerr != nil {
		w.log.ErrorContext(ctx, "record job failure", "type", t.Type(), "err", rerr)
	}
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
