package jobs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/db"
)

// TypeAIReply answers a customer's message with the tenant's AI. It runs
// after the burst wait, and only for the newest message of a burst, so
// several quick fragments get one answer. Its progress lives in ai_replies:
// the credits are reserved once per message, the model is asked once, and
// the answer is sent once, however often the task runs.
const TypeAIReply = "ai:reply"

// AIReplyPayload names the message to answer.
type AIReplyPayload struct {
	TenantID  int64 `json:"tenant_id"`
	ContactID int64 `json:"contact_id"`
	MessageID int64 `json:"message_id"`
}

// NewAIReplyTask returns the task, due after the burst wait.
func NewAIReplyTask(p AIReplyPayload, wait time.Duration) (*asynq.Task, error) {
	return newTask(TypeAIReply, p, asynq.TaskID("ai:"+strconv.FormatInt(p.MessageID, 10)),
		asynq.Queue(QueueCritical), asynq.MaxRetry(5), asynq.Timeout(90*time.Second), asynq.ProcessIn(wait))
}

func (w *Worker) aiReply(ctx context.Context, t *asynq.Task) error {
	var p AIReplyPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	ts := w.store.Tenant(p.TenantID)
	msg, err := ts.Message(ctx, p.MessageID)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	contact, err := ts.Contact(ctx, msg.ContactID)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	settings, err := ts.AISettings(ctx)
	if err != nil {
		return err
	}
	reply, err := ts.ReplyFor(ctx, msg.ID)
	switch {
	case errors.Is(err, db.ErrNotFound):
		latest, err := ts.LatestIncoming(ctx, contact.ID)
		if err != nil {
			return err
		}
		if latest.ID != msg.ID {
			return nil // a later message of the burst answers them all
		}
		if why, err := w.silence(ctx, ts, settings, contact, msg); err != nil || why != "" {
			if why != "" {
				w.log.DebugContext(ctx, "AI stays silent", "contact_id", contact.ID, "why", why)
			}
			return err
		}
		reply, err = ts.StartReply(ctx, &db.AIReply{
			ContactID: contact.ID, TriggerMessageID: msg.ID, InstanceID: msg.InstanceID, ChargeRef: "ai:" + msg.WaID,
		}, w.opts.CostAIReply+w.opts.CostMessage, "AI reply")
		if errors.Is(err, db.ErrInsufficientCredits) {
			return w.outOfCredits(ctx, ts, contact, msg)
		}
		if err != nil {
			return err
		}
		w.publish(ctx, p.TenantID, live.CreditsUpdated, nil)
	case err != nil:
		return err
	}
	switch reply.Status {
	case db.ReplySent, db.ReplyFailed, db.ReplyRefunded:
		return nil
	case db.ReplyReserved, db.ReplyGenerated:
		// Still unsent: the tenant may have taken over meanwhile.
		if why, err := w.stillWanted(ctx, ts, settings, contact); err != nil {
			return err
		} else if why != "" {
			return w.giveUp(ctx, ts, contact, reply, why, false)
		}
	}
	return w.advanceReply(ctx, ts, settings, contact, msg, reply)
}

// silence returns why the AI must not answer, or "". Some rules act as
// well: an expired takeover returns the chat to the AI, and outside business
// hours the after-hours reply goes out once.
func (w *Worker) silence(ctx context.Context, ts *db.TenantStore, s *db.AISettings, c *db.Contact, m *db.Message) (string, error) {
	if why, err := w.stillWanted(ctx, ts, s, c); err != nil || why != "" {
		return why, err
	}
	switch {
	case m.Direction != db.DirectionIn:
		return "not a customer's message", nil
	case c.Kind == db.ContactStatus || c.Kind == db.ContactChannel:
		return "status or channel message", nil
	case c.Kind == db.ContactGroup && !s.AnswerGroups:
		return "group chat", nil
	}
	n, err := ts.AIRepliesSince(ctx, c.ID, time.Now().Add(-time.Hour))
	if err != nil {
		return "", err
	}
	if n >= s.HourlyLimit {
		w.metrics.Count("ai_hourly_limit")
		w.log.WarnContext(ctx, "AI reply limit reached for a contact", "contact_id", c.ID, "replies_last_hour", n)
		return "hourly limit", nil
	}
	loc, err := w.tenantLocation(ctx, ts)
	if err != nil {
		return "", err
	}
	if open, closedSince := businessOpen(s, loc, time.Now()); !open {
		if s.AfterHoursReply != "" {
			first, err := ts.MarkAfterHoursReplied(ctx, c.ID, closedSince)
			if err != nil {
				return "", err
			}
			if first {
				if err := w.autoReply(ctx, ts, c, m, "after-hours", s.AfterHoursReply); err != nil {
					return "", err
				}
			}
		}
		return "outside business hours", nil
	}
	return "", nil
}

