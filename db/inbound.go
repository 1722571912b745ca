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

// InboundFacts is what a decision about an incoming message reads besides
// the contact: how many answers the AI gave the contact in the last hour.
type InboundFacts struct {
	AIRepliesLastHour int
}

// DecideInbound decides once what an incoming message sets off and applies
// it, in one transaction with the contact locked: the decision and its effect
// on the contact (opt-out, handoff, the after-hours mark, the AI answer's due
// time on the message) commit together, and a retry after a crash reads the
// stored decision instead of deciding again. decide must not write. It
// returns the decision's action and the contact as it is afterwards.
func (ts *TenantStore) DecideInbound(ctx context.Context, m *Message, decide func(c *Contact, f InboundFacts) Inbound) (string, *Contact, error) {
	var action string
	c := new(Contact)
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		if err := tx.db.NewSelect().Model(c).ApplyQueryBuilder(tx.scope).Where("c.id = ?", m.ContactID).For("UPDATE").Scan(ctx); err != nil {
			return mapErr(err)
		}
		if err := tx.db.NewSelect().Model((*Message)(nil)).Column("action").ApplyQueryBuilder(tx.scope).
			Where("m.id = ?", m.ID).Scan(ctx, &action); err != nil {
			return mapErr(err)
		}
		if action != "" {
			return nil
		}
		n, err := tx.AIRepliesSince(ctx, c.ID, time.Now().Add(-time.Hour))
		if err != nil {
			return err
		}
		d := decide(c, InboundFacts{AIRepliesLastHour: n})
		if action, err = tx.applyInbound(ctx, c, m, d); err != nil {
			return err
		}
		_, err = tx.db.NewUpdate().Model((*Message)(nil)).ApplyQueryBuilder(tx.scope).
			Set("action = ?", action).Where("m.id = ?", m.ID).Exec(ctx)
		if err != nil {
			return err
		}
		return tx.db.NewSelect().Model(c).ApplyQueryBuilder(tx.scope).Where("c.id = ?", c.ID).Scan(ctx)
	})
	if err != nil {
		return "", nil, fmt.Errorf("decide on message %d: %w", m.ID, err)
	}
	return action, c, nil
}

// applyInbound carries a decision out on the contact and the message and
// returns the action as it turned out (e.g. none when the contact was
// already opted out).
func (ts *TenantStore) applyInbound(ctx context.Context, c *Contact, m *Message, d Inbound) (string, error) {
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
	case InboundAnswer:
		_, err = ts.db.NewUpdate().Model((*Message)(nil)).ApplyQueryBuilder(ts.scope).
			Set("due_at = ?", d.DueAt.Add(AnswerGrace)).Set("attempt = 0").Where("m.id = ?", m.ID).Exec(ctx)
	case InboundNone:
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
