package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Launch is how a draft campaign is sent.
type Launch struct {
	InstanceIDs []int64
	// Pace is the campaign package's pace, as JSON.
	Pace       json.RawMessage
	QuietStart *int
	QuietEnd   *int
	// Price is the credits each message costs, fixed now.
	Price int64
	// At schedules the campaign; nil sends it now.
	At *time.Time
	// Tag is added to every recipient's contact ("" for none).
	Tag string
}

// LaunchCampaign turns a draft with recipients into a sending (or
// scheduled) campaign, and makes its recipients contacts tagged with
// l.Tag, in one transaction. A campaign launched already refuses with
// ErrNotDraft.
func (ts *TenantStore) LaunchCampaign(ctx context.Context, id int64, l Launch) (*Campaign, error) {
	var c *Campaign
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		var err error
		if c, err = tx.launch(ctx, id, l); err != nil {
			return err
		}
		return tx.TagCampaignContacts(ctx, id, l.Tag)
	})
	return c, err
}

func (ts *TenantStore) launch(ctx context.Context, id int64, l Launch) (*Campaign, error) {
	c := new(Campaign)
	state := CampaignSending
	if l.At != nil && l.At.After(time.Now()) {
		state = CampaignScheduled
	}
	err := ts.db.NewUpdate().Model(c).ApplyQueryBuilder(ts.scope).
		Set("state = ?", state).Set("step = 'send'").Set("instance_ids = ?", pgdialect.Array(l.InstanceIDs)).
		Set("pace = ?", string(l.Pace)).Set("quiet_start = ?", l.QuietStart).Set("quiet_end = ?", l.QuietEnd).
		Set("price = ?", l.Price).Set("scheduled_at = ?", l.At).Set("pause_reason = ''").
		Set("started_at = CASE WHEN ? = 'sending' THEN now() END", state).Set("updated_at = now()").
		Where("cp.id = ? AND cp.state = 'draft'", id).
		Where("EXISTS (SELECT 1 FROM campaign_recipients AS cr WHERE cr.tenant_id = cp.tenant_id AND cr.campaign_id = cp.id)").
		Returning("*").Scan(ctx)
	if errors.Is(mapErr(err), ErrNotFound) {
		if _, err := ts.Campaign(ctx, id); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("launch campaign %d: %w", id, ErrNotDraft)
	}
	if err != nil {
		return nil, fmt.Errorf("launch campaign %d: %w", id, mapErr(err))
	}
	return c, nil
}

// PauseCampaign pauses a sending or scheduled campaign with the reason
// shown to the tenant. It reports whether it paused it.
func (ts *TenantStore) PauseCampaign(ctx context.Context, id int64, reason string) (bool, error) {
	return ts.setCampaignState(ctx, id, CampaignPaused, reason, CampaignSending, CampaignScheduled)
}

// ResumeCampaign sends a paused campaign again; one paused before its
// scheduled time is scheduled again.
func (ts *TenantStore) ResumeCampaign(ctx context.Context, id int64) (bool, error) {
	ok, err := ts.setCampaignState(ctx, id, CampaignSending, "", CampaignPaused)
	if !ok || err != nil {
		return ok, err
	}
	_, err = ts.db.NewUpdate().Model((*Campaign)(nil)).ApplyQueryBuilder(ts.scope).
		Set("state = 'scheduled'").Set("started_at = NULL").
		Where("cp.id = ? AND cp.state = 'sending' AND cp.scheduled_at > now()", id).
		Where("NOT EXISTS (SELECT 1 FROM campaign_recipients AS cr WHERE cr.tenant_id = cp.tenant_id AND cr.campaign_id = cp.id AND cr.state <> 'pending')").
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("resume campaign %d: %w", id, err)
	}
	return true, nil
}

// CancelCampaign stops a campaign for good: recipients not yet handed to
// the outbox are skipped.
func (ts *TenantStore) CancelCampaign(ctx context.Context, id int64) (bool, error) {
	var ok bool
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		var err error
		if ok, err = tx.setCampaignState(ctx, id, CampaignCancelled, "", CampaignSending, CampaignScheduled, CampaignPaused); err != nil || !ok {
			return err
		}
		_, err = tx.db.NewUpdate().Model((*Recipient)(nil)).ApplyQueryBuilder(tx.scope).
			Set("state = 'skipped'").Set("reason = 'Cancelled'").Set("updated_at = now()").
			Where("cr.campaign_id = ? AND cr.state = 'pending'", id).Exec(ctx)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("cancel campaign %d: %w", id, err)
	}
	return ok, nil
}

