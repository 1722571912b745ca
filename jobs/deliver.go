package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// errPermanent marks a send the gateway refused: retrying cannot help.
type errPermanent struct{ err error }

func (e errPermanent) Error() string { return e.err.Error() }
func (e errPermanent) Unwrap() error { return e.err }

// deliver sends a stored outgoing message exactly once. The message already
// has its pre-generated gateway id. When an earlier attempt may have sent it
// (status sending), the gateway is asked first, so our retries never send it
// twice. A refusal by the gateway is returned as errPermanent.
func (w *Worker) deliver(ctx context.Context, ts *db.TenantStore, prov whatsapp.Provider, inst *db.Instance, chatID string, m *db.Message) (*db.Message, error) {
	if m.Status == db.MessageSending {
		exists, err := prov.MessageExists(ctx, inst.SessionName, chatID, m.WaID)
		if err != nil {
			return nil, fmt.Errorf("check whether message %d went out: %w", m.ID, err)
		}
		if exists {
			return ts.MarkMessageSent(ctx, m.ID, "")
		}
	}
	if m.Status != db.MessagePending && m.Status != db.MessageSending {
		return m, nil // sent (or failed) already
	}
	if err := ts.MarkMessageSending(ctx, m.ID); err != nil {
		return nil, err
	}
	sent, err := prov.SendText(ctx, whatsapp.Text{Session: inst.SessionName, ChatID: chatID, ID: m.WaID, Body: m.Body, ReplyTo: m.ReplyTo})
	if err != nil {
		if permanentSendError(err) {
			return nil, errPermanent{err}
		}
		return nil, err
	}
	return ts.MarkMessageSent(ctx, m.ID, sent.ID)
}

// permanentSendError reports whether the gateway refused: retrying cannot
// help (and the message was not sent).
func permanentSendError(err error) bool {
	return errors.Is(err, whatsapp.ErrBadRequest) || errors.Is(err, whatsapp.ErrWrongStatus) ||
		errors.Is(err, whatsapp.ErrUnauthorized) || errors.Is(err, whatsapp.ErrSessionNotFound)
}

// sendFailureReason is what the tenant reads when a message could not go out.
func sendFailureReason(err error) string {
	switch {
	case errors.Is(err, whatsapp.ErrWrongStatus), errors.Is(err, whatsapp.ErrSessionNotFound):
		return "The WhatsApp number is not connected."
	case errors.Is(err, whatsapp.ErrBadRequest):
		return "WhatsApp refused the message."
	case errors.Is(err, whatsapp.ErrUnauthorized):
		return "The WhatsApp server refused our key; the platform owner has been told."
	}
	return "The WhatsApp server could not be reached."
}

// TypeSendMessage sends one stored outgoing message (a manual reply, an
// automatic reply) exactly once.
const TypeSendMessage = "message:send"

// SendMessagePayload names the message.
type SendMessagePayload struct {
	TenantID  int64 `json:"tenant_id"`
	MessageID int64 `json:"message_id"`
}

// NewSendMessageTask returns the task; one per message.
func NewSendMessageTask(p SendMessagePayload) (*asynq.Task, error) {
	return newTask(TypeSendMessage, p, asynq.TaskID("send:"+strconv.FormatInt(p.MessageID, 10)),
		asynq.Queue(QueueCritical), asynq.MaxRetry(6), asynq.Timeout(time.Minute))
}

func (w *Worker) sendMessage(ctx context.Context, t *asynq.Task) error {
	var p SendMessagePayload
	if err := decode(t, &p); err != nil {
		return err
	}
	ts := w.store.Tenant(p.TenantID)
	m, err := ts.Message(ctx, p.MessageID)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.Status != db.MessagePending && m.Status != db.MessageSending {
		return nil
	}
	fail := func(why string) error {
		if _, err := ts.FailMessage(ctx, m.ID, why); err != nil {
			return err
		}
		w.publish(ctx, p.TenantID, live.MessageUpdated, map[string]int64{"contact_id": m.ContactID, "message_id": m.ID})
		w.publish(ctx, p.TenantID, live.CreditsUpdated, nil)
		return nil
	}
	contact, err := ts.Contact(ctx, m.ContactID)
	if err != nil {
		return err
	}
	if m.InstanceID == nil {
		return fail("The WhatsApp number was deleted.")
	}
	inst, err := ts.Instance(ctx, *m.InstanceID)
	if errors.Is(err, db.ErrNotFound) {
		return fail("The WhatsApp number was deleted.")
	}
	if err != nil {
		return err
	}
	prov, err := ProviderFor(ctx, w.store, w.gateways, inst)
	if err != nil {
		return err
	}
	sent, err := w.deliver(ctx, ts, prov, inst, contact.ChatID, m)
	var perm errPermanent
	switch {
	case errors.As(err, &perm):
		return fail(sendFailureReason(err))
	case err != nil && lastAttempt(ctx):
		if exists, cerr := prov.MessageExists(ctx, inst.SessionName, contact.ChatID, m.WaID); cerr == nil && exists {
			sent, err := ts.MarkMessageSent(ctx, m.ID, "")
			if err != nil {
				return err
			}
			w.publish(ctx, p.TenantID, live.MessageUpdated, map[string]int64{"contact_id": sent.ContactID, "message_id": sent.ID})
			return nil
		}
		if err := fail(sendFailureReason(err)); err != nil {
			return err
		}
		return fmt.Errorf("send message %d: %v: %w", m.ID, err, asynq.SkipRetry)
	case err != nil:
		return err
	}
	w.publish(ctx, p.TenantID, live.MessageUpdated, map[string]int64{"contact_id": sent.ContactID, "message_id": sent.ID})
	return nil
}
