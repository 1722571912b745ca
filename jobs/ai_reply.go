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
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// TypeAIReply answers a customer's message with the tenant's AI. It runs
// after the burst wait, and only for the newest message of a burst, so
// several quick fragments get one answer. Its progress lives in ai_replies:
// the credits are reserved once per message, the model is asked (again only
// after a crash), and the answer is handed to the outbox once, however often
// the task runs. Attempt is the generation of the message's AI work this task
// may do; the sweeper re-drives work whose worker died with the next one.
const TypeAIReply = "ai:reply"

// AIReplyPayload names the message to answer and the attempt.
type AIReplyPayload struct {
	TenantID  int64 `json:"tenant_id"`
	ContactID int64 `json:"contact_id"`
	MessageID int64 `json:"message_id"`
	Attempt   int   `json:"attempt"`
}

// NewAIReplyTask returns the task, due at at (after the burst wait).
func NewAIReplyTask(p AIReplyPayload, at time.Time) (*asynq.Task, error) {
	id := "ai:" + strconv.FormatInt(p.MessageID, 10) + ":" + strconv.Itoa(p.Attempt)
	return newTask(TypeAIReply, p, asynq.TaskID(id),
		asynq.Queue(QueueCritical), asynq.MaxRetry(5), asynq.Timeout(5*time.Minute), asynq.ProcessAt(at))
}

func (w *Worker) aiReply(ctx context.Context, t *asynq.Task) error {
	var p AIReplyPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	ts := w.store.Tenant(p.TenantID)
	msg, err := ts.ClaimAIWork(ctx, p.MessageID, p.Attempt, w.opts.AILease)
	if errors.Is(err, db.ErrNotFound) {
		return nil // done, or handed to a newer attempt
	}
	if err != nil {
		return err
	}
	finished, err := w.answer(ctx, ts, msg)
	if err != nil || finished {
		return err
	}
	return ts.FinishWork(ctx, msg.ID)
}

// answer moves the AI answer to msg on from where it stands: reserve the
// credits, generate, hand the text to the outbox. finished says the work on
// msg was ended with the hand-over.
func (w *Worker) answer(ctx context.Context, ts *db.TenantStore, msg *db.Message) (finished bool, err error) {
	contact, err := ts.Contact(ctx, msg.ContactID)
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	settings, err := ts.AISettings(ctx)
	if err != nil {
		return false, err
	}
	may, err := w.tenantMay(ctx, ts, db.ActAIReply)
	if err != nil {
		return false, err
	}
	paused, err := numberPaused(ctx, ts, msg.InstanceID)
	if err != nil {
		return false, err
	}
	why := "The account is suspended."
	if may && paused {
		may, why = false, pausedReason
	}
	reply, err := ts.ReplyFor(ctx, msg.ID)
	if errors.Is(err, db.ErrNotFound) {
		if !may {
			return false, nil // a suspended tenant's (or paused number's) AI stays silent
		}
		reply, err = w.startReply(ctx, ts, settings, contact, msg)
	}
	if err != nil || reply == nil {
		return false, err
	}
	if reply.Status != db.ReplyReserved && reply.Status != db.ReplyGenerated {
		return false, nil // handed to the outbox, or ended
	}
	// Still unsent: the tenant may have taken over, or been suspended,
	// meanwhile.
	if !may {
		return false, w.giveUp(ctx, ts, contact, reply, why, false)
	}
	if why, _ := ai.StillWanted(settings, contact, time.Now()); why != "" {
		return false, w.giveUp(ctx, ts, contact, reply, why, false)
	}
	if reply.Status == db.ReplyReserved {
		if err := w.generate(ctx, ts, settings, contact, msg, reply); err != nil {
			return false, err
		}
	}
	if reply.Status == db.ReplyGenerated {
		return w.queueAnswer(ctx, ts, contact, reply)
	}
	return false, nil
}

