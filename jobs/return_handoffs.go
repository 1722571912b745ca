package jobs

import (
	"context"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/live"
)

// TypeReturnHandoffs gives chats back to the AI once a person's takeover has
// been quiet for the tenant's quiet period.
const TypeReturnHandoffs = "handoffs:return"

// NewReturnHandoffsTask returns the periodic task.
func NewReturnHandoffsTask() (*asynq.Task, error) {
	return newTask(TypeReturnHandoffs, struct{}{}, asynq.Queue(QueueLow), asynq.MaxRetry(1), asynq.Timeout(time.Minute))
}

func (w *Worker) returnHandoffs(ctx context.Context, _ *asynq.Task) error {
	cs, err := w.store.ReturnExpiredHandoffsAllTenants(ctx, time.Now())
	if err != nil {
		return err
	}
	for _, c := range cs {
		w.publish(ctx, c.TenantID, live.ContactUpdated, map[string]int64{"contact_id": c.ID})
	}
	return nil
}
