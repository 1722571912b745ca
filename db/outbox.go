package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The outbox's rows are the messages table itself: an outgoing message is
// stored pending, with the time its next send attempt is due (DueAt) and the
// generation of task allowed to make it (Attempt). Whatever comes due without
// being done is re-driven by a sweeper with the next generation, so a crash,
// a lost task or a Redis failure at any point leaves a row that is finished
// later, and a task of an older generation does nothing.

// PlaceholderWaID is the WaID of a queued message whose gateway id is not
// reserved yet: "out:" and its outbox key, unique per tenant like the key.
func PlaceholderWaID(key string) string { return "out:" + key }

// HasPlaceholderWaID reports whether the message's gateway id is still to be
// reserved.
func (m *Message) HasPlaceholderWaID() bool { return strings.HasPrefix(m.WaID, "out:") }

// QueueMessage stores an outgoing message to be sent, due at dueAt, with
// the gateway id reserved for it (or, when waID is empty, a placeholder the
// first attempt replaces), and
// charges cost credits for it with m.ChargeRef as the reference, in one
// transaction: either both happen or neither. m.OutboxKey names it: queueing
// a message whose key exists returns the stored one and charges nothing
// again, so callers may retry. It fails with ErrInsufficientCredits, storing
// nothing, when the balance cannot cover cost. Inserted is set when the
// message is new.
func (ts *TenantStore) QueueMessage(ctx context.Context, m *Message, waID string, cost int64, reason string, dueAt time.Time) (*Message, error) {
	if m.OutboxKey == nil || *m.OutboxKey == "" {
		return nil, errors.New("queue message: an outbox key is required")
	}
	key := *m.OutboxKey
	m.TenantID = ts.tenantID
	m.WaID = waID
	if m.WaID == "" {
		m.WaID = PlaceholderWaID(key)
	}
	m.setOrigin()
	m.Direction, m.Status, m.Ack, m.Attempt = DirectionOut, MessagePending, 0, 0
	m.DueAt = &dueAt
	if m.SentAt.IsZero() {
		m.SentAt = time.Now()
	}
	insert := func(ctx context.Context, tx *TenantStore) error {
		ins := tx.db.NewInsert().Model(m).
			On("CONFLICT (tenant_id, outbox_key) WHERE outbox_key IS NOT NULL DO NOTHING").
			Returning("*, true AS inserted")
		touch := tx.db.NewUpdate().Model((*Contact)(nil)).ApplyQueryBuilder(tx.scope).
			Set("last_message_at = GREATEST(c.last_message_at, saved.sent_at)").Set("updated_at = now()").
			TableExpr("saved").Where("c.id = saved.contact_id")
		err := tx.db.NewSelect().With("saved", ins).With("touched", touch).Table("saved").Scan(ctx, m)
		if errors.Is(mapErr(err), ErrNotFound) {
			// Queued before (a retry), or by a concurrent call.
			existing, err := tx.messageByOutboxKey(ctx, key)
			if err != nil {
				return err
			}
			*m = *existing
			return nil
		}
		return mapErr(err)
	}
	var err error
	if cost <= 0 {
		err = insert(ctx, ts) // one statement: no transaction needed
	} else {
		// The charge is keyed by the message's reference: a retry that finds
		// the message queued finds its charge too, and pays nothing again.
		err = ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
			if _, err := tx.Charge(ctx, cost, reason, m.ChargeRef); err != nil {
				return err
			}
			return insert(ctx, tx)
		})
	}
	if err != nil {
		return nil, fmt.Errorf("queue message %s: %w", key, err)
	}
	return m, nil
}

func (ts *TenantStore) messageByOutboxKey(ctx context.Context, key string) (*Message, error) {
	m := new(Message)
	if err := ts.db.NewSelect().Model(m).ApplyQueryBuilder(ts.scope).Where("m.outbox_key = ?", key).Scan(ctx); err != nil {
		return nil, mapErr(err)
	}
	return m, nil
}

