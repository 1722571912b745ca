package jobs

import (
	"context"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/live"
)

// TypeSendMessage makes one attempt at sending a queued outgoing message
// (see whatsapp.Outbox). Attempt is the generation of the message's outbox
// work this task may do; a task of an older generation does nothing.
const TypeSendMessage = "message:send"

// SendMessagePayload names the message and the attempt.
type SendMessagePayload struct {
	TenantID  int64 `json:"tenant_id"`
	MessageID int64 `json:"message_id"`
	Attempt   int   `json:"attempt"`
}

// NewSendMessageTask returns the task, due at at; one per message and
// attempt.
func NewSendMessageTask(p SendMessagePayload, at time.Time) (*asynq.Task, error) {
	id := "send:" + strconv.FormatInt(p.MessageID, 10) + ":" + strconv.Itoa(p.Attempt)
	return newTask(TypeSendMessage, p, asynq.TaskID(id), asynq.Queue(QueueCritical), asynq.MaxRetry(5),
		asynq.Timeout(5*time.Minute), asynq.ProcessAt(at))
}

// ScheduleSend is the outbox's Scheduler: it queues the send task of a
// message's attempt. A task already queued for that attempt is not an error.
func ScheduleSend(queue *asynq.Client) func(ctx context.Context, tenantID, messageID int64, attempt int, at time.Time) error {
	return func(ctx context.Context, tenantID, messageID int64, attempt int, at time.Time) error {
		t, err := NewSendMessageTask(SendMessagePayload{TenantID: tenantID, MessageID: messageID, Attempt: attempt}, at)
		return enqueueOnce(ctx, queue, t, err)
	}
}

func (w *Worker) sendMessage(ctx context.Context, t *asynq.Task) error {
	var p SendMessagePayload
	if err := decode(t, &p); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, w.outbox.Lease()-5*time.Second)
	defer cancel()
	ts := w.store.Tenant(p.TenantID)
	res, err := w.outbox.Send(ctx, ts, p.MessageID, p.Attempt)
	if err != nil {
		return err
	}
	if m := res.Message; m != nil {
		// Its status, and its echo folded into it (res.MergedID).
		w.publish(ctx, p.TenantID, live.MessageUpdated, map[string]int64{"contact_id": m.ContactID, "message_id": m.ID})
	}
	if res.Refunded {
		w.publish(ctx, p.TenantID, live.CreditsUpdated, nil)
	}
	return nil
}
