package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

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

// NewProcessWebhookTask returns the task. Its id is the provider's event id
// and the event's generation, so an event delivered many times is queued
// once, and a re-drive by the sweeper (generation 1, 2…) is a new task even
// while an earlier one is stuck with a dead worker.
func NewProcessWebhookTask(p ProcessWebhookPayload, provider, providerEventID string, generation int) (*asynq.Task, error) {
	id := "webhook:" + provider + ":" + providerEventID
	if generation > 0 {
		id += ":g" + strconv.Itoa(generation)
	}
	return newTask(TypeProcessWebhook, p, asynq.TaskID(id),
		asynq.Queue(QueueCritical), asynq.MaxRetry(db.MaxWebhookAttempts+2), asynq.Timeout(30*time.Second))
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
	if ev.ProcessedAt != nil || ev.DeadAt != nil {
		return nil
	}
	procErr := w.applyEvent(ctx, ts, ev)
	// Never going to work (e.g. an unreadable payload): park it at once.
	never := errors.Is(procErr, asynq.SkipRetry)
	dead, err := ts.MarkWebhookEvent(ctx, ev.ID, procErr, never)
	if err != nil {
		return err
	}
	if dead {
		// Parked with its error for the owner's console; newer events are
		// not held up by it.
		w.metrics.Count("webhook_event_dead")
		w.log.ErrorContext(ctx, "webhook event given up on", "event_id", ev.EventID, "tenant_id", ev.TenantID,
			"attempts", ev.Attempts+1, "err", procErr)
		return nil
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
		retried, _ := asynq.GetRetryCount(ctx)
		// A first try that finds the message stored did not store it: the
		// event that did (message and message.any both carry an incoming
		// message) finishes it, and its own retry or re-drive finishes it
		// after a crash.
		first := ev.Attempts == 0 && ev.Generation == 0 && retried == 0
		return w.ingestMessage(ctx, ts, inst, e.Message, first)
	case whatsapp.EventAck:
		if e.Ack == nil {
			return nil
		}
		return w.applyAck(ctx, ts, inst.ID, e.Ack.Key, e.Ack.Level)
	case whatsapp.EventSessionStatus:
		if e.Status == nil {
			return nil
		}
		info := whatsapp.SessionInfo{Name: e.Session, Status: e.Status.Status, Me: e.Me}
		if info.Status != whatsapp.StatusWorking {
			info.Me = nil // the envelope's "me" is stale once unlinked
		}
		state := SessionState(info)
		if state.Status == db.InstanceLoggedOut && !linked(inst) {
			// Nothing was linked to unlink: the gateway restarting a
			// login (Evolution logs out to make a pairing code).
			return nil
		}
		if info.Status != whatsapp.StatusWorking {
			// A number the tenant unlinked stays unlinked, whatever the
			// gateway does with the session next, until it is linked again.
			state.OnlyFrom = []string{db.InstanceCreating, db.InstanceStarting, db.InstanceScanQR,
				db.InstanceConnected, db.InstanceDisconnected, db.InstanceFailed}
		}
		state.ObservedAt = e.Timestamp
		return w.applyState(ctx, inst, state)
	case whatsapp.EventPollVote:
		if e.Vote == nil {
			return nil
		}
		return w.recordVote(ctx, ts, inst.ID, e.Vote)
	case whatsapp.EventPollVoteFailed:
		// The choice is unknown: nothing to count or tag, but the
		// recipient answered, and the page says so.
		if e.Vote == nil {
			return nil
		}
		r, err := ts.RecordUnreadableVote(ctx, inst.ID, e.Vote.PollKey, orNow(e.Vote.Timestamp))
		if errors.Is(err, db.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		w.publish(ctx, ts.TenantID(), live.CampaignUpdated, map[string]int64{"campaign_id": r.CampaignID})
		return nil
	}
	// Other kinds are not used.
	return nil
}

// recordVote counts a vote on a campaign poll and tags the voter; a vote on
// a poll no campaign sent is ignored.
func (w *Worker) recordVote(ctx context.Context, ts *db.TenantStore, instanceID int64, v *whatsapp.PollVote) error {
	res, err := ts.RecordVote(ctx, instanceID, v.PollKey, v.Selected, v.Timestamp)
	if errors.Is(err, db.ErrNotFound) || (err == nil && !res.Applied) {
		return nil
	}
	if err != nil {
		return err
	}
	w.publish(ctx, ts.TenantID(), live.CampaignUpdated, map[string]int64{"campaign_id": res.Recipient.CampaignID})
	if res.Recipient.ContactID != nil {
		w.publish(ctx, ts.TenantID(), live.ContactUpdated, map[string]int64{"contact_id": *res.Recipient.ContactID})
	}
	return nil
}

// ingestMessage stores a message of a chat, creating or linking its contact,
// then finishes what the message sets off. Each step is idempotent and the
// event counts as processed only after the last one, so a retry after a
// crash at any point (or a second delivery of the message) completes it.
func (w *Worker) ingestMessage(ctx context.Context, ts *db.TenantStore, inst *db.Instance, m *whatsapp.Message, firstTry bool) error {
	id, err := w.identity(ctx, inst, m)
	if err != nil {
		return err
	}
	contact, _, err := ts.UpsertContact(ctx, id)
	if err != nil {
		return err
	}
	saved, err := ts.SaveMessage(ctx, messageRow(inst, contact, m))
	if err != nil {
		return err
	}
	if saved.Inserted {
		w.publish(ctx, ts.TenantID(), live.MessageCreated, map[string]int64{"contact_id": saved.ContactID, "message_id": saved.ID})
	}
	owner := saved.Inserted || !firstTry
	switch {
	case saved.Direction == db.DirectionIn:
		if saved.HandledAt != nil || !owner {
			return nil
		}
		return w.handleIncoming(ctx, ts, contact, saved)
	case saved.Sender == db.SenderPhone:
		if saved.HandledAt != nil || !owner {
			return nil
		}
		// The owner answered from their phone: the AI steps back.
		s, err := ts.AISettings(ctx)
		if err != nil {
			return err
		}
		if err := w.handOff(ctx, ts, contact, s, "You replied from your phone"); err != nil {
			return err
		}
		return ts.MarkInboundHandled(ctx, saved.ID)
	case !saved.Inserted && m.FromMe && saved.Sender != db.SenderAPI:
		// The echo of a message we sent: it is in the chat, whatever our
		// own attempt concluded (usually it has already been settled).
		level := max(m.Ack, whatsapp.AckServer)
		if level > saved.Ack || saved.Status == db.MessageFailed || saved.Status == db.MessagePending || saved.Status == db.MessageSending {
			return w.applyAck(ctx, ts, inst.ID, saved.WaID, level)
		}
	}
	return nil
}

// messageRow is the stored form of a message from a webhook.
func messageRow(inst *db.Instance, contact *db.Contact, m *whatsapp.Message) *db.Message {
	msg := &db.Message{
		InstanceID: &inst.ID,
		ContactID:  contact.ID,
		WaID:       m.Key,
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
	return msg
}

// applyAck records a delivery status and tells the pages.
func (w *Worker) applyAck(ctx context.Context, ts *db.TenantStore, instanceID int64, waID string, level int) error {
	m, err := ts.ApplyAck(ctx, instanceID, waID, level)
	if errors.Is(err, db.ErrNotFound) {
		return nil // unknown message, or an older status than we have
	}
	if err != nil {
		return err
	}
	w.publish(ctx, ts.TenantID(), live.MessageUpdated, map[string]int64{"contact_id": m.ContactID, "message_id": m.ID})
	if m.Status == db.MessageFailed {
		w.publish(ctx, ts.TenantID(), live.CreditsUpdated, nil) // refunded
	}
	return nil
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
		phone, err := w.phoneForLID(ctx, inst, id.LID)
		if err != nil {
			return id, err
		}
		id.Phone = phone
	}
	if id.Phone == "" && id.LID == "" {
		return id, fmt.Errorf("message %s has no usable sender %q: %w", m.ID, m.ChatID, asynq.SkipRetry)
	}
	return id, nil
}

// phoneForLID asks the gateway, when it can tell (whatsapp.LIDResolver),
// for the phone number behind a linked id; "" when it cannot or does not
// know. An error only when the number's gateway is unknown.
func (w *Worker) phoneForLID(ctx context.Context, inst *db.Instance, lid string) (string, error) {
	prov, err := whatsapp.ProviderFor(ctx, w.store, w.gateways, inst)
	if err != nil {
		return "", err
	}
	resolver, ok := prov.(whatsapp.LIDResolver)
	if !ok {
		return "", nil // a later message naming the phone links the two
	}
	pn, err := resolver.PhoneForLID(ctx, inst.SessionName, lid)
	if err != nil {
		// Keep going with the linked id; a later event links the two.
		w.log.WarnContext(ctx, "look up the phone of a linked id", "instance_id", inst.ID, "err", err)
		return "", nil
	}
	return whatsapp.PartyOf(pn).Phone, nil
}

// linked reports whether a number has a phone linked, or had one when it
// dropped: a logout means something only then.
func linked(inst *db.Instance) bool {
	switch inst.Status {
	case db.InstanceCreating, db.InstanceStarting, db.InstanceScanQR:
		return false
	}
	return true
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

// orNow is t, or now when the event gave no time.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
