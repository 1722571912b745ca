package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// TypeProcessWebhook applies one stored webhook event: contacts, messages,
// delivery statuses and session statuses. It is safe to run twice: the event
// row records when it was processed, and every write is idempotent.
const TypeProcessWebhook = "webhook:process"

// ProcessWebhookPayload names a stored event.
type ProcessWebhookPayload struct {
	TenantID int64 `json:"tenant_id"`
	EventID  int64 `json:"event_id"`
}

// NewProcessWebhookTask returns the task. Its id is the provider's event id,
// so an event delivered many times is queued once.
func NewProcessWebhookTask(p ProcessWebhookPayload, provider, providerEventID string) (*asynq.Task, error) {
	return newTask(TypeProcessWebhook, p, asynq.TaskID("webhook:"+provider+":"+providerEventID),
		asynq.Queue(QueueCritical), asynq.MaxRetry(10), asynq.Timeout(30*time.Second))
}

func (w *Worker) processWebhook(ctx context.Context, t *asynq.Task) error {
	var p ProcessWebhookPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	ts := w.store.Tenant(p.TenantID)
	ev, err := ts.WebhookEvent(ctx, p.EventID)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if ev.ProcessedAt != nil {
		return nil
	}
	procErr := w.applyEvent(ctx, ts, ev)
	if errors.Is(procErr, asynq.SkipRetry) {
		// Never going to work (e.g. an unreadable payload): record it and
		// stop, so the sweeper does not pick it up again.
		w.log.ErrorContext(ctx, "webhook event dropped", "event_id", ev.EventID, "err", procErr)
		procErr = nil
	}
	if err := ts.MarkWebhookEvent(ctx, ev.ID, procErr); err != nil {
		return err
	}
	return procErr
}

func (w *Worker) applyEvent(ctx context.Context, ts *db.TenantStore, ev *db.WebhookEvent) error {
	e, err := w.opts.ParseEvent(ev.Provider, ev.Payload)
	if err != nil {
		return fmt.Errorf("parse stored event %s: %v: %w", ev.EventID, err, asynq.SkipRetry)
	}
	inst, err := ts.Instance(ctx, ev.InstanceID)
	if errors.Is(err, db.ErrNotFound) {
		return nil // the number was deleted
	}
	if err != nil {
		return err
	}
	switch e.Kind {
	case whatsapp.EventMessage:
		if e.Message == nil {
			return nil
		}
		return w.ingestMessage(ctx, ts, inst, e.Message)
	case whatsapp.EventAck:
		if e.Ack == nil {
			return nil
		}
		m, err := ts.ApplyAck(ctx, whatsapp.MessageKey(e.Ack.MessageID), e.Ack.Level)
		if errors.Is(err, db.ErrNotFound) {
			return nil // unknown message, or an older status than we have
		}
		if err != nil {
			return err
		}
		w.publish(ctx, ts.TenantID(), live.MessageUpdated, map[string]int64{"contact_id": m.ContactID, "message_id": m.ID})
		return nil
	case whatsapp.EventSessionStatus:
		if e.Status == nil {
			return nil
		}
		info := whatsapp.SessionInfo{Name: e.Session, Status: e.Status.Status, Me: e.Me}
		if info.Status != whatsapp.StatusWorking {
			info.Me = nil // the envelope's "me" is stale once unlinked
		}
		state := SessionState(info)
		if info.Status != whatsapp.StatusWorking {
			// A number the tenant unlinked stays unlinked, whatever the
			// gateway does with the session next, until it is linked again.
			state.OnlyFrom = []string{db.InstanceCreating, db.InstanceStarting, db.InstanceScanQR,
				db.InstanceConnected, db.InstanceDisconnected, db.InstanceFailed}
		}
		state.ObservedAt = e.Timestamp
		return w.applyState(ctx, inst, state)
	}
	// Poll votes are recorded with campaigns; other kinds are not used.
	return nil
}

// ingestMessage stores a message of a chat, creating or linking its contact.
func (w *Worker) ingestMessage(ctx context.Context, ts *db.TenantStore, inst *db.Instance, m *whatsapp.Message) error {
	id, err := w.identity(ctx, inst, m)
	if err != nil {
		return err
	}
	contact, _, err := ts.UpsertContact(ctx, id)
	if err != nil {
		return err
	}
	msg := &db.Message{
		InstanceID: &inst.ID,
		ContactID:  contact.ID,
		WaID:       whatsapp.MessageKey(m.ID),
		ProviderID: m.ID,
		ChatKind:   chatKind(m.ChatKind),
		Type:       orDefault(m.Type, "text"),
		Body:       m.Body,
		MediaURL:   m.MediaURL,
		MediaType:  m.MediaType,
		ReplyTo:    m.ReplyTo,
		Ack:        m.Ack,
		SentAt:     m.Timestamp,
	}
	if msg.SentAt.IsZero() {
		msg.SentAt = time.Now()
	}
	if m.ChatKind == whatsapp.ChatGroup && !m.FromMe {
		msg.Author = orDefault(m.Sender.PushName, strings.TrimPrefix(m.Sender.Phone, "+"))
	}
	switch {
	case !m.FromMe:
		msg.Direction, msg.Sender, msg.Status, msg.Ack = db.DirectionIn, db.SenderLead, db.MessageReceived, 0
	case m.Source == whatsapp.SourceAPI:
		// Ours (then the row exists and nothing changes) or another API user's.
		msg.Direction, msg.Sender, msg.Status = db.DirectionOut, db.SenderAPI, db.AckStatus(m.Ack)
	default:
		// The owner wrote from their own phone.
		msg.Direction, msg.Sender, msg.Status = db.DirectionOut, db.SenderPhone, db.AckStatus(m.Ack)
	}
	saved, err := ts.SaveMessage(ctx, msg)
	if err != nil {
		return err
	}
	if !saved.Inserted {
		return nil // a duplicate delivery, or the echo of a message we sent
	}
	w.publish(ctx, ts.TenantID(), live.MessageCreated, map[string]int64{"contact_id": saved.ContactID, "message_id": saved.ID})
	switch {
	case saved.Direction == db.DirectionIn:
		return w.afterIncoming(ctx, ts, contact, saved)
	case saved.Sender == db.SenderPhone:
		// The owner answered from their phone: the AI steps back.
		s, err := ts.AISettings(ctx)
		if err != nil {
			return err
		}
		w.handOff(ctx, ts, contact, s, "You replied from your phone")
	}
	return nil
}

