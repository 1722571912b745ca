package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/myaibud/aibud/db"
)

// Outbox is the one way a message leaves aibud: manual replies, AI answers,
// automatic replies and campaign sends all go through it.
//
// Queue charges the message through the ledger (a reference unique to the
// message), stores it pending with the time its send is due, and asks for a
// send task; all of it survives a crash or a Redis failure at any point,
// because a sweeper re-drives every message whose time came without it being
// settled (see db.RedriveDueMessagesAllTenants). Send makes one attempt:
// it reserves the gateway's message id before the first send, and before
// sending again after an attempt whose outcome is unknown it asks the gateway
// whether the message went out. When that question cannot be answered, the
// message is sent again with the same id: WhatsApp keys a message by its id
// within a chat and delivers a repeated id once (the WAHA stand-in does the
// same), so a resend never reaches the customer twice, while giving up would
// leave them without an answer. A gateway that refuses the message ends it
// failed and refunded; one that cannot be reached is tried again after a
// short, growing, jittered wait, for up to GiveUpAfter. Acks and echoes
// from the gateway have the last word (db.ApplyAck).
//
// A kind of message the gateway sends under an id of its own (WAHA's
// images: Provider.HonoursMessageID) takes the id of the send's answer
// (db.AdoptWaID, which folds in an echo stored first), then reads its status
// from the chat once (Provider.SentSince), as acks that came before found no
// message of that id. After an attempt whose outcome is unknown, the chat's
// messages sent since the message was queued are looked through: an image
// we sent with the same caption that no other message of ours claims is
// taken as this one; none means it did not go out, and it is sent again.
// While the gateway cannot tell, nothing is sent: the question is asked
// again after a wait, and when it is refused or GiveUpAfter passes the
// message fails, refunded, rather than risk reaching the customer twice.
type Outbox struct {
	store    *db.Store
	gateways *Gateways
	schedule Scheduler
	log      *slog.Logger
	opts     OutboxOptions
}

// Scheduler asks for the send task of a message's attempt at a time. A
// failure is tolerated: the sweeper sends the message when its time comes.
type Scheduler func(ctx context.Context, tenantID, messageID int64, attempt int, at time.Time) error

// OutboxOptions tune the outbox; zero values take the defaults.
type OutboxOptions struct {
	// Grace is how long a queued message waits for its send task before
	// the sweeper takes it over (default 10 s).
	Grace time.Duration
	// Lease is how long one attempt may take before another may begin
	// (default 45 s); longer than a send's HTTP timeout.
	Lease time.Duration
	// Backoff is the wait after the first failed attempt (default 1 s); it
	// doubles, with jitter, up to MaxBackoff (default 5 min).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// GiveUpAfter is how long after it was queued a message that could not
	// be sent is failed and refunded (default 30 min).
	GiveUpAfter time.Duration
}

// NewOutbox returns the outbox.
func NewOutbox(store *db.Store, gateways *Gateways, schedule Scheduler, log *slog.Logger, o OutboxOptions) *Outbox {
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 45 * time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Minute
	}
	if o.GiveUpAfter <= 0 {
		o.GiveUpAfter = 30 * time.Minute
	}
	return &Outbox{store: store, gateways: gateways, schedule: schedule, log: log, opts: o}
}

// Lease is how long a send attempt holds its message.
func (o *Outbox) Lease() time.Duration { return o.opts.Lease }

// Outgoing is a message to queue.
type Outgoing struct {
	// Key names the message, unique per tenant: queueing the same key
	// again returns the message queued first, charged once. It says what
	// the message answers, e.g. "opt-out:<message id>".
	Key        string
	InstanceID int64
	ContactID  int64
	ChatKind   string
	// Sender is db.SenderApp, db.SenderAI, db.SenderAuto or db.SenderCampaign.
	Sender  string
	Body    string
	ReplyTo string
	// Poll, when set, makes the message a poll asking Body.
	Poll *db.MessagePoll
	// MediaID, when set, makes the message an image (a db.Media of the
	// tenant) with Body as its caption.
	MediaID *int64
	// Cost is charged now, with the reference "msg:" + Key and Reason as
	// the ledger line. Alternatively PaidBy is the reference of an earlier
	// charge that pays for it (an AI answer's reservation). Either is
	// refunded if the message is never sent.
	Cost   int64
	Reason string
	PaidBy string
	// WaID is the gateway id reserved for it, when the caller reserved one
	// (else the first attempt does).
	WaID string
	// SendNow: the caller makes the first attempt itself, at once, with
	// Send(…, 0) (a worker that has just produced the message), so no task
	// is asked for; if the caller dies first, the sweeper sends it after
	// the grace period.
	SendNow bool
}

