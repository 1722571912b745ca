package db

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun/dialect/pgdialect"
)

// VoteResult is what recording a vote did.
type VoteResult struct {
	Recipient *Recipient
	// Applied is false for a vote older than (or the same as) the one
	// recorded: a repeated or late delivery.
	Applied bool
}

// RecordVote records a vote on a campaign poll the tenant sent from the
// number instanceID (pollWaID is the poll message's key): the recipient's latest choice, by the vote's
// time, and the contact tagged with the chosen options instead of the ones
// chosen before. Options that the poll does not have are ignored. A poll
// the tenant did not send through a campaign gives ErrNotFound.
func (ts *TenantStore) RecordVote(ctx context.Context, instanceID int64, pollWaID string, selected []string, at time.Time) (VoteResult, error) {
	var res VoteResult
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		r := new(Recipient)
		err := tx.db.NewSelect().Model(r).ApplyQueryBuilder(tx.scope).
			Join("JOIN messages AS m ON m.tenant_id = cr.tenant_id AND m.id = cr.message_id").
			Where("m.origin_instance_id = ? AND m.wa_id = ?", instanceID, pollWaID).For("UPDATE OF cr").Scan(ctx)
		if err != nil {
			return fmt.Errorf("vote on %s: %w", pollWaID, mapErr(err))
		}
		res.Recipient = r
		if r.VotedAt != nil && at.Before(*r.VotedAt) {
			return nil
		}
		c, err := tx.Campaign(ctx, r.CampaignID)
		if err != nil {
			return err
		}
		var options []string
		if c.Poll != nil {
			options = c.Poll.Options
		}
		vote := []string{}
		for _, s := range selected {
			if slices.Contains(options, s) && !slices.Contains(vote, s) {
				vote = append(vote, s)
			}
		}
		_, err = tx.db.NewUpdate().Model((*Recipient)(nil)).ApplyQueryBuilder(tx.scope).
			Set("vote = ?", pgdialect.Array(vote)).Set("voted_at = ?", at).Set("vote_unreadable_at = NULL").Set("updated_at = now()").
			Where("cr.id = ?", r.ID).Exec(ctx)
		if err != nil {
			return fmt.Errorf("record vote of recipient %d: %w", r.ID, err)
		}
		res.Applied, r.Vote, r.VotedAt = true, vote, &at
		if r.ContactID == nil {
			return nil
		}
		return tx.retagVoter(ctx, *r.ContactID, options, vote)
	})
	return res, err
}

// retagVoter gives a contact the options it chose of a poll as tags, in
// place of the poll's other options.
func (ts *TenantStore) retagVoter(ctx context.Context, contactID int64, options, chosen []string) error {
	c, err := ts.Contact(ctx, contactID)
	if err != nil {
		return err
	}
	tags := slices.DeleteFunc(slices.Clone(c.Tags), func(t string) bool { return slices.Contains(options, t) })
	return ts.SetContactTags(ctx, contactID, append(tags, chosen...))
}

// OptionVotes is how many recipients chose an option of a poll campaign.
type OptionVotes struct {
	Option string `bun:"option"`
	Votes  int    `bun:"votes"`
	// Voters are the latest voters' names (or numbers), at most
	// TallyVoters of them.
	Voters []string `bun:"voters,array"`
}

// TallyVoters is how many voters CampaignTally names per option.
const TallyVoters = 8

// CampaignTally counts a poll campaign's current votes per option.
func (ts *TenantStore) CampaignTally(ctx context.Context, campaignID int64) ([]OptionVotes, error) {
	var out []OptionVotes
	err := ts.db.NewSelect().Model((*Recipient)(nil)).ApplyQueryBuilder(ts.scope).
		ColumnExpr("v.option, count(*) AS votes").
		ColumnExpr("(array_agg(coalesce(nullif(cr.name, ''), cr.phone) ORDER BY cr.voted_at DESC, cr.id))[1:?] AS voters", TallyVoters).Join("CROSS JOIN LATERAL unnest(cr.vote) AS v(option)").
		Where("cr.campaign_id = ?", campaignID).GroupExpr("v.option").OrderExpr("votes DESC, v.option").Scan(ctx, &out)
	if err != nil {
		return nil, fmt.Errorf("tally of campaign %d: %w", campaignID, err)
	}
	return out, nil
}

// VoteUnreadable reports whether the recipient's latest vote could not be
// read (a readable vote after it clears it).
func (r *Recipient) VoteUnreadable() bool { return r.VoteUnreadableAt != nil }

// RecordUnreadableVote records that a recipient of a campaign poll sent
// from instanceID voted but the vote could not be decrypted. Its tally is
// left as it was; a later readable vote replaces it. A poll no campaign
// sent is ErrNotFound.
func (ts *TenantStore) RecordUnreadableVote(ctx context.Context, instanceID int64, pollWaID string, at time.Time) (*Recipient, error) {
	r := new(Recipient)
	_, err := ts.db.NewUpdate().Model(r).ApplyQueryBuilder(ts.scope).
		Set("vote_unreadable_at = GREATEST(cr.vote_unreadable_at, ?)", at).Set("updated_at = now()").
		Where(`cr.message_id = (SELECT m.id FROM messages AS m WHERE m.tenant_id = cr.tenant_id
			AND m.origin_instance_id = ? AND m.wa_id = ?)`, instanceID, pollWaID).
		// Older than the readable vote it would hide: it changes nothing.
		Where("cr.voted_at IS NULL OR cr.voted_at <= ?", at).
		Returning("*").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("unreadable vote on %s: %w", pollWaID, mapErr(err))
	}
	if r.ID == 0 {
		return nil, fmt.Errorf("unreadable vote on %s: %w", pollWaID, ErrNotFound)
	}
	return r, nil
}
