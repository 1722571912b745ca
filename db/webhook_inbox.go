package db

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// webhookInbox writes the webhook events that arrive together in one
// statement (group commit). Gateways post events in bursts (a campaign's
// acknowledgements, a busy number's messages), and a row-per-statement INSERT
// pays a commit, a WAL flush and a round trip per event; one multi-row INSERT
// pays them once for the batch.
//
// There is no timer and no background loop to start: a caller queues its
// event and, while fewer than maxFlushers flushes are running, starts one.
// A flusher writes everything queued (up to maxBatch at a time) and exits
// when nothing is left. So a lone event is written at once, and under load
// events queue for the length of the statement in progress.
type webhookInbox struct {
	s *Store

	mu       sync.Mutex
	queued   []*inboxCall
	flushers int
}

const (
	inboxMaxFlushers = 4
	inboxMaxBatch    = 256
	// A batch runs on its own deadline: one caller giving up must not fail
	// the others' events.
	inboxFlushTimeout = 15 * time.Second
)

type inboxEntry struct {
	provider, eventID, eventType, session string
	payload                               []byte
}

type inboxCall struct {
	inboxEntry
	done    chan struct{}
	event   *WebhookEvent
	outcome string
	err     error
}

func newWebhookInbox(s *Store) *webhookInbox { return &webhookInbox{s: s} }

func (b *webhookInbox) record(ctx context.Context, e inboxEntry) (*WebhookEvent, string, error) {
	c := &inboxCall{inboxEntry: e, done: make(chan struct{})}
	b.mu.Lock()
	b.queued = append(b.queued, c)
	if b.flushers < inboxMaxFlushers {
		b.flushers++
		go b.flushLoop()
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.event, c.outcome, c.err
	case <-ctx.Done():
		// The event may still be stored; the gateway's retry then finds it.
		return nil, "", ctx.Err()
	}
}

func (b *webhookInbox) flushLoop() {
	for {
		b.mu.Lock()
		n := min(len(b.queued), inboxMaxBatch)
		if n == 0 {
			b.flushers--
			b.mu.Unlock()
			return
		}
		batch := b.queued[:n:n]
		b.queued = b.queued[n:]
		if len(b.queued) == 0 {
			b.queued = nil // let the backing array go
		}
		b.mu.Unlock()
		b.flush(batch)
	}
}

// flush writes a batch and answers its callers. Events the INSERT did not
// return (duplicates, unknown sessions, the same id twice in the batch) and
// every event of a batch that failed as a whole (say, an instance deleted
// meanwhile) are recorded one by one, which tells each outcome apart.
func (b *webhookInbox) flush(batch []*inboxCall) {
	ctx, cancel := context.WithTimeout(context.Background(), inboxFlushTimeout)
	defer cancel()
	inserted, err := b.insert(ctx, batch)
	for _, c := range batch {
		if e, ok := inserted[c.provider+"\x00"+c.eventID]; ok && err == nil {
			delete(inserted, c.provider+"\x00"+c.eventID) // a second call with the id is a duplicate
			c.event, c.outcome = e, WebhookStored
		} else {
			c.event, c.outcome, c.err = b.s.recordWebhookEventOne(ctx, c.provider, c.eventID, c.eventType, c.session, c.payload)
		}
		close(c.done)
	}
}

func (b *webhookInbox) insert(ctx context.Context, batch []*inboxCall) (map[string]*WebhookEvent, error) {
	var q strings.Builder
	q.WriteString(`INSERT INTO webhook_events (provider, event_id, event_type, session_name, tenant_id, instance_id, payload)
		SELECT v.provider, v.event_id, v.event_type, i.session_name, i.tenant_id, i.id, v.payload
		FROM (VALUES `)
	args := make([]any, 0, 5*len(batch))
	for i, c := range batch {
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "(?::text, ?::text, ?::text, ?::text, ?::bytea, %d)", i)
		args = append(args, c.provider, c.eventID, c.eventType, c.session, c.payload)
	}
	q.WriteString(`) AS v (provider, event_id, event_type, session_name, payload, n)
		JOIN instances i ON i.session_name = v.session_name
		ORDER BY v.n
		ON CONFLICT (provider, event_id) DO NOTHING
		RETURNING id, provider, event_id, event_type, session_name, tenant_id, instance_id, received_at, attempts, last_error`)
	var rows []WebhookEvent
	if err := b.s.db.NewRaw(q.String(), args...).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("record webhook events: %w", err)
	}
	out := make(map[string]*WebhookEvent, len(rows))
	for i := range rows {
		out[rows[i].Provider+"\x00"+rows[i].EventID] = &rows[i]
	}
	return out, nil
}