// SendClaim is an outgoing message claimed for a send attempt, with where
// it goes.
type SendClaim struct {
	Message `bun:",extend"`
	// ChatID is the contact's chat; Session and NodeID are the number's
	// gateway session and node, both empty when the number was deleted.
	ChatID  string  `bun:"claim_chat_id"`
	Session *string `bun:"claim_session"`
	NodeID  *int64  `bun:"claim_node_id"`
	// TenantStatus is the tenant's status: a suspended tenant sends nothing.
	TenantStatus string `bun:"claim_tenant_status"`
	// NumberPaused: the number is beyond what the plan allows, and sends
	// nothing (see NumbersToPause).
	NumberPaused bool `bun:"claim_number_paused"`
}

// ClaimSend lets the task of generation attempt work on an outgoing message
// that is still to be sent: it holds the message until lease from now and
// returns it with its route, in one statement. ErrNotFound means there is
// nothing for this task to do (sent, failed, or handed to a newer
// generation).
func (ts *TenantStore) ClaimSend(ctx context.Context, id int64, attempt int, lease time.Duration) (*SendClaim, error) {
	c := new(SendClaim)
	err := ts.db.NewRaw(`
		UPDATE messages AS m SET lease_until = now() + ? * interval '1 millisecond'
		WHERE m.tenant_id = ? AND m.id = ? AND m.attempt = ? AND m.due_at IS NOT NULL
		  AND m.direction = 'out' AND m.status IN ('pending', 'sending')
		RETURNING m.*,
			(SELECT c.chat_id FROM contacts AS c WHERE c.tenant_id = m.tenant_id AND c.id = m.contact_id) AS claim_chat_id,
			(SELECT i.session_name FROM instances AS i WHERE i.tenant_id = m.tenant_id AND i.id = m.instance_id) AS claim_session,
			(SELECT i.node_id FROM instances AS i WHERE i.tenant_id = m.tenant_id AND i.id = m.instance_id) AS claim_node_id,
			(SELECT t.status FROM tenants AS t WHERE t.id = m.tenant_id) AS claim_tenant_status,
			coalesce((SELECT i.paused_at IS NOT NULL FROM instances AS i WHERE i.tenant_id = m.tenant_id AND i.id = m.instance_id), false) AS claim_number_paused`,
		lease.Milliseconds(), ts.tenantID, id, attempt).Scan(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("claim message %d attempt %d: %w", id, attempt, mapErr(err))
	}
	return c, nil
}

// MarkMessageSending records that a send is being attempted, so a later
// attempt knows to ask the gateway whether it went out, and the gateway id
// reserved for it (a queued message's first attempt), so every later attempt
// sends and asks about that id.
func (ts *TenantStore) MarkMessageSending(ctx context.Context, id int64, waID string) error {
	_, err := ts.db.NewUpdate().Model((*Message)(nil)).ApplyQueryBuilder(ts.scope).
		Set("status = 'sending'").Set("wa_id = CASE WHEN m.wa_id LIKE 'out:%' THEN ? ELSE m.wa_id END", waID).
		Set("updated_at = now()").Where("m.id = ? AND m.status IN ('pending', 'sending')", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("mark message %d sending: %w", id, mapErr(err))
	}
	return nil
}

// RetryMessageLater hands a message whose send attempt failed without a
// final answer to the next generation, whose task is asked for at at; the
// sweeper takes the message over if no task claimed it by due. It returns
// the new generation; ErrNotFound when the message was settled meanwhile (an
// ack came) or another generation holds it.
func (ts *TenantStore) RetryMessageLater(ctx context.Context, id int64, attempt int, due time.Time) (int, error) {
	var next int
	err := ts.db.NewUpdate().Model((*Message)(nil)).ApplyQueryBuilder(ts.scope).
		Set("attempt = m.attempt + 1").Set("due_at = ?", due).Set("lease_until = NULL").Set("updated_at = now()").
		Where("m.id = ? AND m.attempt = ? AND m.due_at IS NOT NULL AND m.status IN ('pending', 'sending')", id, attempt).
		Returning("m.attempt").Scan(ctx, &next)
	if err != nil {
		return 0, fmt.Errorf("retry message %d later: %w", id, mapErr(err))
	}
	return next, nil
}

