package db

import (
	"context"
	"fmt"
	"time"
)

// What an incoming message sets off (Message.Action).
const (
	InboundNone       = "none"        // nothing: stored and shown
	InboundOptOut     = "opt_out"     // the contact unsubscribed
	InboundOptIn      = "opt_in"      // the contact subscribed again
	InboundHandoff    = "handoff"     // the chat went to a person
	InboundAnswer     = "answer"      // the AI answers after the burst wait
	InboundAfterHours = "after_hours" // the after-hours reply goes out
)

// AnswerGrace is how long after its due time an AI answer's task may start
// before the sweeper hands it to another worker.
const AnswerGrace = 10 * time.Second

// Inbound is the decision about an incoming message, made once.
type Inbound struct {
	Action string
	// Why says, for InboundNone, why nothing happens, and for
	// InboundHandoff, why the chat went to a person (shown to the tenant).
	Why string
	// Until is when the AI may answer again after a handoff.
	Until time.Time
	// DueAt is when the AI answer is due (after the burst wait).
	DueAt time.Time
	// ClosedSince is when the closed period of an after-hours reply began:
	// the reply goes out once per closed period.
	ClosedSince time.Time
	// ReturnToAI ends a person's takeover that has expired, first.
	ReturnToAI bool
}

// InboundFacts is what a decision about an incoming message reads from the
// database besides the contact.
type InboundFacts struct {
	// AIRepliesLastHour counts the AI's answers to the contact in the last
	// hour. It is read on demand: only the rule that needs it asks.
	AIRepliesLastHour func() int
}

// InboundState is what an incoming message set off, as stored.
type InboundState struct {
	Action string
	// DueAt and Attempt are the message's pending work (the AI answer):
	// when it is due for the sweeper, and its generation.
	DueAt   *time.Time
	Attempt int
	// Handled: nothing is left to start (the sweeper owns the AI answer's
	// due time).
	Handled bool
}

// inboundRow is a contact with what a decision reads of its message.
type inboundRow struct {
	Contact    `bun:",extend"`
	MsgAction  string     `bun:"msg_action"`
	MsgDueAt   *time.Time `bun:"msg_due_at"`
	MsgAttempt int        `bun:"msg_attempt"`
}

func (r *inboundRow) state() InboundState {
	return InboundState{Action: r.MsgAction, DueAt: r.MsgDueAt, Attempt: r.MsgAttempt}
}

// readInbound reads, in one round trip, the contact of an incoming message
// (locked with lock) and the message's stored decision.
func (ts *TenantStore) readInbound(ctx context.Context, m *Message, lock bool) (*inboundRow, error) {
	forUpdate := ""
	if lock {
		forUpdate = " FOR UPDATE OF c"
	}
	row := new(inboundRow)
	err := ts.db.NewRaw(`
		SELECT c.*, m.action AS msg_action, m.due_at AS msg_due_at, m.attempt AS msg_attempt
		FROM contacts AS c JOIN messages AS m ON m.tenant_id = c.tenant_id AND m.id = ?
		WHERE c.tenant_id = ? AND c.id = ?`+forUpdate, m.ID, ts.tenantID, m.ContactID).Scan(ctx, row)
	if err != nil {
		return nil, mapErr(err)
	}
	return row, nil
}

// inboundFacts reads the facts of a decision on demand; the first read error
// is kept in *errp.
func (ts *TenantStore) inboundFacts(ctx context.Context, contactID int64, errp *error) InboundFacts {
	return InboundFacts{AIRepliesLastHour: func() int {
		n, err := ts.AIRepliesSince(ctx, contactID, time.Now().Add(-time.Hour))
		if err != nil && *errp == nil {
			*errp = err
		}
		return n
	}}
}

// DecideInbound decides once what an incoming message sets off and applies
// it. A decision that changes the chat (opt-out, opt-in, handoff, the
// after-hours mark, a takeover that ended) is made again and applied in one
// transaction with the contact locked; one that does not (silence, an AI
// answer, whose due time goes on the message) is stored with one guarded
// statement. Either way a retry after a crash reads the stored decision
// instead of deciding again. c is the message's contact as just read, for a
// message that was just stored (nil otherwise: it is read). decide must not
// write. It returns the message's state afterwards and the contact.
func (ts *TenantStore) DecideInbound(ctx context.Context, m *Message, c *Contact, decide func(c *Contact, f InboundFacts) Inbound) (InboundState, *Contact, error) {
	st, c, err := ts.decideOptimistically(ctx, m, c, decide)
	if err != nil || st.Action != "" {
		return st, c, err
	}
	err = ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		row, err := tx.readInbound(ctx, m, true)
		if err != nil {
			return err
		}
		c = &row.Contact
		if st = row.state(); st.Action != "" {
			return nil
		}
		var factErr error
		d := decide(c, tx.inboundFacts(ctx, c.ID, &factErr))
		if factErr != nil {
			return factErr
		}
		action, err := tx.applyInbound(ctx, c, d)
		if err != nil {
			return err
		}
		st, _, err = tx.storeDecision(ctx, m.ID, action, d.DueAt)
		return err
	})
	if err != nil {
		return InboundState{}, nil, fmt.Errorf("decide on message %d: %w", m.ID, err)
	}
	return st, c, nil
}