// afterIncoming decides what a customer's new message sets off: a
// subscription command, a handoff, or an AI answer after the burst wait.
func (w *Worker) afterIncoming(ctx context.Context, ts *db.TenantStore, c *db.Contact, m *db.Message) error {
	s, err := ts.AISettings(ctx)
	if err != nil {
		return err
	}
	if c.Kind == db.ContactDirect {
		switch ai.ParseCommand(m.Body) {
		case ai.OptOut:
			changed, err := ts.SetOptOut(ctx, c.ID, true)
			if err != nil || !changed {
				return err
			}
			w.metrics.Count("opt_out")
			w.publish(ctx, ts.TenantID(), live.ContactUpdated, map[string]int64{"contact_id": c.ID})
			if s.OptOutReply == "" {
				return nil
			}
			return w.autoReply(ctx, ts, c, m, "opt-out", s.OptOutReply)
		case ai.OptIn:
			changed, err := ts.SetOptOut(ctx, c.ID, false)
			if err != nil || !changed {
				return err
			}
			w.publish(ctx, ts.TenantID(), live.ContactUpdated, map[string]int64{"contact_id": c.ID})
			if s.OptInReply == "" {
				return nil
			}
			return w.autoReply(ctx, ts, c, m, "opt-in", s.OptInReply)
		}
	}
	if !s.Enabled || c.OptedOutAt != nil || c.AIMode == db.ModeOff || strings.TrimSpace(m.Body) == "" {
		return nil
	}
	if c.AIMode == db.ModeAI && ai.HasKeyword(m.Body, s.HandoffKeywords) {
		w.handOff(ctx, ts, c, s, "The customer asked for a person")
		return nil
	}
	t, err := NewAIReplyTask(AIReplyPayload{TenantID: ts.TenantID(), ContactID: c.ID, MessageID: m.ID}, time.Duration(s.BurstWaitMS)*time.Millisecond)
	return w.enqueue(ctx, t, err)
}

// identity works out who the other side of a message is. A sender known
// only by linked id is looked up on the gateway, so the contact carries the
// phone number too and later messages by number find it.
func (w *Worker) identity(ctx context.Context, inst *db.Instance, m *whatsapp.Message) (db.ContactIdentity, error) {
	switch m.ChatKind {
	case whatsapp.ChatGroup, whatsapp.ChatStatus, whatsapp.ChatChannel:
		return db.ContactIdentity{Kind: chatKind(m.ChatKind), ChatID: m.ChatID}, nil
	}
	party := m.Sender
	if m.FromMe {
		party = whatsapp.PartyOf(m.ChatID)
	} else if party.ChatID == "" {
		party = whatsapp.PartyOf(m.ChatID)
		party.PushName = m.Sender.PushName
	}
	id := db.ContactIdentity{Kind: db.ContactDirect, Phone: party.Phone, LID: party.LID}
	if !m.FromMe {
		id.Name = party.PushName
	}
	if id.LID != "" && id.Phone == "" {
		prov, err := ProviderFor(ctx, w.store, w.gateways, inst)
		if err != nil {
			return id, err
		}
		pn, err := prov.PhoneForLID(ctx, inst.SessionName, id.LID)
		if err != nil {
			// Keep going with the linked id; a later event links the two.
			w.log.WarnContext(ctx, "look up the phone of a linked id", "instance_id", inst.ID, "err", err)
		} else if p := whatsapp.PartyOf(pn); p.Phone != "" {
			id.Phone = p.Phone
		}
	}
	if id.Phone == "" && id.LID == "" {
		return id, fmt.Errorf("message %s has no usable sender %q: %w", m.ID, m.ChatID, asynq.SkipRetry)
	}
	return id, nil
}

func chatKind(k string) string {
	switch k {
	case whatsapp.ChatGroup:
		return db.ContactGroup
	case whatsapp.ChatStatus:
		return db.ContactStatus
	case whatsapp.ChatChannel:
		return db.ContactChannel
	}
	return db.ContactDirect
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