// MarkMessageSent records a successful send and ends the message's outbox
// work; a delivery status that came first (by webhook) is kept. The AI
// reply the message carries, if any, is sent too.
func (ts *TenantStore) MarkMessageSent(ctx context.Context, id int64, providerID string) (*Message, error) {
	m := new(Message)
	res, err := ts.db.NewUpdate().Model(m).ApplyQueryBuilder(ts.scope).
		Set("status = CASE WHEN m.status IN ('pending', 'sending') THEN 'sent' ELSE m.status END").
		Set("ack = GREATEST(m.ack, 1)").
		Set("provider_id = CASE WHEN ? <> '' THEN ? ELSE m.provider_id END", providerID, providerID).
		Set("sent_at = CASE WHEN m.status IN ('pending', 'sending') THEN now() ELSE m.sent_at END").
		Set("due_at = NULL").Set("updated_at = now()").
		Where("m.id = ? AND m.status <> 'failed'", id).Returning("*").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("mark message %d sent: %w", id, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ts.Message(ctx, id) // failed meanwhile (a negative ack)
	}
	// A statement of its own, after the message's: it sees a reply handed
	// to the outbox by a transaction that committed meanwhile.
	if m.Sender == SenderAI {
		if err := ts.endSendingReply(ctx, id); err != nil {
			return nil, fmt.Errorf("mark message %d sent: %w", id, err)
		}
	}
	return m, nil
}

// FailMessage marks an outgoing message that is not sent yet failed, with
// the reason shown to the tenant, refunds the charge that paid for it, and
// ends the AI reply it carries as refunded, in one transaction. A message
// that was sent meanwhile (an ack came) stays sent; it is returned as it is.
func (ts *TenantStore) FailMessage(ctx context.Context, id int64, why string) (*Message, error) {
	m := new(Message)
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		res, err := tx.db.NewUpdate().Model(m).ApplyQueryBuilder(tx.scope).
			Set("status = 'failed'").Set("error = ?", why).Set("due_at = NULL").Set("updated_at = now()").
			Where("m.id = ? AND m.status IN ('pending', 'sending')", id).Returning("*").Exec(ctx)
		if err != nil {
			return mapErr(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			cur, err := tx.Message(ctx, id)
			if err != nil {
				return err
			}
			*m = *cur
			return nil
		}
		return tx.refundUnsent(ctx, m, why)
	})
	if err != nil {
		return nil, fmt.Errorf("fail message %d: %w", id, err)
	}
	return m, nil
}

