package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Message directions.
const (
	DirectionIn  = "in"
	DirectionOut = "out"
)

// Who wrote a message.
const (
	SenderLead     = "lead"     // the contact
	SenderAI       = "ai"       // the AI, through the gateway
	SenderAuto     = "auto"     // an automatic reply: opt-out confirmation, after hours, handoff
	SenderApp      = "app"      // the tenant, in the app
	SenderPhone    = "phone"    // the tenant, from their own phone
	SenderCampaign = "campaign" // a bulk campaign
	SenderAPI      = "api"      // sent through the gateway by something else
	SenderSystem   = "system"   // a note from My Aibud in the conversation, never sent
)

// Message statuses.
const (
	MessageReceived  = "received"
	MessagePending   = "pending"
	MessageSending   = "sending"
	MessageSent      = "sent"
	MessageDelivered = "delivered"
	MessageRead      = "read"
	MessagePlayed    = "played"
	MessageFailed    = "failed"
)

// MessagePoll is the options of a poll message.
type MessagePoll struct {
	Options  []string `json:"options"`
	Multiple bool     `json:"multiple"`
}

// Message is one WhatsApp message in a tenant's chat with a contact. It
// belongs to its tenant and is stored once per provider message: WaID is the
// message's own id, unique per tenant, so duplicate webhook deliveries and the
// echo of a message we sent find the row that exists.
type Message struct {
	bun.BaseModel `bun:"table:messages,alias:m"`

	ID         int64  `bun:"id,pk,autoincrement"`
	TenantID   int64  `bun:"tenant_id,notnull"`
	InstanceID *int64 `bun:"instance_id"`
	// OriginInstanceID is the number the message came or went through (0
	// for notes); it stays when the number is deleted. A message's key is
	// (OriginInstanceID, WaID).
	OriginInstanceID int64     `bun:"origin_instance_id,notnull"`
	ContactID        int64     `bun:"contact_id,notnull"`
	WaID             string    `bun:"wa_id,notnull"`
	ProviderID       string    `bun:"provider_id,notnull"`
	Direction        string    `bun:"direction,notnull"`
	Sender           string    `bun:"sender,notnull"`
	ChatKind         string    `bun:"chat_kind,notnull"`
	Author           string    `bun:"author,notnull"`
	Type             string    `bun:"type,notnull"`
	Body             string    `bun:"body,notnull"`
	MediaURL         string    `bun:"media_url,notnull"`
	MediaType        string    `bun:"media_type,notnull"`
	ReplyTo          string    `bun:"reply_to,notnull"`
	Status           string    `bun:"status,notnull"`
	Ack              int       `bun:"ack,notnull"`
	Error            string    `bun:"error,notnull"`
	ChargeRef        string    `bun:"charge_ref,notnull"`
	SentAt           time.Time `bun:"sent_at,notnull"`
	CreatedAt        time.Time `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt        time.Time `bun:"updated_at,notnull,default:current_timestamp"`
	// Poll is the poll a message of type "poll" asks (Body is its question).
	Poll *MessagePoll `bun:"poll,type:jsonb"`
	// MediaID is the file an outgoing media message (type "image") sends;
	// Body is its caption.
	MediaID *int64 `bun:"media_id"`
	// Transcript is what the AI heard or saw in a customer's media: a voice
	// note's transcript, or a photo's or document's description.
	Transcript string `bun:"transcript,notnull"`
	// OutboxKey names an outgoing message queued through the outbox, unique
	// per tenant, so queueing it again finds it (see QueueMessage).
	OutboxKey *string `bun:"outbox_key"`
	// DueAt is when the message's pending work (sending an outgoing one,
	// the AI answer to an incoming one) is next due; Attempt names the
	// generation of task allowed to do it. Both are the outbox's; nil when
	// nothing is left to do.
	DueAt   *time.Time `bun:"due_at"`
	Attempt int        `bun:"attempt,notnull"`
	// LeaseUntil is how long the task working on it holds it; the sweeper
	// takes over only work that is due and not held.
	LeaseUntil *time.Time `bun:"lease_until"`
	// Action is what an incoming message set off (Inbound…), decided once;
	// HandledAt is when all of it was started.
	Action    string     `bun:"action,notnull"`
	HandledAt *time.Time `bun:"handled_at"`

	// Inserted is set by SaveMessage when the row is new.
	Inserted bool `bun:"inserted,scanonly"`
}

// SaveMessage stores a message unless one with its WaID exists, and moves
// the contact's last-message time, in one statement (it runs for every
// message, so it makes one round trip). It returns the stored row and sets
// Inserted when it is new. An existing row gets the provider id it lacked.
func (ts *TenantStore) SaveMessage(ctx context.Context, m *Message) (*Message, error) {
	m.TenantID = ts.tenantID
	m.setOrigin()
	ins := ts.db.NewInsert().Model(m).
		On("CONFLICT (tenant_id, origin_instance_id, wa_id) DO UPDATE").
		Set("provider_id = CASE WHEN m.provider_id = '' THEN EXCLUDED.provider_id ELSE m.provider_id END").
		Returning("*, (xmax = 0) AS inserted")
	touch := ts.db.NewUpdate().Model((*Contact)(nil)).ApplyQueryBuilder(ts.scope).
		Set("last_message_at = GREATEST(c.last_message_at, saved.sent_at)").Set("updated_at = now()").
		TableExpr("saved").Where("c.id = saved.contact_id AND saved.inserted")
	err := ts.db.NewSelect().With("saved", ins).With("touched", touch).Table("saved").Scan(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("save message %s: %w", m.WaID, mapErr(err))
	}
	return m, nil
}

// AckStatus maps an acknowledgement level to a message status.
func AckStatus(level int) string {
	switch {
	case level < 0:
		return MessageFailed
	case level == 0:
		return MessagePending
	case level == 1:
		return MessageSent
	case level == 2:
		return MessageDelivered
	case level == 3:
		return MessageRead
	}
	return MessagePlayed
}

// setOrigin records the number a new message belongs to.
func (m *Message) setOrigin() {
	m.OriginInstanceID = 0
	if m.InstanceID != nil {
		m.OriginInstanceID = *m.InstanceID
	}
}

// MessageByWaID returns the message of the number (instance) with the
// provider message key.
func (ts *TenantStore) MessageByWaID(ctx context.Context, instanceID int64, waID string) (*Message, error) {
	m := new(Message)
	if err := ts.db.NewSelect().Model(m).ApplyQueryBuilder(ts.scope).
		Where("m.origin_instance_id = ? AND m.wa_id = ?", instanceID, waID).Scan(ctx); err != nil {
		return nil, fmt.Errorf("message %s: %w", waID, mapErr(err))
	}
	return m, nil
}

// Messages returns the newest limit messages of a conversation, oldest first.
func (ts *TenantStore) Messages(ctx context.Context, contactID int64, limit int) ([]Message, error) {
	var ms []Message
	// Provider timestamps have one-second resolution: within a second,
	// arrival order (the id) decides.
	err := ts.db.NewSelect().Model(&ms).ApplyQueryBuilder(ts.scope).Where("m.contact_id = ?", contactID).
		OrderExpr("date_trunc('second', m.sent_at) DESC, m.id DESC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("messages of contact %d: %w", contactID, err)
	}
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
	return ms, nil
}

// MessageCountSince counts the tenant's messages since t, both directions.
func (ts *TenantStore) MessageCountSince(ctx context.Context, t time.Time) (in, out int, err error) {
	err = ts.db.NewSelect().Model((*Message)(nil)).ApplyQueryBuilder(ts.scope).
		ColumnExpr("count(*) FILTER (WHERE m.direction = 'in')").
		ColumnExpr("count(*) FILTER (WHERE m.direction = 'out' AND m.sender <> 'system')").
		Where("m.sent_at >= ?", t).Scan(ctx, &in, &out)
	if err != nil {
		return 0, 0, fmt.Errorf("count messages: %w", err)
	}
	return in, out, nil
}

// Conversation is a contact with its latest message.
type Conversation struct {
	Contact       `bun:",extend"`
	LastBody      string `bun:"last_body"`
	LastDirection string `bun:"last_direction"`
	LastSender    string `bun:"last_sender"`
}

// RecentConversations returns the contacts with the latest messages.
func (ts *TenantStore) RecentConversations(ctx context.Context, limit int) ([]Conversation, error) {
	var cs []Conversation
	err := withLastMessage(ts.db.NewSelect().Model(&cs)).
		ApplyQueryBuilder(ts.scope).Where("c.last_message_at IS NOT NULL").
		OrderExpr("c.last_message_at DESC, c.id DESC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("recent conversations: %w", err)
	}
	return cs, nil
}

// Message returns one of the tenant's messages.
func (ts *TenantStore) Message(ctx context.Context, id int64) (*Message, error) {
	m := new(Message)
	if err := ts.db.NewSelect().Model(m).ApplyQueryBuilder(ts.scope).Where("m.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("message %d: %w", id, mapErr(err))
	}
	return m, nil
}

// AddNote writes a system note into a conversation (never sent), e.g. why the
// AI did not answer. key makes it idempotent.
func (ts *TenantStore) AddNote(ctx context.Context, contactID int64, key, text string) (*Message, error) {
	return ts.SaveMessage(ctx, &Message{
		ContactID: contactID, WaID: "note:" + key, Direction: DirectionOut, Sender: SenderSystem,
		ChatKind: ContactDirect, Type: "note", Body: text, Status: MessageFailed, SentAt: time.Now(),
	})
}

// withLastMessage selects contacts (alias c) with their latest real message
// (notes from the system left out), ordered as conversations are shown.
func withLastMessage(q *bun.SelectQuery) *bun.SelectQuery {
	return q.ColumnExpr("c.*").
		ColumnExpr("lm.body AS last_body, lm.direction AS last_direction, lm.sender AS last_sender").
		Join(`LEFT JOIN LATERAL (SELECT m.body, m.direction, m.sender FROM messages m
			WHERE m.tenant_id = c.tenant_id AND m.contact_id = c.id AND m.sender <> 'system'
			ORDER BY date_trunc('second', m.sent_at) DESC, m.id DESC LIMIT 1) AS lm ON true`)
}

// SetTranscript records what the AI heard or saw in a customer's media.
func (ts *TenantStore) SetTranscript(ctx context.Context, messageID int64, text string) error {
	_, err := ts.db.NewUpdate().Model((*Message)(nil)).ApplyQueryBuilder(ts.scope).
		Set("transcript = ?", text).Set("updated_at = now()").Where("m.id = ?", messageID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("transcript of message %d: %w", messageID, err)
	}
	return nil
}

// UnansweredIncoming returns the customer's messages up to and including
// upTo that came after the business last wrote (the burst an answer
// answers), oldest first, at most limit.
func (ts *TenantStore) UnansweredIncoming(ctx context.Context, contactID, upTo int64, limit int) ([]Message, error) {
	var ms []Message
	err := ts.db.NewSelect().Model(&ms).ApplyQueryBuilder(ts.scope).
		Where("m.contact_id = ? AND m.direction = 'in' AND m.id <= ?", contactID, upTo).
		Where(`m.id > COALESCE((SELECT max(o.id) FROM messages AS o WHERE o.tenant_id = m.tenant_id AND o.contact_id = m.contact_id
			AND o.direction = 'out' AND o.sender <> 'system' AND o.id < ?), 0)`, upTo).
		OrderExpr("m.id DESC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("unanswered messages of contact %d: %w", contactID, err)
	}
	for i, j := 0, len(ms)-1; i < j; i, j = i+1, j-1 {
		ms[i], ms[j] = ms[j], ms[i]
	}
	return ms, nil
}