// stillWanted returns why an answer is no longer wanted for the chat, or "".
func (w *Worker) stillWanted(ctx context.Context, ts *db.TenantStore, s *db.AISettings, c *db.Contact) (string, error) {
	switch {
	case !s.Enabled:
		return "the AI is off", nil
	case c.OptedOutAt != nil:
		return "the contact opted out", nil
	case c.AIMode == db.ModeOff:
		return "the AI is off for this chat", nil
	case c.AIMode == db.ModeHuman:
		if c.HumanUntil != nil && !c.HumanUntil.After(time.Now()) {
			if _, err := ts.SetChatMode(ctx, c.ID, db.ModeAI, nil, ""); err != nil {
				return "", err
			}
			w.publish(ctx, ts.TenantID(), live.ContactUpdated, map[string]int64{"contact_id": c.ID})
			return "", nil
		}
		return "a person handles this chat", nil
	}
	return "", nil
}

// advanceReply moves a reply on from where it stands: generate, then send.
func (w *Worker) advanceReply(ctx context.Context, ts *db.TenantStore, s *db.AISettings, c *db.Contact, trigger *db.Message, r *db.AIReply) error {
	if r.InstanceID == nil {
		return w.giveUp(ctx, ts, c, r, "The WhatsApp number was deleted.", true)
	}
	inst, err := ts.Instance(ctx, *r.InstanceID)
	if errors.Is(err, db.ErrNotFound) {
		return w.giveUp(ctx, ts, c, r, "The WhatsApp number was deleted.", true)
	}
	if err != nil {
		return err
	}
	prov, err := ProviderFor(ctx, w.store, w.gateways, inst)
	if err != nil {
		return err
	}
	if r.Status == db.ReplyReserved && inst.Status != db.InstanceConnected {
		// Nothing could be sent: do not spend a model call on it.
		return w.giveUp(ctx, ts, c, r, "The AI did not answer: the WhatsApp number is not connected. The credits were refunded.", true)
	}

	if r.Status == db.ReplyReserved {
		// Seen, then typing while the model thinks; both are courtesy.
		if err := prov.SendSeen(ctx, inst.SessionName, c.ChatID, trigger.ProviderID); err != nil {
			w.log.DebugContext(ctx, "send seen", "err", err)
		}
		if err := prov.StartTyping(ctx, inst.SessionName, c.ChatID); err != nil {
			w.log.DebugContext(ctx, "start typing", "err", err)
		}
		if w.ai == nil {
			return w.giveUp(ctx, ts, c, r, "The AI is not set up on this server (no Gemini API key). The credits were refunded.", true)
		}
		req, err := w.aiRequest(ctx, ts, s, c)
		if err != nil {
			return err
		}
		out, err := w.ai.Reply(ctx, req)
		w.recordRun(ctx, ts, c, r, out, err)
		if err != nil {
			if ai.Retryable(err) && !lastAttempt(ctx) {
				return fmt.Errorf("ai reply: %w", err)
			}
			return w.giveUp(ctx, ts, c, r, "The AI could not answer ("+aiFailure(err)+"). The credits were refunded.", true)
		}
		r.ReplyText, r.Handoff, r.Status = out.Text, out.Handoff, db.ReplyGenerated
		if err := ts.UpdateReply(ctx, r); err != nil {
			return err
		}
		if out.Handoff {
			reason := "The AI asked for a person"
			if out.Reason != "" {
				reason += ": " + out.Reason
			}
			w.handOff(ctx, ts, c, s, reason)
		}
	}

	if r.Status == db.ReplyGenerated {
		if strings.TrimSpace(r.ReplyText) == "" {
			return w.giveUp(ctx, ts, c, r, "The AI had nothing to say. The credits were refunded.", true)
		}
		waID, err := prov.NewMessageID(ctx, inst.SessionName)
		if err != nil {
			if lastAttempt(ctx) || permanentSendError(err) {
				return w.giveUp(ctx, ts, c, r, "The answer could not be sent: "+sendFailureReason(err)+" The credits were refunded.", true)
			}
			return err
		}
		// The message row and the reply's step commit together, so a retry
		// finds the reserved id instead of making another.
		err = ts.RunInTx(ctx, func(ctx context.Context, tx *db.TenantStore) error {
			m, err := tx.SaveMessage(ctx, &db.Message{
				InstanceID: &inst.ID, ContactID: c.ID, WaID: waID, Direction: db.DirectionOut, Sender: db.SenderAI,
				ChatKind: c.Kind, Type: "text", Body: r.ReplyText, Status: db.MessagePending, ChargeRef: r.ChargeRef, SentAt: time.Now(),
			})
			if err != nil {
				return err
			}
			r.WaID, r.OutMessageID, r.Status = waID, &m.ID, db.ReplySending
			return tx.UpdateReply(ctx, r)
		})
		if err != nil {
			return err
		}
		w.publish(ctx, ts.TenantID(), live.MessageCreated, map[string]int64{"contact_id": c.ID, "message_id": *r.OutMessageID})
	}

	// Sending: deliver asks the gateway first when an earlier attempt may
	// already have sent it.
	out, err := ts.Message(ctx, *r.OutMessageID)
	if err != nil {
		return err
	}
	sent, err := w.deliver(ctx, ts, prov, inst, c.ChatID, out)
	var perm errPermanent
	switch {
	case errors.As(err, &perm) || (err != nil && lastAttempt(ctx)):
		if _, ferr := ts.FailMessage(ctx, out.ID, sendFailureReason(err)); ferr != nil {
			return ferr
		}
		return w.giveUp(ctx, ts, c, r, "The answer could not be sent: "+sendFailureReason(err)+" The credits were refunded.", true)
	case err != nil:
		return err
	}
	// The message itself ends the "typing…" indicator.
	r.Status = db.ReplySent
	if err := ts.UpdateReply(ctx, r); err != nil {
		return err
	}
	w.metrics.Count("ai_reply_sent")
	w.publish(ctx, ts.TenantID(), live.MessageUpdated, map[string]int64{"contact_id": c.ID, "message_id": sent.ID})
	return nil
}