// Queue stores a message to send and asks for its send. It returns
// db.ErrInsufficientCredits, storing nothing, when the tenant cannot pay.
// The message's Inserted is false when the key was queued before.
func (o *Outbox) Queue(ctx context.Context, ts *db.TenantStore, out Outgoing) (*db.Message, error) {
	if out.Key == "" {
		return nil, errors.New("outbox: a key is required")
	}
	key := out.Key
	m := &db.Message{
		InstanceID: &out.InstanceID, ContactID: out.ContactID, OutboxKey: &key, Sender: out.Sender,
		ChatKind: out.ChatKind, Type: "text", Body: CleanText(out.Body), ReplyTo: out.ReplyTo, ChargeRef: out.PaidBy,
	}
	switch {
	case out.Poll != nil:
		m.Type, m.Poll = "poll", out.Poll
	case out.MediaID != nil:
		m.Type, m.MediaID = "image", out.MediaID
	}
	if m.ChatKind == "" {
		m.ChatKind = db.ContactDirect
	}
	cost := out.Cost
	if cost > 0 {
		m.ChargeRef = "msg:" + key
	}
	m, err := ts.QueueMessage(ctx, m, out.WaID, cost, out.Reason, time.Now().Add(o.opts.Grace))
	if err != nil {
		return nil, err
	}
	if !out.SendNow && (m.Inserted || m.DueAt != nil) {
		o.kick(ctx, ts.TenantID(), m.ID, m.Attempt, time.Now())
	}
	return m, nil
}

// kick asks for a send task; when Redis fails the sweeper takes over.
func (o *Outbox) kick(ctx context.Context, tenantID, id int64, attempt int, at time.Time) {
	if err := o.schedule(ctx, tenantID, id, attempt, at); err != nil {
		o.log.WarnContext(ctx, "schedule a send; the sweeper will send it", "tenant_id", tenantID, "message_id", id, "err", err)
	}
}

// Attempted is what one Send did.
type Attempted struct {
	// Message is the message after the attempt; nil when there was nothing
	// for this attempt to do.
	Message *db.Message
	// Refunded: the message ended failed and what paid for it came back.
	Refunded bool
	// MergedID is the row of the message's echo, stored as a message of
	// its own before the gateway's id was known, that was folded into it
	// and deleted (0: none); its conversation is to be refreshed.
	MergedID int64
}

// Send makes the attempt of generation attempt at sending a queued message.
// It returns an error only when the attempt could not be recorded (the
// database failed); the message is then retried by the sweeper.
func (o *Outbox) Send(ctx context.Context, ts *db.TenantStore, id int64, attempt int) (Attempted, error) {
	claim, err := ts.ClaimSend(ctx, id, attempt, o.opts.Lease)
	if errors.Is(err, db.ErrNotFound) {
		return Attempted{}, nil
	}
	if err != nil {
		return Attempted{}, err
	}
	m := &claim.Message
	if !db.StatusMay(claim.TenantStatus, db.ActSend) {
		return o.fail(ctx, ts, m, ReasonSuspended)
	}
	if claim.NumberPaused {
		return o.fail(ctx, ts, m, ReasonPaused)
	}
	prov, err := o.provider(ctx, claim)
	if errors.Is(err, ErrNoNode) {
		return o.fail(ctx, ts, m, "The WhatsApp number was deleted.")
	}
	if err != nil {
		return Attempted{}, err
	}
	chat := chatRoute{prov: prov, session: *claim.Session, chatID: claim.ChatID}
	gateway, sendErr := o.deliver(ctx, ts, chat, m)
	// What the gateway answered is recorded even if the attempt's time ran
	// out meanwhile: otherwise a send that went out would be asked about,
	// or resent, for nothing.
	ctx = context.WithoutCancel(ctx)
	switch {
	case sendErr == nil:
		return o.settle(ctx, ts, chat, m, gateway)
	case errors.Is(sendErr, errDBFailed):
		return Attempted{}, sendErr
	case errors.Is(sendErr, errMediaGone):
		return o.fail(ctx, ts, m, "The image was deleted before it could be sent.")
	case errors.Is(sendErr, errOutcomeUnknown) && (refused(sendErr) || time.Since(m.CreatedAt) > o.opts.GiveUpAfter):
		return o.fail(ctx, ts, m, outcomeUnknownReason)
	case refused(sendErr):
		return o.fail(ctx, ts, m, SendFailureReason(sendErr))
	case time.Since(m.CreatedAt) > o.opts.GiveUpAfter:
		return o.fail(ctx, ts, m, SendFailureReason(sendErr)+" We tried for "+o.opts.GiveUpAfter.String()+".")
	}
	return o.retryLater(ctx, ts, m, sendErr)
}