func (ts *TenantStore) setCampaignState(ctx context.Context, id int64, to, reason string, from ...string) (bool, error) {
	res, err := ts.db.NewUpdate().Model((*Campaign)(nil)).ApplyQueryBuilder(ts.scope).
		Set("state = ?", to).Set("pause_reason = ?", reason).Set("updated_at = now()").
		Set("started_at = coalesce(started_at, CASE WHEN ? = 'sending' THEN now() END)", to).
		Set("finished_at = CASE WHEN ? IN ('done', 'cancelled') THEN now() END", to).
		Where("cp.id = ? AND cp.state IN (?)", id, bun.In(from)).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("campaign %d to %s: %w", id, to, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := ts.Campaign(ctx, id); err != nil {
			return false, err
		}
		return false, nil
	}
	return true, nil
}

// NumberPace is what a number has sent for campaigns (see number_pace).
type NumberPace struct {
	bun.BaseModel `bun:"table:number_pace,alias:np"`

	InstanceID     int64      `bun:"instance_id,pk"`
	TenantID       int64      `bun:"tenant_id,notnull"`
	Day            *time.Time `bun:"day"`
	SentToday      int        `bun:"sent_today,notnull"`
	SentSincePause int        `bun:"sent_since_pause,notnull"`
	LastSentAt     *time.Time `bun:"last_sent_at"`
	NextAt         time.Time  `bun:"next_at,notnull"`
}

// LockNumberPace returns a number's pace row, created if missing, locked
// until the transaction ends: one message of a number is dispatched at a
// time, whatever the workers. It must run in a transaction. It locks the
// tenant's row (its credits) first, so a tenant's numbers dispatch one at a
// time: a dispatch charges its message, and a transaction that takes that
// lock after writing rows for the tenant (a new contact, the pace row) holds
// the row's key share, which deadlocks with another number doing the same.
func (ts *TenantStore) LockNumberPace(ctx context.Context, instanceID int64) (*NumberPace, error) {
	if _, err := ts.lockTenant(ctx); err != nil {
		return nil, fmt.Errorf("pace of number %d: %w", instanceID, err)
	}
	_, err := ts.db.NewRaw(`INSERT INTO number_pace (instance_id, tenant_id)
		SELECT i.id, i.tenant_id FROM instances AS i WHERE i.tenant_id = ? AND i.id = ?
		ON CONFLICT (instance_id) DO NOTHING`, ts.tenantID, instanceID).Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("pace of number %d: %w", instanceID, err)
	}
	p := new(NumberPace)
	err = ts.db.NewSelect().Model(p).ApplyQueryBuilder(ts.scope).Where("np.instance_id = ?", instanceID).For("UPDATE").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("pace of number %d: %w", instanceID, mapErr(err))
	}
	return p, nil
}

// SaveNumberPace stores a number's pace row locked by LockNumberPace.
func (ts *TenantStore) SaveNumberPace(ctx context.Context, p *NumberPace) error {
	_, err := ts.db.NewUpdate().Model(p).ApplyQueryBuilder(ts.scope).
		Column("day", "sent_today", "sent_since_pause", "last_sent_at", "next_at").WherePK().Exec(ctx)
	if err != nil {
		return fmt.Errorf("save pace of number %d: %w", p.InstanceID, err)
	}
	return nil
}

// NextRecipient returns the next recipient a number should send to: the
// oldest sending campaign's first pending recipient among the campaigns
// that use the number, locked (skipping those another worker holds). It
// returns ErrNotFound when there is none.
func (ts *TenantStore) NextRecipient(ctx context.Context, instanceID int64) (*Recipient, *Campaign, error) {
	r := new(Recipient)
	err := ts.db.NewSelect().Model(r).ApplyQueryBuilder(ts.scope).
		Join("JOIN campaigns AS cp ON cp.tenant_id = cr.tenant_id AND cp.id = cr.campaign_id").
		Where("cr.state = 'pending' AND cp.state = 'sending' AND ? = ANY(cp.instance_ids)", instanceID).
		OrderExpr("cp.started_at, cp.id, cr.id").Limit(1).For("UPDATE OF cr SKIP LOCKED").Scan(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("next recipient of number %d: %w", instanceID, mapErr(err))
	}
	c, err := ts.Campaign(ctx, r.CampaignID)
	if err != nil {
		return nil, nil, err
	}
	return r, c, nil
}