// aiRequest builds the model request from the settings, the knowledge and
// the recent conversation.
func (w *Worker) aiRequest(ctx context.Context, ts *db.TenantStore, s *db.AISettings, c *db.Contact) (ai.Request, error) {
	tenant, err := ts.Tenant(ctx)
	if err != nil {
		return ai.Request{}, err
	}
	knowledge, err := ts.Knowledge(ctx)
	if err != nil {
		return ai.Request{}, err
	}
	history, err := ts.Messages(ctx, c.ID, 40)
	if err != nil {
		return ai.Request{}, err
	}
	req := ai.Request{
		Model: s.Model, Temperature: s.Temperature, BusinessName: tenant.Name,
		Persona: s.Persona, Instructions: s.Instructions, Now: time.Now(), Location: tenant.Location(),
	}
	for _, k := range knowledge {
		req.Knowledge = append(req.Knowledge, ai.Entry{Title: k.Title, Body: k.Body})
	}
	for _, m := range history {
		if m.Sender == db.SenderSystem || m.Status == db.MessageFailed || m.Body == "" {
			continue
		}
		req.Turns = append(req.Turns, ai.Turn{FromCustomer: m.Direction == db.DirectionIn, Text: m.Body})
	}
	return req, nil
}

func (w *Worker) recordRun(ctx context.Context, ts *db.TenantStore, c *db.Contact, r *db.AIReply, out ai.Reply, callErr error) {
	run := &db.AIRun{ContactID: &c.ID, ReplyID: &r.ID, Model: out.Model, InputTokens: out.InputTokens,
		OutputTokens: out.OutputTokens, LatencyMS: int(out.Latency.Milliseconds()), Outcome: "ok"}
	switch {
	case callErr != nil:
		run.Outcome, run.Error = "error", aiFailure(callErr)
	case out.Handoff:
		run.Outcome = "handoff"
	}
	if err := ts.RecordAIRun(ctx, run); err != nil {
		w.log.WarnContext(ctx, "record ai run", "err", err)
	}
	w.metrics.Count("ai_run_" + run.Outcome)
}