// provider is the gateway client of a claimed message's number; ErrNoNode
// when the number (or its node) is gone.
func (o *Outbox) provider(ctx context.Context, c *db.SendClaim) (Provider, error) {
	if c.Session == nil || c.NodeID == nil || c.InstanceID == nil {
		return nil, ErrNoNode
	}
	return ProviderFor(ctx, o.store, o.gateways, &db.Instance{ID: *c.InstanceID, TenantID: c.TenantID, NodeID: c.NodeID, SessionName: *c.Session})
}

// errDBFailed marks a failure to record a step: the attempt stops and is
// retried, nothing about the send is concluded from it.
var errDBFailed = errors.New("outbox: the database failed")

// errMediaGone: the file a media message sends no longer exists.
var errMediaGone = errors.New("outbox: the message's file is gone")

// errOutcomeUnknown: whether an earlier attempt sent the message cannot be
// told, so it is not sent again (a kind without a pre-generated id).
var errOutcomeUnknown = errors.New("outbox: whether the message went out is unknown")

// outcomeUnknownReason is what the tenant reads when errOutcomeUnknown
// ends a message.
const outcomeUnknownReason = "WhatsApp did not confirm the image and could not tell us whether it went out; " +
	"it was not sent again so that it cannot reach the customer twice."

// chatRoute is the gateway and the chat a message goes to.
type chatRoute struct {
	prov    Provider
	session string
	chatID  string
}

// deliver sends the message once and returns the gateway's id and key of it
// (empty when its answer had none): it reserves the gateway id if none is
// stored yet and the gateway can (IDReserver), and after an attempt whose
// outcome is unknown it asks the gateway first. An error is the gateway's
// (or errDBFailed, errOutcomeUnknown).
func (o *Outbox) deliver(ctx context.Context, ts *db.TenantStore, r chatRoute, m *db.Message) (Sent, error) {
	reserver, reserves := r.prov.(IDReserver)
	if m.HasPlaceholderWaID() && reserves {
		waID, err := reserver.NewMessageID(ctx, r.session)
		if err != nil {
			return Sent{}, err
		}
		m.WaID = waID // stored with the sending mark, before the send
	}
	if m.Status == db.MessageSending {
		s, done, err := o.wentOut(ctx, ts, r, m)
		if err != nil || done {
			return s, err
		}
	}
	media, err := messageMedia(ctx, ts, m)
	if err != nil {
		return Sent{}, err
	}
	if err := ts.MarkMessageSending(ctx, m.ID, m.WaID); err != nil {
		return Sent{}, fmt.Errorf("%w: %w", errDBFailed, err)
	}
	return send(ctx, r, m, media)
}

// wentOut asks the gateway whether an earlier attempt, whose outcome is
// unknown, sent the message: done, with the gateway's id of it, if it did.
func (o *Outbox) wentOut(ctx context.Context, ts *db.TenantStore, r chatRoute, m *db.Message) (Sent, bool, error) {
	reserver, reserves := r.prov.(IDReserver)
	if !reserves || !r.prov.HonoursMessageID(messageKind(m)) || m.HasPlaceholderWaID() {
		return o.findSent(ctx, ts, r, m)
	}
	exists, err := reserver.MessageExists(ctx, r.session, r.chatID, m.WaID)
	if err != nil {
		// The check cannot answer: send again with the same id, which
		// WhatsApp delivers once.
		o.log.InfoContext(ctx, "could not check whether a message went out; sending it again with the same id",
			"tenant_id", m.TenantID, "message_id", m.ID, "err", err)
	}
	return Sent{}, err == nil && exists, nil
}

// sentSinceMargin allows for the gateway's clock (and its one-second
// timestamps) when looking for a message sent after it was queued.
const sentSinceMargin = 30 * time.Second

