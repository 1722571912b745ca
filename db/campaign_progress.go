package db

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Recipient statuses as the campaign page shows them: the recipient's own
// state until its message is in the outbox, then the message's.
const (
	StatusPending   = "pending"
	StatusSending   = "sending"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
)

// recipientStatus is the SQL of a recipient's status (StatusPending…),
// over cr and its message m (LEFT JOIN).
const recipientStatus = `CASE
	WHEN cr.state = 'pending' THEN 'pending'
	WHEN cr.state = 'skipped' THEN 'skipped'
	WHEN cr.state = 'failed' OR m.status = 'failed' THEN 'failed'
	WHEN m.status IN ('delivered') THEN 'delivered'
	WHEN m.status IN ('read', 'played') THEN 'read'
	WHEN m.status = 'sent' THEN 'sent'
	ELSE 'sending' END`

// replied is the SQL of whether a recipient wrote back after its message:
// an incoming message stored after it (the gateway's timestamps have whole
// seconds, so a quick reply can carry an earlier time than our message).
const replied = `EXISTS (SELECT 1 FROM messages AS rm
	WHERE rm.tenant_id = cr.tenant_id AND rm.contact_id = cr.contact_id
	  AND rm.direction = 'in' AND rm.id > m.id)`

// withMessage joins a recipient query to its message.
func withMessage(q *bun.SelectQuery) *bun.SelectQuery {
	return q.Join("LEFT JOIN messages AS m ON m.tenant_id = cr.tenant_id AND m.id = cr.message_id")
}

// CampaignCounts is where a campaign's recipients are. Pending, Queued and
// Skipped are the recipients' own states; Sending, Sent, Delivered, Read
// and Failed follow their messages (Sent counts every message that went
// out, delivered and read ones among them).
type CampaignCounts struct {
	Recipients int `bun:"recipients"`
	Pending    int `bun:"pending"`
	Queued     int `bun:"queued"`
	Sending    int `bun:"sending"`
	Sent       int `bun:"sent"`
	Delivered  int `bun:"delivered"`
	Read       int `bun:"read"`
	Failed     int `bun:"failed"`
	Skipped    int `bun:"skipped"`
	Replied    int `bun:"replied"`
	Voted      int `bun:"voted"`
	Dropped    int `bun:"dropped"`
}

// Done is how many recipients are finished with: sent, failed or skipped.
func (c CampaignCounts) Done() int { return c.Sent + c.Failed + c.Skipped }

// CampaignCounts counts a campaign's recipients by state, and its dropped
// rows.
func (ts *TenantStore) CampaignCounts(ctx context.Context, campaignID int64) (CampaignCounts, error) {
	var c CampaignCounts
	q := ts.db.NewSelect().Model((*Recipient)(nil)).ApplyQueryBuilder(ts.scope).Where("cr.campaign_id = ?", campaignID).
		ColumnExpr("count(*) AS recipients").
		ColumnExpr("count(*) FILTER (WHERE cr.state = 'pending') AS pending").
		ColumnExpr("count(*) FILTER (WHERE cr.state = 'queued') AS queued").
		ColumnExpr("count(*) FILTER (WHERE cr.state = 'queued' AND m.status IN ('pending', 'sending')) AS sending").
		ColumnExpr("count(*) FILTER (WHERE cr.state = 'queued' AND m.status IN ('sent', 'delivered', 'read', 'played')) AS sent").
		ColumnExpr("count(*) FILTER (WHERE cr.state = 'queued' AND m.status IN ('delivered', 'read', 'played')) AS delivered").
		ColumnExpr("count(*) FILTER (WHERE cr.state = 'queued' AND m.status IN ('read', 'played')) AS read").
		ColumnExpr("count(*) FILTER (WHERE cr.state = 'failed' OR (cr.state = 'queued' AND m.status = 'failed')) AS failed").
		ColumnExpr("count(*) FILTER (WHERE cr.state = 'skipped') AS skipped").
		ColumnExpr("count(*) FILTER (WHERE cr.state = 'queued' AND "+replied+") AS replied").
		ColumnExpr("count(*) FILTER (WHERE cardinality(cr.vote) > 0) AS voted").
		ColumnExpr("(SELECT count(*) FROM campaign_dropped AS cd WHERE cd.tenant_id = ? AND cd.campaign_id = ?) AS dropped",
			ts.tenantID, campaignID)
	if err := withMessage(q).Scan(ctx, &c); err != nil {
		return c, fmt.Errorf("counts of campaign %d: %w", campaignID, err)
	}
	return c, nil
}

