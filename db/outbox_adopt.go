package db

import (
	"context"
	"errors"
	"fmt"
)

// Adopted is what AdoptWaID did.
type Adopted struct {
	// Message is the message after it.
	Message *Message
	// MergedID is the row of the gateway's echo that was folded into the
	// message and deleted; 0 when there was none.
	MergedID int64
}

// adoptTries bounds AdoptWaID's transactions: a second one runs when a
// concurrent webhook stored the echo under the id while the first ran.
const adoptTries = 3

// AdoptWaID re-keys an outgoing message to waID (and providerID), the id the
// gateway gave it when it did not send it under the one we reserved (WAHA's
// sendImage), so that its echo and acks find it. When the echo came first
// and was stored as a message of its own (sender api, same contact), that
// row is folded in: the message keeps its sender, body, charge and campaign
// link, takes the echo's delivery status when it is higher, and the echo's
// row is deleted, in one transaction. The rows are locked in id order, as
// one statement, so two runs (or a run and a webhook) do not deadlock;
// running it again changes nothing. ErrConflict when waID is another
// message's that is not such an echo.
func (ts *TenantStore) AdoptWaID(ctx context.Context, id int64, waID, providerID string) (*Adopted, error) {
	var out *Adopted
	var err error
	for range adoptTries {
		err = ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
			var err error
			out, err = tx.adoptWaID(ctx, id, waID, providerID)
			return err
		})
		// A unique violation: the echo was being stored under waID by a
		// webhook while we re-keyed; the next run folds it in.
		if !errors.Is(err, ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("adopt id %s for message %d: %w", waID, id, err)
	}
	return out, nil
}

// adoptWaID is one run of AdoptWaID, inside the caller's transaction.
func (ts *TenantStore) adoptWaID(ctx context.Context, id int64, waID, providerID string) (*Adopted, error) {
	var rows []Message
	err := ts.db.NewSelect().Model(&rows).ApplyQueryBuilder(ts.scope).
		Where("m.id = ? OR (m.wa_id = ? AND m.origin_instance_id = (SELECT o.origin_instance_id FROM messages AS o WHERE o.id = ?))",
			id, waID, id).OrderExpr("m.id").For("UPDATE").Scan(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	var own, echo *Message
	for i := range rows {
		if rows[i].ID == id {
			own = &rows[i]
		} else {
			echo = &rows[i]
		}
	}
	switch {
	case own == nil:
		return nil, ErrNotFound
	case own.WaID == waID:
		return &Adopted{Message: own}, nil // adopted before
	case echo != nil && !echo.isEchoOf(own):
		return nil, fmt.Errorf("%w: the id is message %d's", ErrConflict, echo.ID)
	}
	ack, status, merged := own.Ack, own.Status, int64(0)
	if echo != nil {
		merged = echo.ID
		if _, err := ts.db.NewDelete().Model((*Message)(nil)).ApplyQueryBuilder(ts.scope).
			Where("m.id = ?", echo.ID).Exec(ctx); err != nil {
			return nil, err
		}
		if echo.Ack > own.Ack && own.Status != MessageFailed {
			ack, status = echo.Ack, AckStatus(echo.Ack)
		}
	}
	m := new(Message)
	_, err = ts.db.NewUpdate().Model(m).ApplyQueryBuilder(ts.scope).
		Set("wa_id = ?", waID).Set("provider_id = ?", providerID).Set("ack = ?", ack).Set("status = ?", status).
		// A status past sending (from the echo) ends the outbox's work.
		Set("due_at = CASE WHEN ? IN ('pending', 'sending') THEN m.due_at END", status).
		Set("updated_at = now()").Where("m.id = ?", id).Returning("*").Exec(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	return &Adopted{Message: m, MergedID: merged}, nil
}

// isEchoOf reports whether m is the gateway's echo of own stored as a
// message of its own: sent through the API to the same contact.
func (m *Message) isEchoOf(own *Message) bool {
	return m.Direction == DirectionOut && m.Sender == SenderAPI && m.ContactID == own.ContactID &&
		own.Direction == DirectionOut
}