// findSent looks for a message the gateway sent under an id of its own
// among the chat's recent sent messages: one of the same kind and text (an
// image's caption), sent after the message was queued, whose id no other
// message of ours holds. errOutcomeUnknown when the gateway cannot tell.
func (o *Outbox) findSent(ctx context.Context, ts *db.TenantStore, r chatRoute, m *db.Message) (Sent, bool, error) {
	recent, err := r.sentSince(ctx, m)
	if err != nil {
		return Sent{}, false, fmt.Errorf("%w: %w", errOutcomeUnknown, err)
	}
	for _, c := range recent {
		if c.HasMedia != (m.Type == "image") || c.Body != m.Body {
			continue
		}
		other, err := ts.MessageByWaID(ctx, *m.InstanceID, c.Key)
		switch {
		case errors.Is(err, db.ErrNotFound):
		case err != nil:
			return Sent{}, false, fmt.Errorf("%w: %w", errDBFailed, err)
		case other.ID != m.ID && other.Sender != db.SenderAPI:
			continue // another message of ours, with the same text
		}
		return Sent{ID: c.ID, Key: c.Key, Timestamp: c.Timestamp}, true, nil
	}
	return Sent{}, false, nil
}

// sentSince is the chat's messages sent since shortly before the message
// was queued, newest first.
func (r chatRoute) sentSince(ctx context.Context, m *db.Message) ([]ChatMessage, error) {
	return r.prov.SentSince(ctx, r.session, r.chatID, m.CreatedAt.Add(-sentSinceMargin), 50)
}

// settle records a send that went out, under the gateway's id when it gave
// the message another one than ours (see adopt).
func (o *Outbox) settle(ctx context.Context, ts *db.TenantStore, r chatRoute, m *db.Message, gateway Sent) (Attempted, error) {
	var res Attempted
	ack := 0
	if key := gateway.Key; key != "" && key != m.WaID {
		merged, adopted, err := o.adopt(ctx, ts, m, gateway)
		if err != nil {
			// The sweeper tries again: the message is found among the
			// chat's messages, or under our id.
			return Attempted{}, err
		}
		res.MergedID = merged
		if adopted {
			ack = o.ackInChat(ctx, r, m, key)
		}
	}
	sent, err := ts.MarkMessageSent(ctx, m.ID, "")
	res.Message = sent
	if err != nil || ack <= sent.Ack {
		return res, err
	}
	acked, err := ts.ApplyAck(ctx, *sent.InstanceID, sent.WaID, ack)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return res, nil
	case err != nil:
		return res, err
	}
	res.Message = acked
	return res, nil
}

// adopt re-keys the message to the gateway's id (db.AdoptWaID); adopted is
// false when the id is another message's, which is left alone.
func (o *Outbox) adopt(ctx context.Context, ts *db.TenantStore, m *db.Message, gateway Sent) (merged int64, adopted bool, err error) {
	res, err := ts.AdoptWaID(ctx, m.ID, gateway.Key, gateway.ID)
	if errors.Is(err, db.ErrConflict) {
		o.log.WarnContext(ctx, "the gateway's id of a sent message is another message's", "tenant_id", m.TenantID,
			"message_id", m.ID, "gateway_id", gateway.ID, "err", err)
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return res.MergedID, true, nil
}

// ackInChat is the delivery status the gateway has for a message just
// re-keyed to its id, read from the chat once: acks that came before the
// re-key found no message (or the echo's row as it was being folded in).
// 0 when it cannot be read; later acks find the message.
func (o *Outbox) ackInChat(ctx context.Context, r chatRoute, m *db.Message, key string) int {
	recent, err := r.sentSince(ctx, m)
	if err != nil {
		o.log.InfoContext(ctx, "could not read the status of a sent message", "tenant_id", m.TenantID, "message_id", m.ID, "err", err)
		return 0
	}
	for _, c := range recent {
		if c.Key == key {
			return c.Ack
		}
	}
	return 0
}

// messageKind is the Provider kind (KindText…) of a message.
func messageKind(m *db.Message) string {
	switch {
	case m.Poll != nil:
		return KindPoll
	case m.Type == "image":
		return KindImage
	}
	return KindText
}

// messageMedia is the file an image message sends (nil for other types);
// errMediaGone when it was deleted.
func messageMedia(ctx context.Context, ts *db.TenantStore, m *db.Message) (*db.Media, error) {
	if m.Type != "image" {
		return nil, nil
	}
	if m.MediaID == nil {
		return nil, errMediaGone
	}
	media, err := ts.Media(ctx, *m.MediaID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, errMediaGone
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errDBFailed, err)
	}
	return media, nil
}

