package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// RetryFailedRecipients sends again to a campaign's recipients whose
// message failed (it was refunded): they go back to pending, their retries
// counted, so each is a new message charged once. A campaign that was done
// goes back to sending; a paused one stays paused until resumed. It returns
// how many recipients will be tried again. A cancelled campaign refuses with
// ErrCampaignCancelled, a draft with ErrNotLaunched.
func (ts *TenantStore) RetryFailedRecipients(ctx context.Context, campaignID int64) (int, error) {
	var n int
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		var state string
		err := tx.db.NewSelect().Model((*Campaign)(nil)).Column("state").ApplyQueryBuilder(tx.scope).
			Where("cp.id = ?", campaignID).For("UPDATE").Scan(ctx, &state)
		if err != nil {
			return fmt.Errorf("campaign %d: %w", campaignID, mapErr(err))
		}
		switch state {
		case CampaignCancelled:
			return ErrCampaignCancelled
		case CampaignDraft:
			return ErrNotLaunched
		}
		res, err := tx.db.NewUpdate().Model((*Recipient)(nil)).ApplyQueryBuilder(tx.scope).
			Apply(backToPending).Where("cr.campaign_id = ? AND cr.state = 'queued'", campaignID).
			Where("EXISTS (SELECT 1 FROM messages AS m WHERE m.tenant_id = cr.tenant_id AND m.id = cr.message_id AND m.status = 'failed')").
			Exec(ctx)
		if err != nil {
			return err
		}
		if rows, _ := res.RowsAffected(); rows > 0 {
			n = int(rows)
			_, err = tx.setCampaignState(ctx, campaignID, CampaignSending, "", CampaignDone)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("retry failed recipients of campaign %d: %w", campaignID, err)
	}
	return n, nil
}

// backToPending sets a queued recipient pending again for a new attempt.
func backToPending(q *bun.UpdateQuery) *bun.UpdateQuery {
	return q.Set("state = 'pending'").Set("message_id = NULL").Set("instance_id = NULL").Set("reason = ''").
		Set("retries = cr.retries + 1").Set("updated_at = now()")
}

// RequeueUnsentAllTenants gives back to their campaign the recipients whose
// message failed with the reason why (the outbox's for a number that was
// not connected when it came to send it): they go back to pending, their
// retries counted, so that another of the campaign's numbers, or this one
// once it reconnects, sends them; a campaign done meanwhile goes back to
// sending. Cancelled campaigns keep them failed. It returns how many
// recipients it gave back.
func (s *Store) RequeueUnsentAllTenants(ctx context.Context, why string) (int, error) {
	var n int
	err := s.db.NewRaw(`WITH requeued AS (
			UPDATE campaign_recipients AS cr SET state = 'pending', message_id = NULL, instance_id = NULL, reason = '',
				retries = cr.retries + 1, updated_at = now()
			FROM messages AS m, campaigns AS cp
			WHERE cr.state = 'queued' AND m.tenant_id = cr.tenant_id AND m.id = cr.message_id
			  AND m.status = 'failed' AND m.error = ?
			  AND cp.tenant_id = cr.tenant_id AND cp.id = cr.campaign_id AND cp.state IN ('sending', 'paused', 'done')
			RETURNING cr.tenant_id, cr.campaign_id
		), reopened AS (
			UPDATE campaigns AS cp SET state = 'sending', finished_at = NULL, updated_at = now()
			FROM (SELECT DISTINCT tenant_id, campaign_id FROM requeued) AS r
			WHERE cp.tenant_id = r.tenant_id AND cp.id = r.campaign_id AND cp.state = 'done'
		)
		SELECT count(*) FROM requeued`, why).Scan(ctx, &n)
	if err != nil {
		return 0, fmt.Errorf("requeue unsent campaign messages: %w", err)
	}
	return n, nil
}

// CampaignNumber is one of a campaign's numbers, as its page shows it.
type CampaignNumber struct {
	ID       int64   `bun:"id"`
	Name     string  `bun:"name"`
	Phone    *string `bun:"phone"`
	PushName *string `bun:"push_name"`
	Status   string  `bun:"status"`
	// Paused: beyond the plan's limit of numbers (see NumbersToPause).
	Paused bool `bun:"paused"`
	// Sent counts the campaign's recipients it handed to the outbox.
	Sent int `bun:"sent"`
}

// Connected reports whether the number can send now; a disconnected (or
// paused) number's share of the campaign waits until it reconnects (or the
// plan allows it again).
func (n CampaignNumber) Connected() bool { return n.Status == InstanceConnected && !n.Paused }

// CampaignNumbers returns the campaign's numbers in the order it lists
// them, each with its status and how many of the campaign's messages it
// sent. Numbers deleted since the launch are left out.
func (ts *TenantStore) CampaignNumbers(ctx context.Context, campaignID int64) ([]CampaignNumber, error) {
	c, err := ts.Campaign(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	out := []CampaignNumber{}
	if len(c.InstanceIDs) == 0 {
		return out, nil
	}
	err = ts.db.NewSelect().Model((*Instance)(nil)).ApplyQueryBuilder(ts.scope).
		Column("i.id", "i.name", "i.phone", "i.push_name", "i.status").ColumnExpr("i.paused_at IS NOT NULL AS paused").
		ColumnExpr(`(SELECT count(*) FROM campaign_recipients AS cr WHERE cr.tenant_id = i.tenant_id
			AND cr.campaign_id = ? AND cr.instance_id = i.id AND cr.state = 'queued') AS sent`, campaignID).
		Where("i.id IN (?)", bun.In(c.InstanceIDs)).
		OrderExpr("array_position(?::bigint[], i.id)", pgdialect.Array(c.InstanceIDs)).Scan(ctx, &out)
	if err != nil && !errors.Is(mapErr(err), ErrNotFound) {
		return nil, fmt.Errorf("numbers of campaign %d: %w", campaignID, err)
	}
	return out, nil
}
