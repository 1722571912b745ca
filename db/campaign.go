package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Campaign kinds.
const (
	CampaignText = "text"
	CampaignPoll = "poll"
)

// Campaign states. A draft is edited step by step; launching schedules it
// or starts sending; paused campaigns resume; done and cancelled are final.
const (
	CampaignDraft     = "draft"
	CampaignScheduled = "scheduled"
	CampaignSending   = "sending"
	CampaignPaused    = "paused"
	CampaignDone      = "done"
	CampaignCancelled = "cancelled"
)

// Recipient states: pending until its message is handed to the outbox
// (queued), then sent or failed as the outbox reports; skipped with a reason
// (opted out meanwhile, cancelled).
const (
	RecipientPending = "pending"
	RecipientQueued  = "queued"
	RecipientSent    = "sent"
	RecipientFailed  = "failed"
	RecipientSkipped = "skipped"
)

// ErrNotDraft is returned when a change that only drafts accept is made to
// a campaign that was launched.
var ErrNotDraft = errors.New("the campaign is no longer a draft")

// ErrNotLaunched is returned when what only a launched campaign accepts
// (trying failed messages again) is asked of a draft.
var ErrNotLaunched = errors.New("the campaign was not launched")

// ErrCampaignCancelled is returned when a cancelled campaign is asked to
// send again: cancelling is final.
var ErrCampaignCancelled = errors.New("the campaign was cancelled")

// CampaignPollSpec is the poll a poll campaign sends.
type CampaignPollSpec struct {
	Question string   `json:"question"`
	Options  []string `json:"options"`
	Multiple bool     `json:"multiple"`
}

