package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
)

// TypeSweepWebhooks re-enqueues stored webhook events that were never
// processed, e.g. because the process stopped between storing and enqueuing.
const TypeSweepWebhooks = "webhooks:sweep"

// NewSweepWebhooksTask returns the periodic sweep task.
func NewSweepWebhooksTask() (*asynq.Task, error) {
	return newTask(TypeSweepWebhooks, struct{}{}, asynq.Queue(QueueLow), asynq.MaxRetry(1), asynq.Timeout(time.Minute))
}

func (w *Worker) sweepWebhooks(ctx context.Context, _ *asynq.Task) error {
	es, err := w.store.UnprocessedWebhookEventsAllTenants(ctx, time.Now().Add(-time.Minute), 1000)
	if err != nil {
		return err
	}
	for _, e := range es {
		t, err := NewProcessWebhookTask(ProcessWebhookPayload{TenantID: e.TenantID, EventID: e.ID}, e.Provider, e.EventID)
		if err := w.enqueue(ctx, t, err); err != nil {
			return err
		}
	}
	if len(es) > 0 {
		w.log.InfoContext(ctx, "re-enqueued unprocessed webhook events", "count", len(es))
	}
	return nil
}