// RecipientRow is a recipient with its status as the campaign page shows
// it: Reason says why it failed or was skipped.
type RecipientRow struct {
	Recipient `bun:",extend"`

	Status  string `bun:"status"`
	Error   string `bun:"error"`
	Replied bool   `bun:"replied"`
}

// Why is the reason a failed or skipped recipient shows.
func (r RecipientRow) Why() string {
	if r.Reason != "" {
		return r.Reason
	}
	return r.Error
}

// RecipientFilter picks the recipients of the campaign page's table.
type RecipientFilter struct {
	// Status is a Status… value, or "" for all, or "replied".
	Status string
	// FromRow walks every recipient in file order (a download) when Page is
	// unset.
	FromRow int
}

// CampaignRecipients returns one page of a campaign's recipients with
// their status, in file order, and how many the filter matches.
func (ts *TenantStore) CampaignRecipients(ctx context.Context, campaignID int64, f RecipientFilter, page Page) ([]RecipientRow, int, error) {
	page = page.Normalize()
	var rs []RecipientRow
	q := ts.recipientRows(campaignID, f).Limit(int64(page.PerPage)).Offset(int64(page.offset()))
	n, err := q.ScanAndCount(ctx, &rs)
	if err != nil {
		return nil, 0, fmt.Errorf("recipients of campaign %d: %w", campaignID, err)
	}
	return rs, int(n), nil
}

// CampaignRecipientsFrom returns up to limit of a campaign's recipients
// with their status from file row f.FromRow on: a walk over every one (the
// results download) without ever-larger offsets.
func (ts *TenantStore) CampaignRecipientsFrom(ctx context.Context, campaignID int64, f RecipientFilter, limit int) ([]RecipientRow, error) {
	var rs []RecipientRow
	err := ts.recipientRows(campaignID, f).Where("cr.row_number >= ?", f.FromRow).Limit(int64(limit)).Scan(ctx, &rs)
	if err != nil {
		return nil, fmt.Errorf("recipients of campaign %d: %w", campaignID, err)
	}
	return rs, nil
}

func (ts *TenantStore) recipientRows(campaignID int64, f RecipientFilter) *bun.SelectQuery {
	q := ts.db.NewSelect().Model((*Recipient)(nil)).ApplyQueryBuilder(ts.scope).ColumnExpr("cr.*").
		ColumnExpr(recipientStatus+" AS status").ColumnExpr("coalesce(m.error, '') AS error").
		ColumnExpr("coalesce(cr.state = 'queued' AND "+replied+", false) AS replied").
		Where("cr.campaign_id = ?", campaignID).Order("cr.row_number")
	q = withMessage(q)
	switch f.Status {
	case "":
	case "replied":
		q = q.Where("cr.state = 'queued' AND " + replied)
	case StatusSent:
		q = q.Where("cr.state = 'queued' AND m.status IN ('sent', 'delivered', 'read', 'played')")
	default:
		q = q.Where(recipientStatus+" = ?", f.Status)
	}
	return q
}

// tagBatch is how many recipients one round of TagCampaignContacts makes
// contacts: each statement stays well within the driver's timeout.
const tagBatch = 5000