// Campaign is one bulk send of a tenant. Its editable fields change only
// while it is a draft; Mapping and Pace are the campaign package's
// structures, stored as JSON.
type Campaign struct {
	bun.BaseModel `bun:"table:campaigns,alias:cp"`

	ID          int64             `bun:"id,pk,autoincrement"`
	TenantID    int64             `bun:"tenant_id,notnull"`
	Name        string            `bun:"name,notnull"`
	Kind        string            `bun:"kind,notnull"`
	State       string            `bun:"state,notnull"`
	Step        string            `bun:"step,notnull"`
	PauseReason string            `bun:"pause_reason,notnull"`
	FileName    string            `bun:"file_name,notnull"`
	Sheet       string            `bun:"sheet,notnull"`
	Columns     []string          `bun:"columns,type:jsonb,notnull"`
	Mapping     json.RawMessage   `bun:"mapping,type:jsonb,notnull"`
	Body        string            `bun:"body,notnull"`
	Variants    []string          `bun:"variants,array,notnull"`
	Poll        *CampaignPollSpec `bun:"poll,type:jsonb"`
	// MediaID is a text campaign's image (the text is its caption).
	MediaID     *int64          `bun:"media_id"`
	InstanceIDs []int64         `bun:"instance_ids,array,notnull"`
	Pace        json.RawMessage `bun:"pace,type:jsonb,notnull"`
	QuietStart  *int            `bun:"quiet_start"`
	QuietEnd    *int            `bun:"quiet_end"`
	Price       int64           `bun:"price,notnull"`
	ScheduledAt *time.Time      `bun:"scheduled_at"`
	StartedAt   *time.Time      `bun:"started_at"`
	FinishedAt  *time.Time      `bun:"finished_at"`
	CreatedAt   time.Time       `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt   time.Time       `bun:"updated_at,notnull,default:current_timestamp"`
}

// Recipient is one cleaned row of a campaign's file.
type Recipient struct {
	bun.BaseModel `bun:"table:campaign_recipients,alias:cr"`

	ID         int64             `bun:"id,pk,autoincrement"`
	TenantID   int64             `bun:"tenant_id,notnull"`
	CampaignID int64             `bun:"campaign_id,notnull"`
	RowNumber  int               `bun:"row_number,notnull"`
	Phone      string            `bun:"phone,notnull"`
	Name       string            `bun:"name,notnull"`
	Vars       map[string]string `bun:"vars,type:jsonb,notnull"`
	ContactID  *int64            `bun:"contact_id"`
	InstanceID *int64            `bun:"instance_id"`
	State      string            `bun:"state,notnull"`
	Reason     string            `bun:"reason,notnull"`
	MessageID  *int64            `bun:"message_id"`
	// Retries counts the times its failed message was tried again: each
	// attempt is a message of its own.
	Retries int        `bun:"retries,notnull"`
	Vote    []string   `bun:"vote,array"`
	VotedAt *time.Time `bun:"voted_at"`
	// VoteUnreadableAt is when a vote came that could not be decrypted;
	// the choice is unknown until a later readable vote.
	VoteUnreadableAt *time.Time `bun:"vote_unreadable_at"`
	UpdatedAt        time.Time  `bun:"updated_at,notnull,default:current_timestamp"`
}

// DroppedRow is a row of the file left out at clean-up, with the reason.
type DroppedRow struct {
	bun.BaseModel `bun:"table:campaign_dropped,alias:cd"`

	TenantID   int64  `bun:"tenant_id,notnull"`
	CampaignID int64  `bun:"campaign_id,pk"`
	RowNumber  int    `bun:"row_number,pk"`
	Value      string `bun:"value,notnull"`
	Reason     string `bun:"reason,notnull"`
}

// CreateCampaign starts a draft.
func (ts *TenantStore) CreateCampaign(ctx context.Context, name string) (*Campaign, error) {
	c := &Campaign{TenantID: ts.tenantID, Name: name, Kind: CampaignText, State: CampaignDraft, Step: "upload",
		Columns: []string{}, Mapping: json.RawMessage("{}"), Variants: []string{}, InstanceIDs: []int64{}, Pace: json.RawMessage("{}")}
	if _, err := ts.db.NewInsert().Model(c).Returning("*").Exec(ctx); err != nil {
		return nil, fmt.Errorf("create campaign: %w", mapErr(err))
	}
	return c, nil
}

// Campaign returns one of the tenant's campaigns.
func (ts *TenantStore) Campaign(ctx context.Context, id int64) (*Campaign, error) {
	c := new(Campaign)
	if err := ts.db.NewSelect().Model(c).ApplyQueryBuilder(ts.scope).Where("cp.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("campaign %d: %w", id, mapErr(err))
	}
	return c, nil
}

// SaveCampaignDraft stores a draft's editable fields (name, kind, step,
// file, mapping, message, numbers, pace, quiet hours, schedule). A launched
// campaign refuses with ErrNotDraft.
func (ts *TenantStore) SaveCampaignDraft(ctx context.Context, c *Campaign) error {
	res, err := ts.db.NewUpdate().Model(c).ApplyQueryBuilder(ts.scope).
		Column("name", "kind", "step", "file_name", "sheet", "columns", "mapping", "body", "variants", "poll", "media_id",
			"instance_ids", "pace", "quiet_start", "quiet_end", "scheduled_at").
		Set("updated_at = now()").Where("cp.id = ?", c.ID).Where("cp.state = ?", CampaignDraft).Exec(ctx)
	if err != nil {
		return fmt.Errorf("save campaign %d: %w", c.ID, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := ts.Campaign(ctx, c.ID); err != nil {
			return err
		}
		return fmt.Errorf("save campaign %d: %w", c.ID, ErrNotDraft)
	}
	return nil
}

// DeleteCampaignDraft removes a draft with its recipients. A launched
// campaign is cancelled, not deleted: it refuses with ErrNotDraft.
func (ts *TenantStore) DeleteCampaignDraft(ctx context.Context, id int64) error {
	res, err := ts.db.NewDelete().Model((*Campaign)(nil)).ApplyQueryBuilder(ts.scope).
		Where("cp.id = ?", id).Where("cp.state = ?", CampaignDraft).Exec(ctx)
	if err != nil {
		return fmt.Errorf("delete campaign %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := ts.Campaign(ctx, id); err != nil {
			return err
		}
		return fmt.Errorf("delete campaign %d: %w", id, ErrNotDraft)
	}
	return nil
}

// recipientBatch is how many rows one INSERT carries: large enough that a
// 100,000-row file is a hundred statements, small enough to stay far below
// PostgreSQL's limit of 65,535 parameters.
const recipientBatch = 1000

// ReplaceRecipients makes rs and dropped the draft's recipients and dropped
// rows, replacing what an earlier upload left, in one transaction.
func (ts *TenantStore) ReplaceRecipients(ctx context.Context, campaignID int64, rs []Recipient, dropped []DroppedRow) error {
	return ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		var state string
		err := tx.db.NewSelect().Model((*Campaign)(nil)).Column("state").ApplyQueryBuilder(tx.scope).
			Where("cp.id = ?", campaignID).For("UPDATE").Scan(ctx, &state)
		if err != nil {
			return fmt.Errorf("campaign %d: %w", campaignID, mapErr(err))
		}
		if state != CampaignDraft {
			return fmt.Errorf("replace recipients of campaign %d: %w", campaignID, ErrNotDraft)
		}
		for _, m := range []any{(*Recipient)(nil), (*DroppedRow)(nil)} {
			if _, err := tx.db.NewDelete().Model(m).Where("tenant_id = ? AND campaign_id = ?", tx.tenantID, campaignID).Exec(ctx); err != nil {
				return fmt.Errorf("clear recipients of campaign %d: %w", campaignID, err)
			}
		}
		if err := tx.insertRecipients(ctx, campaignID, rs); err != nil {
			return err
		}
		return tx.insertDropped(ctx, campaignID, dropped)
	})
}

func (ts *TenantStore) insertRecipients(ctx context.Context, campaignID int64, rs []Recipient) error {
	for start := 0; start < len(rs); start += recipientBatch {
		batch := rs[start:min(start+recipientBatch, len(rs))]
		for i := range batch {
			batch[i].ID, batch[i].TenantID, batch[i].CampaignID, batch[i].State = 0, ts.tenantID, campaignID, RecipientPending
			if batch[i].Vars == nil {
				batch[i].Vars = map[string]string{}
			}
		}
		if _, err := ts.db.NewInsert().Model(&batch).Exec(ctx); err != nil {
			return fmt.Errorf("store recipients of campaign %d: %w", campaignID, mapErr(err))
		}
	}
	return nil
}

func (ts *TenantStore) insertDropped(ctx context.Context, campaignID int64, ds []DroppedRow) error {
	for start := 0; start < len(ds); start += recipientBatch {
		batch := ds[start:min(start+recipientBatch, len(ds))]
		for i := range batch {
			batch[i].TenantID, batch[i].CampaignID = ts.tenantID, campaignID
		}
		if _, err := ts.db.NewInsert().Model(&batch).Exec(ctx); err != nil {
			return fmt.Errorf("store dropped rows of campaign %d: %w", campaignID, mapErr(err))
		}
	}
	return nil
}

// Recipients returns one page of a campaign's recipients in file order, and
// how many there are.
func (ts *TenantStore) Recipients(ctx context.Context, campaignID int64, page Page) ([]Recipient, int, error) {
	page = page.Normalize()
	var rs []Recipient
	n, err := ts.db.NewSelect().Model(&rs).ApplyQueryBuilder(ts.scope).Where("cr.campaign_id = ?", campaignID).
		Order("cr.row_number").Limit(int64(page.PerPage)).Offset(int64(page.offset())).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("recipients of campaign %d: %w", campaignID, err)
	}
	return rs, int(n), nil
}

// DroppedRows returns the rows a campaign's clean-up left out, in file
// order.
func (ts *TenantStore) DroppedRows(ctx context.Context, campaignID int64) ([]DroppedRow, error) {
	var ds []DroppedRow
	err := ts.db.NewSelect().Model(&ds).ApplyQueryBuilder(ts.scope).Where("cd.campaign_id = ?", campaignID).
		Order("cd.row_number").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("dropped rows of campaign %d: %w", campaignID, err)
	}
	return ds, nil
}

// Campaigns returns one page of the tenant's campaigns, newest first, and
// how many there are.
func (ts *TenantStore) Campaigns(ctx context.Context, page Page) ([]Campaign, int, error) {
	page = page.Normalize()
	var cs []Campaign
	n, err := ts.db.NewSelect().Model(&cs).ApplyQueryBuilder(ts.scope).OrderExpr("cp.created_at DESC, cp.id DESC").
		Limit(int64(page.PerPage)).Offset(int64(page.offset())).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("campaigns: %w", err)
	}
	return cs, int(n), nil
}

// OptedOutPhones returns the E.164 numbers of the tenant's contacts who
// opted out of messages, for the clean-up of a campaign's file.
func (ts *TenantStore) OptedOutPhones(ctx context.Context) (map[string]bool, error) {
	var phones []string
	err := ts.db.NewSelect().Model((*Contact)(nil)).Column("phone").ApplyQueryBuilder(ts.scope).
		Where("c.opted_out_at IS NOT NULL").Where("c.phone IS NOT NULL").Scan(ctx, &phones)
	if err != nil {
		return nil, fmt.Errorf("opted-out phones: %w", err)
	}
	out := make(map[string]bool, len(phones))
	for _, p := range phones {
		out[p] = true
	}
	return out, nil
}

// RecipientsFrom returns up to limit of a campaign's recipients from file
// row fromRow on, in file order: a walk over every recipient (a download)
// without the cost of ever-larger offsets.
func (ts *TenantStore) RecipientsFrom(ctx context.Context, campaignID int64, fromRow, limit int) ([]Recipient, error) {
	var rs []Recipient
	err := ts.db.NewSelect().Model(&rs).ApplyQueryBuilder(ts.scope).Where("cr.campaign_id = ?", campaignID).
		Where("cr.row_number >= ?", fromRow).Order("cr.row_number").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("recipients of campaign %d: %w", campaignID, err)
	}
	return rs, nil
}
