package db

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// DueAt is when an unprocessed event is re-driven if it is still not
	// processed; Generation counts re-drives. DeadAt is when the event was
	// given up on (parked): it failed MaxWebhookAttempts times, or can never
	// be read.
	DueAt      *time.Time `bun:"due_at"`
	Generation int        `bun:"generation,notnull"`
	DeadAt     *time.Time `bun:"dead_at"`
}

// MaxWebhookAttempts is how many failed attempts park an event as dead.
const MaxWebhookAttempts = 8

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

// MissingWebhookEvents returns the ids among ids of no stored event of the
// provider, in their order.
func (s *Store) MissingWebhookEvents(ctx context.Context, provider string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var known []string
	if err := s.db.NewSelect().Model((*WebhookEvent)(nil)).Column("event_id").
		Where("we.provider = ? AND we.event_id IN (?)", provider, bun.In(ids)).Scan(ctx, &known); err != nil {
		return nil, fmt.Errorf("missing webhook events: %w", err)
	}
	var out []string
	for _, id := range ids {
		if !slices.Contains(known, id) {
			out = append(out, id)
		}
	}
	return out, nil
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
// else the error is kept for the owner's console. With dead, or after
// MaxWebhookAttempts failures, the event is parked as dead: it is never
// re-driven again, and never holds up newer events. It reports whether the
// event is dead now.
func (ts *TenantStore) MarkWebhookEvent(ctx context.Context, id int64, procErr error, dead bool) (bool, error) {
	q := ts.db.NewUpdate().Model((*WebhookEvent)(nil)).ApplyQueryBuilder(ts.scope).
		Set("attempts = we.attempts + 1").Where("we.id = ?", id)
	if procErr == nil {
		q = q.Set("processed_at = now()").Set("last_error = ''").Set("due_at = NULL")
	} else {
		msg := strings.ReplaceAll(strings.ToValidUTF8(procErr.Error(), "?"), "\x00", "")
		if r := []rune(msg); len(r) > 1000 {
			msg = string(r[:1000])
		}
		q = q.Set("last_error = ?", msg).
			Set("dead_at = CASE WHEN ? OR we.attempts + 1 >= ? THEN now() END", dead, MaxWebhookAttempts).
			Set("due_at = CASE WHEN ? OR we.attempts + 1 >= ? THEN NULL ELSE we.due_at END", dead, MaxWebhookAttempts)
	}
	var isDead bool
	if err := q.Returning("we.dead_at IS NOT NULL").Scan(ctx, &isDead); err != nil {
		return false, fmt.Errorf("mark webhook event %d: %w", id, mapErr(err))
	}
	return isDead, nil
}

// RedriveWebhookEventsAllTenants hands up to limit unprocessed events whose
// time came to their next generation, due again after lease, and returns
// them for the caller to queue. Dead events are never taken; concurrent
// sweepers take different rows.
func (s *Store) RedriveWebhookEventsAllTenants(ctx context.Context, lease time.Duration, limit int) ([]WebhookEvent, error) {
	var es []WebhookEvent
	err := s.db.NewRaw(`
		UPDATE webhook_events AS we SET generation = we.generation + 1, due_at = now() + ? * interval '1 millisecond'
		FROM (SELECT id FROM webhook_events WHERE due_at <= now() ORDER BY due_at LIMIT ? FOR UPDATE SKIP LOCKED) AS due
		WHERE we.id = due.id
		RETURNING we.id, we.tenant_id, we.provider, we.event_id, we.generation`, lease.Milliseconds(), limit).Scan(ctx, &es)
	if err != nil {
		return nil, fmt.Errorf("redrive webhook events: %w", err)
	}
	return es, nil
}

// DeadWebhookEventsAllTenants lists the latest events given up on, without
// their payloads, for the owner's console.
func (s *Store) DeadWebhookEventsAllTenants(ctx context.Context, limit int) ([]WebhookEvent, error) {
	var es []WebhookEvent
	err := s.db.NewSelect().Model(&es).ExcludeColumn("payload").Where("we.dead_at IS NOT NULL").
		Order("we.dead_at DESC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("dead webhook events: %w", err)
	}
	return es, nil
}