// aiFailure describes a model error for the tenant and the cost view.
func aiFailure(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "the model took too long"
	case errors.Is(err, ai.ErrEmpty):
		return "the model returned nothing"
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// giveUp ends a reply without sending it and refunds the reservation; with
// tell, the tenant sees why in the conversation.
func (w *Worker) giveUp(ctx context.Context, ts *db.TenantStore, c *db.Contact, r *db.AIReply, why string, tell bool) error {
	if err := ts.FailReply(ctx, r, why, true); err != nil {
		return err
	}
	if tell {
		if _, err := ts.AddNote(ctx, c.ID, "reply:"+strconv.FormatInt(r.ID, 10), why); err != nil {
			return err
		}
		w.publish(ctx, ts.TenantID(), live.MessageCreated, map[string]int64{"contact_id": c.ID})
	}
	w.publish(ctx, ts.TenantID(), live.CreditsUpdated, nil)
	return nil
}

// outOfCredits hands the chat to the tenant, who is told in the
// conversation and on the dashboard.
func (w *Worker) outOfCredits(ctx context.Context, ts *db.TenantStore, c *db.Contact, m *db.Message) error {
	if _, err := ts.SetChatMode(ctx, c.ID, db.ModeHuman, nil, "Out of credits: top up, then switch the AI back on for this chat."); err != nil {
		return err
	}
	if _, err := ts.AddNote(ctx, c.ID, "credits:"+strconv.FormatInt(m.ID, 10),
		"The AI did not answer: not enough credits. Top up on the billing page; this chat is yours until you switch the AI back on."); err != nil {
		return err
	}
	w.metrics.Count("ai_out_of_credits")
	w.publish(ctx, ts.TenantID(), live.ContactUpdated, map[string]int64{"contact_id": c.ID})
	w.publish(ctx, ts.TenantID(), live.MessageCreated, map[string]int64{"contact_id": c.ID})
	return nil
}

// handOff gives the chat to a person for the quiet period.
func (w *Worker) handOff(ctx context.Context, ts *db.TenantStore, c *db.Contact, s *db.AISettings, reason string) {
	until := time.Now().Add(time.Duration(s.HumanQuietMinutes) * time.Minute)
	if _, _, err := ts.ExtendHumanMode(ctx, c.ID, until, reason); err != nil {
		w.log.ErrorContext(ctx, "hand off chat", "contact_id", c.ID, "err", err)
		return
	}
	w.metrics.Count("handoff")
	w.publish(ctx, ts.TenantID(), live.ContactUpdated, map[string]int64{"contact_id": c.ID})
}

// autoReply sends a fixed reply (after hours, opt-out confirmation), charged
// as an outgoing message; without credits it is not sent.
func (w *Worker) autoReply(ctx context.Context, ts *db.TenantStore, c *db.Contact, trigger *db.Message, kind, text string) error {
	if trigger.InstanceID == nil {
		return nil
	}
	inst, err := ts.Instance(ctx, *trigger.InstanceID)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	prov, err := ProviderFor(ctx, w.store, w.gateways, inst)
	if err != nil {
		return err
	}
	ref := kind + ":" + trigger.WaID
	if _, err := ts.Charge(ctx, w.opts.CostMessage, "Automatic reply ("+kind+")", ref); errors.Is(err, db.ErrInsufficientCredits) {
		_, err := ts.AddNote(ctx, c.ID, ref, "The automatic "+kind+" reply was not sent: not enough credits.")
		return err
	} else if err != nil && w.opts.CostMessage > 0 {
		return err
	}
	waID, err := prov.NewMessageID(ctx, inst.SessionName)
	if err != nil {
		return err
	}
	m, err := ts.SaveMessage(ctx, &db.Message{
		InstanceID: &inst.ID, ContactID: c.ID, WaID: waID, Direction: db.DirectionOut, Sender: db.SenderAI,
		ChatKind: c.Kind, Type: "text", Body: text, Status: db.MessagePending, ChargeRef: ref, SentAt: time.Now(),
	})
	if err != nil {
		return err
	}
	w.publish(ctx, ts.TenantID(), live.CreditsUpdated, nil)
	w.publish(ctx, ts.TenantID(), live.MessageCreated, map[string]int64{"contact_id": c.ID, "message_id": m.ID})
	t, err := NewSendMessageTask(SendMessagePayload{TenantID: ts.TenantID(), MessageID: m.ID})
	return w.enqueue(ctx, t, err)
}

func (w *Worker) tenantLocation(ctx context.Context, ts *db.TenantStore) (*time.Location, error) {
	t, err := ts.Tenant(ctx)
	if err != nil {
		return nil, err
	}
	return t.Location(), nil
}

// businessOpen reports whether the business is open at now, and when the
// current closed period began (for "once per closed period" replies).
func businessOpen(s *db.AISettings, loc *time.Location, now time.Time) (bool, time.Time) {
	if !s.HoursEnabled || len(s.Hours) != 7 {
		return true, time.Time{}
	}
	local := now.In(loc)
	day := func(t time.Time) *db.DayHours { return s.Hours[(int(t.Weekday())+6)%7] }
	at := func(t time.Time, minute int) time.Time {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc).Add(time.Duration(minute) * time.Minute)
	}
	if h := day(local); h != nil && !local.Before(at(local, h.Open)) && local.Before(at(local, h.Close)) {
		return true, time.Time{}
	}
	for d := 0; d <= 7; d++ {
		t := local.AddDate(0, 0, -d)
		if h := day(t); h != nil {
			if closed := at(t, h.Close); !closed.After(local) {
				return false, closed
			}
		}
	}
	return false, local.AddDate(0, 0, -7)
}
