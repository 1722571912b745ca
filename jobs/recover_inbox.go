package jobs

import (
	"context"
	"slices"
	"time"

	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

const (
	// inboxWindow is how far back the per-number check looks for messages
	// whose webhook never came; with a check a minute, each gets about ten
	// chances.
	inboxWindow = 10 * time.Minute
	// inboxGrace is how old a message must be before it counts as one its
	// webhook dropped: a newer one may still be on its way
	// (Options.InboxGrace).
	inboxGrace = 30 * time.Second
	// inboxLimit bounds the messages one check lists.
	inboxLimit = 200
	// silentRestartEvery is how often at most a session whose webhooks
	// dropped messages is restarted.
	silentRestartEvery = 30 * time.Minute
)

// overdue keeps the listed events of messages received at least grace
// before now: those a webhook should have delivered by then.
func overdue(evs []whatsapp.ListedEvent, now time.Time, grace time.Duration) []whatsapp.ListedEvent {
	var out []whatsapp.ListedEvent
	for _, ev := range evs {
		if at := ev.Event.Timestamp; !at.IsZero() && !at.After(now.Add(-grace)) {
			out = append(out, ev)
		}
	}
	return out
}

// recoverInbox stores, through the webhooks' own path, the messages a
// connected number received in the last inboxWindow that its gateway's
// webhooks never delivered (Evolution API 2.3 drops some: an instance open
// but silent). Such a session is first restarted, at most once every
// silentRestartEvery, and its missing messages left to the next check: a
// message answered while the session reconnects would find the number not
// connected. A gateway that cannot list its messages
// (whatsapp.InboxLister) relies on its webhook retries.
func (w *Worker) recoverInbox(ctx context.Context, inst *db.Instance) error {
	if inst.Status != db.InstanceConnected {
		return nil
	}
	prov, err := whatsapp.ProviderFor(ctx, w.store, w.gateways, inst)
	if err != nil {
		return err
	}
	lister, ok := prov.(whatsapp.InboxLister)
	if !ok {
		return nil
	}
	now := time.Now()
	listed, err := lister.ReceivedSince(ctx, inst.SessionName, now.Add(-inboxWindow), inboxLimit)
	if err != nil {
		w.log.WarnContext(ctx, "list received messages", "instance_id", inst.ID, "err", err)
		return nil // the next check tries again
	}
	due := overdue(listed, now, w.opts.InboxGrace)
	ids := make([]string, len(due))
	for i, ev := range due {
		ids[i] = ev.Event.ID
	}
	missing, err := w.store.MissingWebhookEvents(ctx, prov.Kind(), ids)
	if err != nil || len(missing) == 0 {
		return err
	}
	w.log.WarnContext(ctx, "the gateway's webhooks dropped messages", "instance_id", inst.ID,
		"tenant_id", inst.TenantID, "provider", prov.Kind(), "messages", len(missing))
	if restarted, err := w.restartSilent(ctx, inst, prov); err != nil || restarted {
		return err
	}
	recovered := 0
	for _, ev := range due {
		if !slices.Contains(missing, ev.Event.ID) {
			continue
		}
		stored, outcome, err := w.store.RecordWebhookEvent(ctx, prov.Kind(), ev.Event.ID, ev.Event.Type, inst.SessionName, ev.Payload)
		if err != nil {
			return err
		}
		if outcome != db.WebhookStored {
			continue // delivered meanwhile, or the number is gone
		}
		recovered++
		t, err := NewProcessWebhookTask(ProcessWebhookPayload{TenantID: stored.TenantID, EventID: stored.ID}, prov.Kind(), ev.Event.ID, 0)
		if err := w.enqueue(ctx, t, err); err != nil {
			// Stored already: the sweeper queues it.
			w.log.WarnContext(ctx, "enqueue a recovered message", "event_id", stored.ID, "err", err)
		}
	}
	w.metrics.Add("webhook_recovered", recovered)
	return nil
}

// restartSilent restarts a session that is open but dropped webhooks, as
// Evolution's maintainers advise, unless one was restarted lately; it
// reports whether it did.
func (w *Worker) restartSilent(ctx context.Context, inst *db.Instance, prov whatsapp.Provider) (bool, error) {
	claimed, err := w.store.Tenant(inst.TenantID).ClaimSilentRestart(ctx, inst.ID, silentRestartEvery)
	if err != nil || !claimed {
		return false, err
	}
	if err := prov.RestartSession(ctx, inst.SessionName); err != nil {
		w.log.WarnContext(ctx, "restart a session that dropped webhooks", "instance_id", inst.ID, "err", err)
		return false, nil // its messages are recovered now
	}
	w.metrics.Count("session_silent_restart")
	return true, nil
}