// MarkRecipientQueued records that a recipient's message is in the outbox.
func (ts *TenantStore) MarkRecipientQueued(ctx context.Context, r *Recipient, contactID, instanceID, messageID int64) error {
	_, err := ts.db.NewUpdate().Model((*Recipient)(nil)).ApplyQueryBuilder(ts.scope).
		Set("state = 'queued'").Set("contact_id = ?", contactID).Set("instance_id = ?", instanceID).
		Set("message_id = ?", messageID).Set("updated_at = now()").Where("cr.id = ?", r.ID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("recipient %d queued: %w", r.ID, err)
	}
	return nil
}

// SkipRecipient leaves a pending recipient out, with the reason.
func (ts *TenantStore) SkipRecipient(ctx context.Context, id int64, contactID *int64, reason string) error {
	_, err := ts.db.NewUpdate().Model((*Recipient)(nil)).ApplyQueryBuilder(ts.scope).
		Set("state = 'skipped'").Set("reason = ?", reason).Set("contact_id = coalesce(?, contact_id)", contactID).
		Set("updated_at = now()").Where("cr.id = ? AND cr.state = 'pending'", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("skip recipient %d: %w", id, err)
	}
	return nil
}

// FinishCampaigns marks done the tenant's sending campaigns that have no
// pending recipient left, and returns their ids.
func (ts *TenantStore) FinishCampaigns(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := ts.db.NewUpdate().Model((*Campaign)(nil)).ApplyQueryBuilder(ts.scope).
		Set("state = 'done'").Set("finished_at = now()").Set("updated_at = now()").
		Where("cp.state = 'sending'").
		Where("NOT EXISTS (SELECT 1 FROM campaign_recipients AS cr WHERE cr.tenant_id = cp.tenant_id AND cr.campaign_id = cp.id AND cr.state = 'pending')").
		Returning("cp.id").Scan(ctx, &ids)
	if err != nil && !errors.Is(mapErr(err), ErrNotFound) {
		return nil, fmt.Errorf("finish campaigns: %w", err)
	}
	return ids, nil
}

// DueDispatch is a number with campaign messages to send.
type DueDispatch struct {
	TenantID   int64     `bun:"tenant_id"`
	InstanceID int64     `bun:"instance_id"`
	NextAt     time.Time `bun:"next_at"`
}

// DueDispatchesAllTenants starts scheduled campaigns whose time came, and
// returns the connected numbers of sending campaigns with pending
// recipients whose next send is due before dueBy: the sweeper asks for
// their dispatch, which a lost task or a crash would otherwise stall.
func (s *Store) DueDispatchesAllTenants(ctx context.Context, dueBy time.Time, limit int) ([]DueDispatch, error) {
	_, err := s.db.NewRaw(`UPDATE campaigns SET state = 'sending', started_at = coalesce(started_at, now()), updated_at = now()
		WHERE state = 'scheduled' AND scheduled_at <= now()`).Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("start scheduled campaigns: %w", err)
	}
	var out []DueDispatch
	err = s.db.NewRaw(`SELECT DISTINCT i.tenant_id, i.id AS instance_id, greatest(coalesce(np.next_at, now()), now()) AS next_at
		FROM campaigns AS cp
		JOIN instances AS i ON i.tenant_id = cp.tenant_id AND i.id = ANY(cp.instance_ids) AND i.status = 'connected'
		                        AND i.paused_at IS NULL
		JOIN tenants AS t ON t.id = cp.tenant_id AND t.status <> 'suspended'
		LEFT JOIN number_pace AS np ON np.instance_id = i.id
		WHERE cp.state = 'sending' AND coalesce(np.next_at, '-infinity') <= ?
		  AND EXISTS (SELECT 1 FROM campaign_recipients AS cr
		              WHERE cr.tenant_id = cp.tenant_id AND cr.campaign_id = cp.id AND cr.state = 'pending')
		LIMIT ?`, dueBy, limit).Scan(ctx, &out)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("due campaign dispatches: %w", err)
	}
	return out, nil
}
