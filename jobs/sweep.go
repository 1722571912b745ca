package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// Sweep finishes work that was started and not finished, so that nothing
// stays pending, sending or creating forever: whatever a crash, a lost task
// or a Redis failure left behind is handed to a new task within seconds of
// its time. Outgoing messages whose send came due, and incoming ones whose
// AI answer came due, are re-driven with their next generation; webhook
// events not processed in time are queued again; numbers stuck in creation
// are provisioned again, and failed after ten minutes; AI replies follow
// the outcome of their message. Every re-drive is
// idempotent, so any number of workers may sweep at once.
func (w *Worker) Sweep(ctx context.Context) error {
	return errors.Join(w.sweepMessages(ctx), w.sweepWebhookEvents(ctx), w.sweepCreatingInstances(ctx), w.settleReplies(ctx),
		w.sweepCampaigns(ctx))
}

// sweepCampaigns gives back to their campaign the recipients whose message
// was refused because the number had disconnected, starts scheduled
// campaigns whose time came and asks for the dispatch of every connected
// number whose next campaign message is overdue: the chain of dispatch tasks
// is lost when a worker dies between two, or a number comes back after
// being disconnected.
func (w *Worker) sweepCampaigns(ctx context.Context) error {
	// Messages refused because their number had disconnected go back to
	// their campaign first, so that the numbers still connected take them.
	n, err := w.store.RequeueUnsentAllTenants(ctx, whatsapp.ReasonNotConnected)
	if err != nil {
		return err
	}
	// So do those refused because their tenant was suspended: they wait in
	// their campaign, which dispatches again once the tenant is reinstated.
	ns, err := w.store.RequeueUnsentAllTenants(ctx, whatsapp.ReasonSuspended)
	if err != nil {
		return err
	}
	n += ns
	// And those refused because their number was paused beyond the plan's
	// limit: another of the campaign's numbers, or this one once the plan
	// allows it again, sends them.
	np, err := w.store.RequeueUnsentAllTenants(ctx, whatsapp.ReasonPaused)
	if err != nil {
		return err
	}
	n += np
	if n > 0 {
		w.log.InfoContext(ctx, "gave campaign messages of disconnected numbers back to their campaigns", "count", n)
	}
	due, err := w.store.DueDispatchesAllTenants(ctx, time.Now().Add(-dispatchSlack), 500)
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range due {
		t, err := NewDispatchCampaignTask(DispatchCampaignPayload{TenantID: d.TenantID, InstanceID: d.InstanceID}, d.NextAt)
		errs = append(errs, w.enqueue(ctx, t, err))
	}
	return errors.Join(errs...)
}

// dispatchSlack is how late a number's dispatch may be before the sweeper
// asks for it: longer than a worker takes to pick a due task up.
const dispatchSlack = 3 * time.Second

// settleReplies settles AI replies whose message was settled without them.
func (w *Worker) settleReplies(ctx context.Context) error {
	n, err := w.store.SettleSendingRepliesAllTenants(ctx)
	if n > 0 {
		w.log.InfoContext(ctx, "settled AI replies from their messages", "count", n)
	}
	return err
}

// RunSweeper sweeps every interval until ctx ends.
func (w *Worker) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := w.Sweep(ctx); err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "sweep unfinished work", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *Worker) sweepMessages(ctx context.Context) error {
	due, err := w.store.RedriveDueMessagesAllTenants(ctx, max(w.opts.AILease, w.outbox.Lease()), 500)
	if err != nil {
		return err
	}
	now := time.Now()
	var errs []error
	for _, d := range due {
		var t *asynq.Task
		if d.Direction == db.DirectionOut {
			t, err = NewSendMessageTask(SendMessagePayload{TenantID: d.TenantID, MessageID: d.ID, Attempt: d.Attempt}, now)
		} else {
			t, err = NewAIReplyTask(AIReplyPayload{TenantID: d.TenantID, ContactID: d.ContactID, MessageID: d.ID, Attempt: d.Attempt}, now)
		}
		errs = append(errs, w.enqueue(ctx, t, err))
	}
	if len(due) > 0 {
		w.metrics.Count("swept_messages")
		w.log.InfoContext(ctx, "re-drove overdue message work", "count", len(due))
	}
	return errors.Join(errs...)
}

func (w *Worker) sweepWebhookEvents(ctx context.Context) error {
	es, err := w.store.RedriveWebhookEventsAllTenants(ctx, w.opts.EventLease, 500)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range es {
		t, err := NewProcessWebhookTask(ProcessWebhookPayload{TenantID: e.TenantID, EventID: e.ID}, e.Provider, e.EventID, e.Generation)
		errs = append(errs, w.enqueue(ctx, t, err))
	}
	if len(es) > 0 {
		w.metrics.Count("swept_webhook_events")
		w.log.InfoContext(ctx, "re-queued unprocessed webhook events", "count", len(es))
	}
	return errors.Join(errs...)
}

// Creation is re-tried every creationRetry and given up after creationLimit.
const (
	creationRetry = 15 * time.Second
	creationLimit = 10 * time.Minute
)

func (w *Worker) sweepCreatingInstances(ctx context.Context) error {
	now := time.Now()
	is, err := w.store.CreatingInstancesAllTenants(ctx, now.Add(-creationRetry))
	if err != nil {
		return err
	}
	var errs []error
	for i := range is {
		inst := &is[i]
		if now.Sub(inst.StatusChangedAt) > creationLimit {
			w.failInstance(ctx, inst, "Could not set up the number on the WhatsApp server. Try again in a minute.")
			continue
		}
		// One task per instance and retry period, however many sweepers.
		slot := now.Unix() / int64(creationRetry/time.Second)
		t, err := newTask(TypeProvisionInstance, InstancePayload{TenantID: inst.TenantID, InstanceID: inst.ID},
			asynq.TaskID(fmt.Sprintf("provision:%d:s%s", inst.ID, strconv.FormatInt(slot, 10))),
			asynq.Queue(QueueCritical), asynq.MaxRetry(6), asynq.Timeout(time.Minute))
		errs = append(errs, w.enqueue(ctx, t, err))
	}
	return errors.Join(errs...)
}