// TagCampaignContacts makes every recipient of a campaign a contact (or
// finds the one with its number), fills in a missing name, adds tag to its
// tags (up to 20), and links the recipient to it: a 100,000-row list takes
// seconds. Batches go in phone order, so that two lists sharing numbers
// lock their contacts in the same order; recipients are linked by primary
// key, so the plan does not depend on the statistics of a list just
// stored.
func (ts *TenantStore) TagCampaignContacts(ctx context.Context, campaignID int64, tag string) error {
	tags := []string{}
	if tag != "" {
		tags = []string{tag}
	}
	for {
		var batch []Recipient
		err := ts.db.NewSelect().Model(&batch).Column("id", "phone", "name").ApplyQueryBuilder(ts.scope).
			Where("cr.campaign_id = ? AND cr.contact_id IS NULL", campaignID).Order("cr.phone").Limit(tagBatch).Scan(ctx)
		if err != nil {
			return fmt.Errorf("contacts of campaign %d: %w", campaignID, err)
		}
		if len(batch) == 0 {
			return nil
		}
		if err := ts.tagBatch(ctx, batch, tags); err != nil {
			return fmt.Errorf("contacts of campaign %d: %w", campaignID, err)
		}
	}
}

// tagBatch upserts the contacts of a batch of recipients (in phone order)
// and links each recipient to its contact.
func (ts *TenantStore) tagBatch(ctx context.Context, batch []Recipient, tags []string) error {
	phones, names, ids := make([]string, len(batch)), make([]string, len(batch)), make([]int64, len(batch))
	for i, r := range batch {
		phones[i], names[i], ids[i] = r.Phone, r.Name, r.ID
	}
	var got []struct {
		ID    int64  `bun:"id"`
		Phone string `bun:"phone"`
	}
	err := ts.db.NewRaw(`INSERT INTO contacts AS c (tenant_id, kind, phone, chat_id, name, tags)
		SELECT ?, 'direct', v.phone, substr(v.phone, 2) || '@c.us', v.name, ?::text[]
		FROM unnest(?::text[], ?::text[]) WITH ORDINALITY AS v(phone, name, n) ORDER BY v.n
		ON CONFLICT (tenant_id, phone) WHERE phone IS NOT NULL DO UPDATE SET
			name = CASE WHEN c.name = '' THEN EXCLUDED.name ELSE c.name END,
			tags = CASE WHEN cardinality(c.tags) >= 20 OR EXCLUDED.tags <@ c.tags THEN c.tags ELSE c.tags || EXCLUDED.tags END,
			updated_at = now()
		RETURNING c.id, c.phone`, ts.tenantID, pgdialect.Array(tags), pgdialect.Array(phones), pgdialect.Array(names)).Scan(ctx, &got)
	if err != nil {
		return mapErr(err)
	}
	contactOf := make(map[string]int64, len(got))
	for _, g := range got {
		contactOf[g.Phone] = g.ID
	}
	contacts, tenants := make([]int64, len(batch)), make([]int64, len(batch))
	for i, r := range batch {
		contacts[i], tenants[i] = contactOf[r.Phone], ts.tenantID
	}
	// The tenant comes per row: against a constant, the planner would trust
	// the statistics, which know nothing yet of a list just stored, and
	// could scan the table once per row.
	_, err = ts.db.NewRaw(`UPDATE campaign_recipients AS cr SET contact_id = v.contact
		FROM unnest(?::bigint[], ?::bigint[], ?::bigint[]) AS v(id, contact, tenant)
		WHERE cr.id = v.id AND cr.tenant_id = v.tenant`, pgdialect.Array(ids), pgdialect.Array(contacts), pgdialect.Array(tenants)).Exec(ctx)
	return err
}

// ActiveCampaigns returns the tenant's campaigns that are sending,
// scheduled or paused, oldest first, for the dashboard.
func (ts *TenantStore) ActiveCampaigns(ctx context.Context, limit int) ([]Campaign, error) {
	var cs []Campaign
	err := ts.db.NewSelect().Model(&cs).ApplyQueryBuilder(ts.scope).
		Where("cp.state IN (?)", bun.In([]string{CampaignSending, CampaignScheduled, CampaignPaused})).
		OrderExpr("cp.created_at, cp.id").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("active campaigns: %w", err)
	}
	return cs, nil
}