// startReply reserves the credits of an answer to msg, unless a later
// message of the burst answers them all or the chat no longer wants one. It
// returns nil when no answer is due.
func (w *Worker) startReply(ctx context.Context, ts *db.TenantStore, s *db.AISettings, c *db.Contact, msg *db.Message) (*db.AIReply, error) {
	latest, err := ts.LatestIncoming(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if latest.ID != msg.ID {
		return nil, nil // a later message of the burst answers them all
	}
	why, returnToAI := ai.StillWanted(s, c, time.Now())
	if returnToAI {
		if _, err := ts.SetChatMode(ctx, c.ID, db.ModeAI, nil, ""); err != nil {
			return nil, err
		}
		w.publish(ctx, ts.TenantID(), live.ContactUpdated, map[string]int64{"contact_id": c.ID})
	}
	if why != "" {
		w.log.DebugContext(ctx, "AI stays silent", "contact_id", c.ID, "why", why)
		return nil, nil
	}
	burst, err := ts.UnansweredIncoming(ctx, c.ID, msg.ID, maxBurst)
	if err != nil {
		return nil, err
	}
	cost, reason := w.opts.CostAIReply, "AI reply"
	if burstMedia(burst) {
		// The model reads a voice note, photo or document: more tokens.
		cost, reason = w.opts.CostAIMediaReply, "AI reply to a voice note, photo or document"
	}
	reply, err := ts.StartReply(ctx, &db.AIReply{
		ContactID: c.ID, TriggerMessageID: msg.ID, InstanceID: msg.InstanceID, ChargeRef: "ai:" + msg.WaID,
	}, cost+w.opts.CostMessage, reason)
	if errors.Is(err, db.ErrInsufficientCredits) {
		return nil, w.outOfCredits(ctx, ts, c, msg)
	}
	if err != nil {
		return nil, err
	}
	w.publish(ctx, ts.TenantID(), live.CreditsUpdated, nil)
	return reply, nil
}

// generate asks the model for the answer and stores it (reserved →
// generated). A failure that may pass is returned for a retry; the last
// one gives up and refunds.
func (w *Worker) generate(ctx context.Context, ts *db.TenantStore, s *db.AISettings, c *db.Contact, trigger *db.Message, r *db.AIReply) error {
	inst, prov, why, err := w.replyRoute(ctx, ts, r)
	if err != nil {
		return err
	}
	if why == "" && inst.Status != db.InstanceConnected {
		why = "The AI did not answer: the WhatsApp number is not connected. The credits were refunded."
	}
	if why != "" {
		// Nothing could be sent: do not spend a model call on it.
		return w.giveUp(ctx, ts, c, r, why, true)
	}
	if w.ai == nil {
		return w.giveUp(ctx, ts, c, r, "The AI is not set up on this server (no Gemini API key). The credits were refunded.", true)
	}
	// Seen, then typing while the model thinks; both are courtesy.
	if err := prov.SendSeen(ctx, inst.SessionName, c.ChatID, trigger.ProviderID); err != nil {
		w.log.DebugContext(ctx, "send seen", "err", err)
	}
	if typist, ok := prov.(whatsapp.Typist); ok {
		if err := typist.StartTyping(ctx, inst.SessionName, c.ChatID); err != nil {
			w.log.DebugContext(ctx, "start typing", "err", err)
		}
	}
	burst, err := ts.UnansweredIncoming(ctx, c.ID, trigger.ID, maxBurst)
	if err != nil {
		return err
	}
	media, refusal, err := w.readMedia(ctx, ts, prov, inst, burst)
	if err != nil {
		return err
	}
	if refusal != "" {
		return w.refuseMedia(ctx, ts, s, c, trigger, r, refusal)
	}
	req, err := w.aiRequest(ctx, ts, s, c, media)
	if err != nil {
		return err
	}
	callCtx, cancel := context.WithTimeout(ctx, w.opts.AITimeout)
	out, err := w.ai.Reply(callCtx, req)
	cancel()
	w.recordRun(ctx, ts, c, r, out, err)
	if err != nil {
		if ai.Retryable(err) && !lastAttempt(ctx) {
			return fmt.Errorf("ai reply: %w", err)
		}
		w.log.WarnContext(ctx, "the AI could not answer", "tenant_id", ts.TenantID(), "contact_id", c.ID, "err", err)
		return w.giveUp(ctx, ts, c, r, "The AI could not answer: "+ai.FailureReason(err)+". The credits were refunded.", true)
	}
	r.ReplyText, r.Handoff, r.Status = whatsapp.CleanText(out.Text), out.Handoff, db.ReplyGenerated
	if err := w.saveGenerated(ctx, ts, c, r, notesOf(burst, media, out)); err != nil {
		return err
	}
	if out.Handoff {
		reason := "The AI asked for a person"
		if out.Reason != "" {
			reason += ": " + whatsapp.CleanText(out.Reason)
		}
		return w.handOff(ctx, ts, c, s, reason)
	}
	return nil
}

// replyRoute finds the number a reply goes out from; why says why it cannot.
func (w *Worker) replyRoute(ctx context.Context, ts *db.TenantStore, r *db.AIReply) (*db.Instance, whatsapp.Provider, string, error) {
	const gone = "The WhatsApp number was deleted."
	if r.InstanceID == nil {
		return nil, nil, gone, nil
	}
	inst, err := ts.Instance(ctx, *r.InstanceID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil, gone, nil
	}
	if err != nil {
		return nil, nil, "", err
	}
	prov, err := whatsapp.ProviderFor(ctx, w.store, w.gateways, inst)
	if errors.Is(err, whatsapp.ErrNoNode) {
		return nil, nil, gone, nil
	}
	return inst, prov, "", err
}

// queueAnswer hands the generated answer to the outbox (generated →
// sending), paid by the reply's reservation, which ends the AI work on the
// trigger message. The outbox's key is the reply, so a retry finds the
// message queued first.
func (w *Worker) queueAnswer(ctx context.Context, ts *db.TenantStore, c *db.Contact, r *db.AIReply) (handedOver bool, err error) {
	if strings.TrimSpace(r.ReplyText) == "" {
		return false, w.giveUp(ctx, ts, c, r, "The AI had nothing to say. The credits were refunded.", true)
	}
	inst, prov, why, err := w.replyRoute(ctx, ts, r)
	if err != nil {
		return false, err
	}
	if why != "" {
		return false, w.giveUp(ctx, ts, c, r, why, true)
	}
	// Where the gateway can, its id is reserved before the message is
	// stored, so sending it never changes its key; if it cannot now, the
	// send will; a gateway that never can gives the message its id when it
	// sends it (see whatsapp.Outbox).
	waID := ""
	if reserver, ok := prov.(whatsapp.IDReserver); ok {
		id, err := reserver.NewMessageID(ctx, inst.SessionName)
		if err != nil {
			w.log.InfoContext(ctx, "reserve a message id; the send will", "instance_id", inst.ID, "err", err)
		}
		waID = id
	}
	m, err := w.outbox.Queue(ctx, ts, whatsapp.Outgoing{
		Key: "ai:" + strconv.FormatInt(r.ID, 10), InstanceID: inst.ID, ContactID: c.ID, ChatKind: c.Kind,
		Sender: db.SenderAI, Body: r.ReplyText, PaidBy: r.ChargeRef, WaID: waID, SendNow: true,
	})
	if err != nil {
		return false, err
	}
	if err := ts.HandReplyToOutbox(ctx, r, m); err != nil {
		return false, err
	}
	w.metrics.Count("ai_reply_queued")
	w.publish(ctx, ts.TenantID(), live.MessageCreated, map[string]int64{"contact_id": c.ID, "message_id": m.ID})
	// The first attempt right here: the customer is waiting. Whatever it
	// leaves undone, the outbox finishes.
	res, err := w.outbox.Send(ctx, ts, m.ID, 0)
	if err != nil {
		w.log.WarnContext(ctx, "send the answer; the outbox will retry", "message_id", m.ID, "err", err)
		return true, nil
	}
	if res.Message != nil {
		w.publish(ctx, ts.TenantID(), live.MessageUpdated, map[string]int64{"contact_id": c.ID, "message_id": m.ID})
	}
	if res.Refunded {
		w.publish(ctx, ts.TenantID(), live.CreditsUpdated, nil)
	}
	return true, nil
}

// aiRequest builds the model request from the settings, the knowledge and
// the recent conversation.
// maxBurst bounds the customer's messages one answer reads.
const maxBurst = 20

// aiRequest is the model's request: the tenant's assistant, its knowledge
// and the conversation, with the files of media (by message id) inline; older
// media is told by its transcript.
func (w *Worker) aiRequest(ctx context.Context, ts *db.TenantStore, s *db.AISettings, c *db.Contact, media map[int64]*ai.Media) (ai.Request, error) {
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
		text := turnText(&m, media[m.ID] != nil)
		if m.Sender == db.SenderSystem || m.Status == db.MessageFailed || text == "" {
			continue
		}
		req.Turns = append(req.Turns, ai.Turn{FromCustomer: m.Direction == db.DirectionIn, Text: text, Media: media[m.ID]})
	}
	return req, nil
}