// refundUnsent gives back what paid for a message that did not go out and
// ends its AI reply, inside the caller's transaction.
func (ts *TenantStore) refundUnsent(ctx context.Context, m *Message, why string) error {
	if m.ChargeRef != "" {
		if _, err := ts.Refund(ctx, m.ChargeRef, "Refund: message not sent"); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	_, err := ts.db.NewUpdate().Model((*AIReply)(nil)).ApplyQueryBuilder(ts.scope).
		Set("status = 'refunded'").Set("error = ?", why).Set("updated_at = now()").
		Where("ar.out_message_id = ? AND ar.status = 'sending'", m.ID).Exec(ctx)
	return err
}

// ApplyAck raises an outgoing message's delivery status from a webhook (an
// ack, or the echo of a message we sent). Acks arrive out of order and more
// than once; a lower level than the stored one changes nothing. A positive
// level ends the message's outbox work: it went out, whatever our own
// attempts concluded, and a message we had marked failed and refunded is
// sent after all and charged again (once). A negative level (the gateway
// could not deliver) fails a message not yet delivered and refunds it. It
// returns the message when it changed, ErrNotFound when nothing changed.
func (ts *TenantStore) ApplyAck(ctx context.Context, instanceID int64, waID string, level int) (*Message, error) {
	if level < 0 {
		return ts.failByAck(ctx, instanceID, waID)
	}
	// One statement for the common cases: it raises a message not marked
	// failed (reading its status before, by a self-join), and says whether
	// the message is one marked failed, which needs the transaction below.
	var row struct {
		Message   `bun:",extend"`
		OldStatus *string `bun:"old_status"`
		Failed    bool    `bun:"failed"`
	}
	err := ts.db.NewRaw(`
		WITH upd AS (
			UPDATE messages AS m SET ack = ?, status = ?, due_at = NULL, error = '', updated_at = now()
			FROM messages AS old
			WHERE old.id = m.id AND m.tenant_id = ? AND m.origin_instance_id = ? AND m.wa_id = ? AND m.direction = 'out'
			  AND m.status <> 'failed' AND m.ack < ?
			RETURNING m.*, old.status AS old_status)
		SELECT upd.*, EXISTS (SELECT 1 FROM messages AS f WHERE f.tenant_id = ? AND f.origin_instance_id = ? AND f.wa_id = ?
		                        AND f.direction = 'out' AND f.status = 'failed' AND f.sender <> 'system') AS failed
		FROM (SELECT 1) AS one LEFT JOIN upd ON true`,
		level, AckStatus(level), ts.tenantID, instanceID, waID, level, ts.tenantID, instanceID, waID).Scan(ctx, &row)
	if err != nil {
		return nil, fmt.Errorf("ack %s: %w", waID, err)
	}
	if row.OldStatus != nil {
		m := &row.Message
		settled := *row.OldStatus == MessagePending || *row.OldStatus == MessageSending
		if level >= 1 && settled && m.Sender == SenderAI {
			if err := ts.endSendingReply(ctx, m.ID); err != nil {
				return nil, fmt.Errorf("ack %s: %w", waID, err)
			}
		}
		return m, nil
	}
	// Nothing changed: an older or repeated ack (the common case), or a
	// message marked failed.
	if level == 0 || !row.Failed {
		return nil, fmt.Errorf("ack %s: %w", waID, ErrNotFound)
	}
	return ts.sentAfterAll(ctx, instanceID, waID, level)
}

// endSendingReply marks the AI reply carried by a message that went out
// sent (acks can settle a message before our own attempt does).
func (ts *TenantStore) endSendingReply(ctx context.Context, messageID int64) error {
	_, err := ts.db.NewUpdate().Model((*AIReply)(nil)).ApplyQueryBuilder(ts.scope).
		Set("status = 'sent'").Set("updated_at = now()").
		Where("ar.out_message_id = ? AND ar.status = 'sending'", messageID).Exec(ctx)
	return err
}

// SettleSendingRepliesAllTenants settles AI replies handed to the outbox
// whose message was settled without them (the reply is marked in a statement
// of its own after the message's, and a process can die in between): sent
// with a message that went out, refunded with one that failed. It returns
// how many it settled.
func (s *Store) SettleSendingRepliesAllTenants(ctx context.Context) (int, error) {
	res, err := s.db.NewRaw(`
		UPDATE ai_replies AS ar SET updated_at = now(),
			status = CASE WHEN m.status = 'failed' THEN 'refunded' ELSE 'sent' END,
			error = CASE WHEN m.status = 'failed' THEN m.error ELSE ar.error END
		FROM messages AS m
		WHERE ar.status = 'sending' AND m.tenant_id = ar.tenant_id AND m.id = ar.out_message_id
		  AND m.status NOT IN ('pending', 'sending')`).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("settle sending replies: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// sentAfterAll settles a message marked failed that the gateway says went
// out: it becomes sent, and what was refunded is charged again once. Without
// the credits to cover it, nothing is charged (the balance never goes below
// zero) and the conversation says so.
func (ts *TenantStore) sentAfterAll(ctx context.Context, instanceID int64, waID string, level int) (*Message, error) {
	m := new(Message)
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		err := tx.db.NewSelect().Model(m).ApplyQueryBuilder(tx.scope).
			Where("m.origin_instance_id = ? AND m.wa_id = ? AND m.direction = 'out' AND m.status = 'failed' AND m.sender <> 'system'",
				instanceID, waID).
			For("UPDATE").Scan(ctx)
		if err != nil {
			return mapErr(err)
		}
		level = max(level, m.Ack)
		_, err = tx.db.NewUpdate().Model(m).ApplyQueryBuilder(tx.scope).
			Set("ack = ?", level).Set("status = ?", AckStatus(level)).Set("error = ''").
			Set("due_at = NULL").Set("updated_at = now()").Where("m.id = ?", m.ID).Returning("*").Exec(ctx)
		if err != nil {
			return err
		}
		_, err = tx.db.NewUpdate().Model((*AIReply)(nil)).ApplyQueryBuilder(tx.scope).
			Set("status = 'sent'").Set("error = ''").Set("updated_at = now()").
			Where("ar.out_message_id = ? AND ar.status IN ('refunded', 'failed')", m.ID).Exec(ctx)
		if err != nil {
			return err
		}
		return tx.chargeAgain(ctx, m)
	})
	if err != nil {
		return nil, fmt.Errorf("ack %s: %w", waID, err)
	}
	return m, nil
}

// chargeAgain charges once more what was refunded for a message that went
// out after all, inside the caller's transaction.
func (ts *TenantStore) chargeAgain(ctx context.Context, m *Message) error {
	if m.ChargeRef == "" {
		return nil
	}
	refund, err := ts.LedgerEntry(ctx, RefundReference(m.ChargeRef))
	if errors.Is(err, ErrNotFound) {
		return nil // never refunded: nothing to take back
	}
	if err != nil {
		return err
	}
	_, err = ts.Charge(ctx, refund.Amount, "Message delivered after all", "again:"+m.ChargeRef)
	if errors.Is(err, ErrInsufficientCredits) {
		_, err = ts.AddNote(ctx, m.ContactID, "again:"+m.ChargeRef,
			"A message reported as not sent reached the customer after all. It was not charged again: your balance is empty.")
	}
	return err
}

// failByAck fails a message the gateway reports it could not deliver.
func (ts *TenantStore) failByAck(ctx context.Context, instanceID int64, waID string) (*Message, error) {
	m := new(Message)
	const why = "WhatsApp could not deliver the message."
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		res, err := tx.db.NewUpdate().Model(m).ApplyQueryBuilder(tx.scope).
			Set("ack = -1").Set("status = 'failed'").Set("error = ?", why).Set("due_at = NULL").Set("updated_at = now()").
			Where("m.origin_instance_id = ? AND m.wa_id = ? AND m.direction = 'out' AND m.ack < 2 AND m.status <> 'failed'", instanceID, waID).
			Returning("*").Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return tx.refundUnsent(ctx, m, why)
	})
	if err != nil {
		return nil, fmt.Errorf("ack %s: %w", waID, err)
	}
	return m, nil
}