// send makes the gateway call of the message's type: a poll, an image
// (media, captioned with the body) or a text. It returns the gateway's id
// and key of the message.
func send(ctx context.Context, r chatRoute, m *db.Message, media *db.Media) (Sent, error) {
	var s Sent
	var err error
	id := m.WaID
	if m.HasPlaceholderWaID() {
		id = "" // nothing reserved: the gateway's id becomes the message's
	}
	switch {
	case m.Poll != nil:
		s, err = r.prov.SendPoll(ctx, Poll{Session: r.session, ChatID: r.chatID, ID: id, Name: m.Body,
			Options: m.Poll.Options, MultipleAnswers: m.Poll.Multiple, ReplyTo: m.ReplyTo})
	case media != nil:
		s, err = r.prov.SendImage(ctx, Image{Session: r.session, ChatID: r.chatID, ID: id, Mime: media.Mime,
			FileName: media.FileName, Data: media.Bytes, Caption: m.Body, ReplyTo: m.ReplyTo})
	default:
		s, err = r.prov.SendText(ctx, Text{Session: r.session, ChatID: r.chatID, ID: id, Body: m.Body, ReplyTo: m.ReplyTo})
	}
	return s, err
}

// retryLater hands the message to the next attempt after a backoff.
func (o *Outbox) retryLater(ctx context.Context, ts *db.TenantStore, m *db.Message, sendErr error) (Attempted, error) {
	wait := o.backoff(m.Attempt)
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(sendErr, &ra) && ra.RetryAfter() > wait {
		wait = min(ra.RetryAfter(), o.opts.MaxBackoff)
	}
	at := time.Now().Add(wait)
	next, err := ts.RetryMessageLater(ctx, m.ID, m.Attempt, at.Add(o.opts.Grace))
	if errors.Is(err, db.ErrNotFound) {
		return Attempted{}, nil // settled meanwhile (an ack), or taken over
	}
	if err != nil {
		return Attempted{}, err
	}
	o.log.WarnContext(ctx, "send failed, will retry", "tenant_id", m.TenantID, "message_id", m.ID,
		"attempt", m.Attempt, "retry_in_ms", wait.Milliseconds(), "err", sendErr)
	o.kick(ctx, m.TenantID, m.ID, next, at)
	return Attempted{}, nil
}

func (o *Outbox) fail(ctx context.Context, ts *db.TenantStore, m *db.Message, why string) (Attempted, error) {
	failed, err := ts.FailMessage(ctx, m.ID, why)
	if err != nil {
		return Attempted{}, err
	}
	o.log.WarnContext(ctx, "message not sent", "tenant_id", m.TenantID, "message_id", m.ID, "why", why)
	return Attempted{Message: failed, Refunded: failed.Status == db.MessageFailed}, nil
}

// backoff is the wait after the attempt'th failure: growing, capped, with
// jitter so that many messages do not retry in step.
func (o *Outbox) backoff(attempt int) time.Duration {
	d := o.opts.Backoff << min(attempt, 20)
	if d > o.opts.MaxBackoff || d <= 0 {
		d = o.opts.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// refused reports whether the gateway refused the message: it was not sent
// and sending it again cannot help.
func refused(err error) bool {
	return errors.Is(err, ErrBadRequest) || errors.Is(err, ErrWrongStatus) ||
		errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrSessionNotFound)
}

// ReasonNotConnected is the failure of a message whose number was not
// connected when it came to send it: a campaign gives such a recipient to
// another of its numbers, or to this one once it reconnects.
const ReasonNotConnected = "The WhatsApp number is not connected."

// ReasonSuspended is the failure of a message of a suspended tenant: it is
// not sent, and refunded. A campaign takes such a recipient back and sends
// it once the tenant is reinstated.
const ReasonSuspended = "Not sent: this account is suspended."

// ReasonPaused is the failure of a message from a number paused because
// the tenant's plan allows fewer numbers: it is not sent, and refunded. A
// campaign takes such a recipient back and sends it from another of its
// numbers, or from this one once the plan allows it again.
const ReasonPaused = "Not sent: this WhatsApp number is paused because your plan allows fewer numbers."

// SendFailureReason is what the tenant reads when a message could not go out.
func SendFailureReason(err error) string {
	switch {
	case errors.Is(err, ErrWrongStatus), errors.Is(err, ErrSessionNotFound):
		return ReasonNotConnected
	case errors.Is(err, ErrBadRequest):
		return "WhatsApp refused the message."
	case errors.Is(err, ErrUnauthorized):
		return "The WhatsApp server refused our key; the platform owner has been told."
	}
	return "The WhatsApp server could not be reached."
}