func (w *Worker) recordRun(ctx context.Context, ts *db.TenantStore, c *db.Contact, r *db.AIReply, out ai.Reply, callErr error) {
	run := &db.AIRun{ContactID: &c.ID, ReplyID: &r.ID, Model: out.Model, InputTokens: out.InputTokens,
		AudioInputTokens: min(out.AudioInputTokens, out.InputTokens), OutputTokens: out.OutputTokens, LatencyMS: int(out.Latency.Milliseconds()), Outcome: "ok"}
	switch {
	case callErr != nil:
		run.Outcome, run.Error = "error", aiFailure(callErr)
	case out.Handoff:
		run.Outcome = "handoff"
	}
	if err := ts.RecordAIRun(ctx, run); err != nil {
		w.log.WarnContext(ctx, "record ai run", "err", err)
	}
	if f := out.Fitted; f.DroppedEntries > 0 || f.Truncated {
		// The knowledge (older than its caps) or the message did not fit.
		w.metrics.Count("ai_prompt_trimmed")
		w.log.InfoContext(ctx, "prompt trimmed to the input budget", "tenant_id", ts.TenantID(), "contact_id", c.ID,
			"dropped_entries", f.DroppedEntries, "dropped_turns", f.DroppedTurns, "truncated", f.Truncated, "tokens", f.Tokens)
	}
	w.metrics.Count("ai_run_" + run.Outcome)
}