// decideOptimistically decides without a lock and stores a decision that
// leaves the chat as it is. An empty action in the result means the decision
// must be made under the lock.
func (ts *TenantStore) decideOptimistically(ctx context.Context, m *Message, c *Contact, decide func(c *Contact, f InboundFacts) Inbound) (InboundState, *Contact, error) {
	if c == nil || !m.Inserted {
		row, err := ts.readInbound(ctx, m, false)
		if err != nil {
			return InboundState{}, nil, fmt.Errorf("decide on message %d: %w", m.ID, err)
		}
		if row.MsgAction != "" {
			return row.state(), &row.Contact, nil
		}
		c = &row.Contact
	}
	var factErr error
	d := decide(c, ts.inboundFacts(ctx, c.ID, &factErr))
	if factErr != nil {
		return InboundState{}, nil, fmt.Errorf("decide on message %d: %w", m.ID, factErr)
	}
	if d.ReturnToAI || (d.Action != InboundNone && d.Action != InboundAnswer) {
		return InboundState{}, c, nil
	}
	st, stored, err := ts.storeDecision(ctx, m.ID, d.Action, d.DueAt)
	if err != nil || !stored {
		// Not stored: decided meanwhile by another attempt; read it under
		// the lock.
		return InboundState{}, c, err
	}
	return st, c, nil
}

// storeDecision stores a message's decision unless one is stored; for an
// answer, the AI work is due after its grace. Nothing is left to start after
// silence or an answer (the answer's due time is the sweeper's to keep), so
// those are handled at once. It reports whether this call stored it.
func (ts *TenantStore) storeDecision(ctx context.Context, id int64, action string, answerDue time.Time) (InboundState, bool, error) {
	st := InboundState{Action: action, Handled: action == InboundNone || action == InboundAnswer}
	if action == InboundAnswer {
		due := answerDue.Add(AnswerGrace)
		st.DueAt = &due
	}
	res, err := ts.db.NewUpdate().Model((*Message)(nil)).ApplyQueryBuilder(ts.scope).
		Set("action = ?", st.Action).Set("due_at = ?", st.DueAt).Set("attempt = 0").
		Set("handled_at = CASE WHEN ? THEN now() END", st.Handled).
		Where("m.id = ? AND m.action = ''", id).Exec(ctx)
	if err != nil {
		return st, false, err
	}
	n, _ := res.RowsAffected()
	return st, n == 1, nil
}

// applyInbound carries a decision out on the contact and the message and
// returns the action as it turned out (e.g. none when the contact was
// already opted out).
func (ts *TenantStore) applyInbound(ctx context.Context, c *Contact, d Inbound) (string, error) {
	if d.ReturnToAI {
		if _, err := ts.SetChatMode(ctx, c.ID, ModeAI, nil, ""); err != nil {
			return "", err
		}
	}
	changed := true
	var err error
	switch d.Action {
	case InboundOptOut:
		changed, err = ts.SetOptOut(ctx, c.ID, true)
	case InboundOptIn:
		changed, err = ts.SetOptOut(ctx, c.ID, false)
	case InboundHandoff:
		_, changed, err = ts.ExtendHumanMode(ctx, c.ID, d.Until, d.Why)
	case InboundAfterHours:
		changed, err = ts.MarkAfterHoursReplied(ctx, c.ID, d.ClosedSince)
	case InboundAnswer, InboundNone:
	default:
		return "", fmt.Errorf("unknown inbound action %q", d.Action)
	}
	if err != nil {
		return "", err
	}
	if !changed {
		return InboundNone, nil
	}
	return d.Action, nil
}

// MarkInboundHandled records that everything an incoming message set off
// was started.
func (ts *TenantStore) MarkInboundHandled(ctx context.Context, id int64) error {
	_, err := ts.db.NewUpdate().Model((*Message)(nil)).ApplyQueryBuilder(ts.scope).
		Set("handled_at = now()").Where("m.id = ? AND m.handled_at IS NULL", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("mark message %d handled: %w", id, err)
	}
	return nil
}