// ClaimAIWork lets the task of generation attempt work on the AI answer to
// an incoming message: it holds the message until lease from now and returns
// it. ErrNotFound means there is nothing for this task to do.
func (ts *TenantStore) ClaimAIWork(ctx context.Context, id int64, attempt int, lease time.Duration) (*Message, error) {
	m := new(Message)
	res, err := ts.db.NewUpdate().Model(m).ApplyQueryBuilder(ts.scope).
		Set("lease_until = now() + ? * interval '1 millisecond'", lease.Milliseconds()).
		Where("m.id = ? AND m.attempt = ? AND m.due_at IS NOT NULL AND m.direction = 'in'", id, attempt).
		Returning("*").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim ai work on message %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("claim ai work on message %d attempt %d: %w", id, attempt, ErrNotFound)
	}
	return m, nil
}

// FinishWork ends a message's pending work (the AI answer is decided, or
// handed to the outbox).
func (ts *TenantStore) FinishWork(ctx context.Context, id int64) error {
	_, err := ts.db.NewUpdate().Model((*Message)(nil)).ApplyQueryBuilder(ts.scope).
		Set("due_at = NULL").Where("m.id = ? AND m.due_at IS NOT NULL", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("finish work on message %d: %w", id, err)
	}
	return nil
}

// DueWork is a message whose pending work came due without being done.
type DueWork struct {
	ID        int64  `bun:"id"`
	TenantID  int64  `bun:"tenant_id"`
	ContactID int64  `bun:"contact_id"`
	Direction string `bun:"direction"`
	Attempt   int    `bun:"attempt"`
}

// RedriveDueMessagesAllTenants hands up to limit messages whose work is
// overdue to their next generation, held for lease, and returns them for
// the caller to schedule. Concurrent sweepers take different rows.
func (s *Store) RedriveDueMessagesAllTenants(ctx context.Context, lease time.Duration, limit int) ([]DueWork, error) {
	var out []DueWork
	err := s.db.NewRaw(`
		UPDATE messages AS m SET attempt = m.attempt + 1, lease_until = now() + ? * interval '1 millisecond'
		FROM (SELECT id FROM messages WHERE due_at <= now() AND (lease_until IS NULL OR lease_until <= now())
		      ORDER BY due_at LIMIT ? FOR UPDATE SKIP LOCKED) AS due
		WHERE m.id = due.id
		RETURNING m.id, m.tenant_id, m.contact_id, m.direction, m.attempt`, lease.Milliseconds(), limit).Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("redrive due messages: %w", err)
	}
	return out, nil
}
