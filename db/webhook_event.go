package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/driver/pgdriver"
)

// WebhookEvent is one webhook delivery from a WhatsApp gateway, stored once
// per provider event id before it is processed. It belongs to the tenant of
// the instance whose session sent it; the raw body is kept as received.
type WebhookEvent struct {
	bun.BaseModel `bun:"table:webhook_events,alias:we"`

	ID          int64      `bun:"id,pk,autoincrement"`
	Provider    string     `bun:"provider,notnull"`
	EventID     string     `bun:"event_id,notnull"`
	EventType   string     `bun:"event_type,notnull"`
	SessionName string     `bun:"session_name,notnull"`
	TenantID    int64      `bun:"tenant_id,notnull"`
	InstanceID  int64      `bun:"instance_id,notnull"`
	Payload     []byte     `bun:"payload,notnull"`
	ReceivedAt  time.Time  `bun:"received_at,notnull,default:current_timestamp"`
	ProcessedAt *time.Time `bun:"processed_at"`
	Attempts    int        `bun:"attempts,notnull"`
	LastError   string     `bun:"last_error,notnull"`
}

// Outcomes of RecordWebhookEvent.
const (
	WebhookStored         = "stored"          // new: process it
	WebhookDuplicate      = "duplicate"       // seen before
	WebhookUnknownSession = "unknown_session" // no instance has the session
)

// RecordWebhookEvent stores an event once, resolving its session to the
// instance in the same statement. It returns the stored (or earlier) event
// and the outcome; for WebhookUnknownSession the event is nil. It returns
// once the event is committed. Concurrent calls are written together, in one
// multi-row INSERT (group commit, see webhookInbox).
func (s *Store) RecordWebhookEvent(ctx context.Context, provider, eventID, eventType, session string, payload []byte) (*WebhookEvent, string, error) {
	return s.inbox.record(ctx, inboxEntry{provider: provider, eventID: eventID, eventType: eventType, session: session, payload: payload})
}

// recordWebhookEventOne is RecordWebhookEvent for one event on its own: the
// way a batch's events that were not simply inserted find their outcome.
func (s *Store) recordWebhookEventOne(ctx context.Context, provider, eventID, eventType, session string, payload []byte) (*WebhookEvent, string, error) {
	e := new(WebhookEvent)
	err := s.db.NewRaw(`
		INSERT INTO webhook_events (provider, event_id, event_type, session_name, tenant_id, instance_id, payload)
		SELECT ?, ?, ?, i.session_name, i.tenant_id, i.id, ? FROM instances i WHERE i.session_name = ?
		ON CONFLICT (provider, event_id) DO NOTHING
		RETURNING id, provider, event_id, event_type, session_name, tenant_id, instance_id, received_at, attempts, last_error`,
		provider, eventID, eventType, payload, session).Scan(ctx, e)
	if err == nil {
		return e, WebhookStored, nil
	}
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) && pgErr.Field('C') == "23503" {
		// The instance was deleted between finding and storing.
		return nil, WebhookUnknownSession, nil
	}
	if !errors.Is(mapErr(err), ErrNotFound) {
		return nil, "", fmt.Errorf("record webhook event: %w", err)
	}
	// Nothing inserted: a duplicate (possibly committed while we waited on
	// it), or a session no instance has.
	err = s.db.NewSelect().Model(e).ExcludeColumn("payload").
		Where("we.provider = ? AND we.event_id = ?", provider, eventID).Scan(ctx)
	if err == nil {
		return e, WebhookDuplicate, nil
	}
	if errors.Is(mapErr(err), ErrNotFound) {
		return nil, WebhookUnknownSession, nil
	}
	return nil, "", fmt.Errorf("record webhook event: %w", err)
}

// WebhookEvent returns one of the tenant's stored events, with its payload.
func (ts *TenantStore) WebhookEvent(ctx context.Context, id int64) (*WebhookEvent, error) {
	e := new(WebhookEvent)
	if err := ts.db.NewSelect().Model(e).ApplyQueryBuilder(ts.scope).Where("we.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("webhook event %d: %w", id, mapErr(err))
	}
	return e, nil
}

// MarkWebhookEvent records a processing attempt: done when procErr is nil,
// else the error is kept for the owner's console.
func (ts *TenantStore) MarkWebhookEvent(ctx context.Context, id int64, procErr error) error {
	q := ts.db.NewUpdate().Model((*WebhookEvent)(nil)).ApplyQueryBuilder(ts.scope).
		Set("attempts = we.attempts + 1").Where("we.id = ?", id)
	if procErr == nil {
		q = q.Set("processed_at = now()").Set("last_error = ''")
	} else {
		msg := procErr.Error()
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
		q = q.Set("last_error = ?", msg)
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("mark webhook event %d: %w", id, err)
	}
	return nil
}

// UnprocessedWebhookEventsAllTenants lists events received before cutoff and
// not processed yet, for the sweeper that re-enqueues what a crash lost.
func (s *Store) UnprocessedWebhookEventsAllTenants(ctx context.Context, cutoff time.Time, limit int) ([]WebhookEvent, error) {
	var es []WebhookEvent
	err := s.db.NewSelect().Model(&es).ExcludeColumn("payload").
		Where("we.processed_at IS NULL AND we.received_at < ?", cutoff).
		Order("we.received_at").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("unprocessed webhook events: %w", err)
	}
	return es, nil
}
