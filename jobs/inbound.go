package jobs

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// handleIncoming finishes what a customer's message sets off. The decision
// (ai.Decide) is made once and stored with its effect on the chat; the
// follow-ups (an automatic reply queued in the outbox, the AI answer
// scheduled) are idempotent, keyed by the message, and re-run until the
// message is marked handled, whichever attempt gets there.
func (w *Worker) handleIncoming(ctx context.Context, ts *db.TenantStore, c *db.Contact, m *db.Message) error {
	s, err := ts.AISettings(ctx)
	if err != nil {
		return err
	}
	loc, err := w.tenantLocation(ctx, ts)
	if err != nil {
		return err
	}
	var decided db.Inbound
	st, c, err := ts.DecideInbound(ctx, m, c, func(c *db.Contact, f db.InboundFacts) db.Inbound {
		decided = ai.Decide(s, c, ai.Incoming{Type: m.Type, Body: m.Body, MediaMime: m.MediaType}, f, loc, time.Now())
		return decided
	})
	if err != nil {
		return err
	}
	if decided.Why == ai.WhyHourlyLimit {
		w.metrics.Count("ai_hourly_limit")
		w.log.WarnContext(ctx, "AI reply limit reached for a contact", "tenant_id", ts.TenantID(), "contact_id", c.ID)
	}
	if err := w.followUp(ctx, ts, s, c, m, st); err != nil {
		return err
	}
	if st.Handled {
		return nil
	}
	return ts.MarkInboundHandled(ctx, m.ID)
}

// followUp starts what a decided action needs beyond the chat's state.
func (w *Worker) followUp(ctx context.Context, ts *db.TenantStore, s *db.AISettings, c *db.Contact, m *db.Message, st db.InboundState) error {
	switch st.Action {
	case db.InboundOptOut:
		w.metrics.Count("opt_out")
		w.publish(ctx, ts.TenantID(), live.ContactUpdated, map[string]int64{"contact_id": c.ID})
		_, lang := ai.ParseCommand(m.Body)
		return w.autoReply(ctx, ts, c, m, ai.ReplyOptOut, ai.AutoReplyText(ai.ReplyOptOut, s.OptOutReply, lang))
	case db.InboundOptIn:
		w.publish(ctx, ts.TenantID(), live.ContactUpdated, map[string]int64{"contact_id": c.ID})
		_, lang := ai.ParseCommand(m.Body)
		return w.autoReply(ctx, ts, c, m, ai.ReplyOptIn, ai.AutoReplyText(ai.ReplyOptIn, s.OptInReply, lang))
	case db.InboundHandoff:
		w.metrics.Count("handoff")
		w.publish(ctx, ts.TenantID(), live.ContactUpdated, map[string]int64{"contact_id": c.ID})
		text, err := w.handoffReply(ctx, ts, s, c, m)
		if err != nil {
			return err
		}
		return w.autoReply(ctx, ts, c, m, ai.ReplyHandoff, text)
	case db.InboundAfterHours:
		return w.autoReply(ctx, ts, c, m, "after-hours", s.AfterHoursReply)
	case db.InboundAnswer:
		if st.DueAt == nil {
			return nil // answered already
		}
		t, err := NewAIReplyTask(AIReplyPayload{TenantID: ts.TenantID(), ContactID: c.ID, MessageID: m.ID, Attempt: st.Attempt},
			st.DueAt.Add(-db.AnswerGrace))
		return w.enqueue(ctx, t, err)
	}
	return nil
}

// handoffReply is the handoff acknowledgement to send: the tenant's own
// text, or the default in the customer's language, told by the keyword
// they wrote or else by their recent messages.
func (w *Worker) handoffReply(ctx context.Context, ts *db.TenantStore, s *db.AISettings, c *db.Contact, m *db.Message) (string, error) {
	if !ai.IsDefaultReply(ai.ReplyHandoff, s.HandoffReply) {
		return s.HandoffReply, nil
	}
	history, err := ts.Messages(ctx, c.ID, 10)
	if err != nil {
		return "", err
	}
	var recent []string
	for _, h := range history {
		if h.Direction == db.DirectionIn && h.ID != m.ID {
			recent = append(recent, h.Body)
		}
	}
	lang := ai.HandoffLanguage(m.Body, s.HandoffKeywords, recent)
	return ai.AutoReplyText(ai.ReplyHandoff, s.HandoffReply, lang), nil
}

// autoReply queues a fixed reply to a customer's message (opt-out
// confirmation, after hours, handoff acknowledgement) through the outbox,
// charged as an outgoing message, once per message and kind. Without
// credits it is not sent, and the conversation says so.
func (w *Worker) autoReply(ctx context.Context, ts *db.TenantStore, c *db.Contact, trigger *db.Message, kind, text string) error {
	if text == "" || trigger.InstanceID == nil {
		return nil
	}
	if _, err := ts.Instance(ctx, *trigger.InstanceID); errors.Is(err, db.ErrNotFound) {
		return nil // the number was deleted
	} else if err != nil {
		return err
	}
	key := kind + ":" + strconv.FormatInt(trigger.ID, 10)
	m, err := w.outbox.Queue(ctx, ts, whatsapp.Outgoing{
		Key: key, InstanceID: *trigger.InstanceID, ContactID: c.ID, ChatKind: c.Kind, Sender: db.SenderAuto,
		Body: text, Cost: w.opts.CostMessage, Reason: "Automatic reply (" + kind + ")",
	})
	if errors.Is(err, db.ErrInsufficientCredits) {
		if _, err := ts.AddNote(ctx, c.ID, key, "The automatic "+kind+" reply was not sent: not enough credits."); err != nil {
			return err
		}
		w.publish(ctx, ts.TenantID(), live.MessageCreated, map[string]int64{"contact_id": c.ID})
		return nil
	}
	if err != nil {
		return err
	}
	if m.Inserted {
		w.publish(ctx, ts.TenantID(), live.CreditsUpdated, nil)
		w.publish(ctx, ts.TenantID(), live.MessageCreated, map[string]int64{"contact_id": c.ID, "message_id": m.ID})
	}
	return nil
}

// tenantLocation is the tenant's time zone. It is read at most every 30 s per
// tenant and worker: every incoming message needs it, and it rarely changes.
func (w *Worker) tenantLocation(ctx context.Context, ts *db.TenantStore) (*time.Location, error) {
	w.zonesMu.Lock()
	z, ok := w.zones[ts.TenantID()]
	w.zonesMu.Unlock()
	if ok && time.Now().Before(z.expires) {
		return z.loc, nil
	}
	t, err := ts.Tenant(ctx)
	if err != nil {
		return nil, err
	}
	loc := t.Location()
	w.zonesMu.Lock()
	w.zones[ts.TenantID()] = cachedZone{loc: loc, expires: time.Now().Add(30 * time.Second)}
	w.zonesMu.Unlock()
	return loc, nil
}

type cachedZone struct {
	loc     *time.Location
	expires time.Time
}