// aiFailure is the technical detail of a model error, for the owner's cost
// view (tenants read ai.FailureReason).
func aiFailure(err error) string {
	msg := whatsapp.CleanText(err.Error())
	if r := []rune(msg); len(r) > 300 {
		msg = string(r[:300])
	}
	return msg
}

// giveUp ends a reply without sending it and refunds the reservation; with
// tell, the tenant sees why in the conversation.
func (w *Worker) giveUp(ctx context.Context, ts *db.TenantStore, c *db.Contact, r *db.AIReply, why string, tell bool) error {
	// The note first (it is keyed by the reply, so a retry writes it
	// once), then the reply's end: whoever sees the reply ended sees why.
	if tell {
		if _, err := ts.AddNote(ctx, c.ID, "reply:"+strconv.FormatInt(r.ID, 10), why); err != nil {
			return err
		}
	}
	if err := ts.FailReply(ctx, r, why, true); err != nil {
		return err
	}
	if tell {
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
func (w *Worker) handOff(ctx context.Context, ts *db.TenantStore, c *db.Contact, s *db.AISettings, reason string) error {
	until := time.Now().Add(time.Duration(s.HumanQuietMinutes) * time.Minute)
	if _, _, err := ts.ExtendHumanMode(ctx, c.ID, until, reason); err != nil {
		return err
	}
	w.metrics.Count("handoff")
	w.publish(ctx, ts.TenantID(), live.ContactUpdated, map[string]int64{"contact_id": c.ID})
	return nil
}

// pausedReason is why the AI did not answer on a paused number.
const pausedReason = "The WhatsApp number is paused: the plan allows fewer numbers."

// numberPaused reports whether the number a message came in on is paused
// beyond the plan's limit (its AI then stays silent); false for a number
// deleted or unknown.
func numberPaused(ctx context.Context, ts *db.TenantStore, id *int64) (bool, error) {
	if id == nil {
		return false, nil
	}
	inst, err := ts.Instance(ctx, *id)
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return inst.PausedAt != nil, nil
}

// turnText is a message as the model reads it: a poll with its options; a
// customer's media as a placeholder with its caption, and, once the AI has
// read it, with what it heard or saw (the file itself goes inline only
// while it is being answered).
func turnText(m *db.Message, inline bool) string {
	text := m.Body
	if m.Poll != nil {
		text += "\n(Poll; options: " + strings.Join(m.Poll.Options, " / ") + ")"
	}
	if m.Direction != db.DirectionIn || !ai.IsMedia(m.Type) {
		return text
	}
	label := "[" + ai.MediaLabel(m.Type) + "]"
	if m.Transcript != "" && !inline {
		label = "[" + ai.MediaLabel(m.Type) + ": " + m.Transcript + "]"
	}
	return strings.TrimSpace(label + " " + text)
}
