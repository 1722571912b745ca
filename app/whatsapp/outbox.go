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
	prov, err := o.provider(ctx, claim)
	if errors.Is(err, ErrNoNode) {
		return o.fail(ctx, ts, m, "The WhatsApp number was deleted.")
	}
	if err != nil {
		return Attempted{}, err
	}
	sendErr := o.deliver(ctx, ts, prov, *claim.Session, claim.ChatID, m)
	// What the gateway answered is recorded even if the attempt's time ran
	// out meanwhile: otherwise a send that went out would be asked about,
	// or resent, for nothing.
	ctx = context.WithoutCancel(ctx)
	switch {
	case sendErr == nil:
		sent, err := ts.MarkMessageSent(ctx, m.ID, "")
		return Attempted{Message: sent}, err
	case errors.Is(sendErr, errDBFailed):
		return Attempted{}, sendErr
	case errors.Is(sendErr, errMediaGone):
		return o.fail(ctx, ts, m, "The image was deleted before it could be sent.")
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

// deliver sends the message once: it reserves the gateway id if none is
// stored yet, and after an attempt whose outcome is unknown it asks the
// gateway first. An error is the gateway's (or errDBFailed).
func (o *Outbox) deliver(ctx context.Context, ts *db.TenantStore, prov Provider, session, chatID string, m *db.Message) error {
	if m.HasPlaceholderWaID() {
		waID, err := prov.NewMessageID(ctx, session)
		if err != nil {
			return err
		}
		m.WaID = waID // stored with the sending mark, before the send
	}
	if m.Status == db.MessageSending {
		exists, err := prov.MessageExists(ctx, session, chatID, m.WaID)
		switch {
		case err == nil && exists:
			return nil
		case err != nil:
			// The check cannot answer: send again with the same id, which
			// WhatsApp delivers once.
			o.log.InfoContext(ctx, "could not check whether a message went out; sending it again with the same id",
				"tenant_id", m.TenantID, "message_id", m.ID, "err", err)
		}
	}
	media, err := messageMedia(ctx, ts, m)
	if err != nil {
		return err
	}
	if err := ts.MarkMessageSending(ctx, m.ID, m.WaID); err != nil {
		return fmt.Errorf("%w: %w", errDBFailed, err)
	}
	return send(ctx, prov, session, chatID, m, media)
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
// (media, captioned with the body) or a text.
func send(ctx context.Context, prov Provider, session, chatID string, m *db.Message, media *db.Media) error {
	var err error
	switch {
	case m.Poll != nil:
		_, err = prov.SendPoll(ctx, Poll{Session: session, ChatID: chatID, ID: m.WaID, Name: m.Body,
			Options: m.Poll.Options, MultipleAnswers: m.Poll.Multiple, ReplyTo: m.ReplyTo})
	case media != nil:
		_, err = prov.SendImage(ctx, Image{Session: session, ChatID: chatID, ID: m.WaID, Mime: media.Mime,
			FileName: media.FileName, Data: media.Bytes, Caption: m.Body, ReplyTo: m.ReplyTo})
	default:
		_, err = prov.SendText(ctx, Text{Session: session, ChatID: chatID, ID: m.WaID, Body: m.Body, ReplyTo: m.ReplyTo})
	}
	return err
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
