package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Contact kinds.
const (
	ContactDirect  = "direct"
	ContactGroup   = "group"
	ContactStatus  = "status"
	ContactChannel = "channel"
)

// Contact is a person or chat a tenant talks to. It belongs to its tenant. A
// person is known by phone number (E.164), by WhatsApp linked id (…@lid), or
// both; each is unique per tenant. When one event shows that a phone-number
// contact and a linked-id contact are the same person, they are merged, so
// nobody is lost or listed twice.
type Contact struct {
	bun.BaseModel `bun:"table:contacts,alias:c"`

	ID            int64      `bun:"id,pk,autoincrement"`
	TenantID      int64      `bun:"tenant_id,notnull"`
	Kind          string     `bun:"kind,notnull"`
	Phone         *string    `bun:"phone"`
	LID           *string    `bun:"lid"`
	ChatID        string     `bun:"chat_id,notnull"`
	Name          string     `bun:"name,notnull"`
	Tags          []string   `bun:"tags,array,notnull"`
	OptedOutAt    *time.Time `bun:"opted_out_at"`
	LastMessageAt *time.Time `bun:"last_message_at"`
	// AIMode says who answers: ModeAI, ModeHuman (until HumanUntil) or ModeOff.
	AIMode              string     `bun:"ai_mode,notnull,default:'ai'"`
	HumanUntil          *time.Time `bun:"human_until"`
	HandoffReason       string     `bun:"handoff_reason,notnull,default:''"`
	HandoffAt           *time.Time `bun:"handoff_at"`
	AfterHoursRepliedAt *time.Time `bun:"after_hours_replied_at"`
	CreatedAt           time.Time  `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt           time.Time  `bun:"updated_at,notnull,default:current_timestamp"`

	// Created is set by upserts that inserted the row.
	Created bool `bun:"created,scanonly"`
}

// DisplayName is the name to show: the saved name, else the number.
func (c *Contact) DisplayName() string {
	switch {
	case c.Name != "":
		return c.Name
	case c.Phone != nil:
		return *c.Phone
	}
	return c.ChatID
}

// ContactIdentity is what a message tells about who is on the other side.
type ContactIdentity struct {
	Kind string
	// Phone is E.164 (+15551234567) when known.
	Phone string
	// LID is the linked id (…@lid) when known.
	LID string
	// ChatID identifies group, status and channel chats.
	ChatID string
	// Name is the WhatsApp push name; it never overwrites a saved name.
	Name string
}

// directChatID is where to send to a person: the phone number when known.
func directChatID(phone, lid string) string {
	if phone != "" {
		return strings.TrimPrefix(phone, "+") + "@c.us"
	}
	return lid
}

// UpsertContact finds or creates the contact an identity belongs to, merging
// a phone contact and a linked-id contact when the identity links them. It
// reports whether a contact was created.
func (ts *TenantStore) UpsertContact(ctx context.Context, id ContactIdentity) (*Contact, bool, error) {
	if id.Kind == "" {
		id.Kind = ContactDirect
	}
	var (
		c       *Contact
		created bool
		err     error
	)
	// A concurrent insert of the same person can win the unique index
	// between our read and our write; the next attempt sees it.
	for attempt := 0; attempt < 3; attempt++ {
		c, created, err = ts.upsertContact(ctx, id)
		if !errors.Is(err, ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("upsert contact: %w", err)
	}
	return c, created, nil
}

func (ts *TenantStore) upsertContact(ctx context.Context, id ContactIdentity) (*Contact, bool, error) {
	switch {
	case id.Kind != ContactDirect:
		if id.ChatID == "" {
			return nil, false, errors.New("a chat id is required")
		}
		return ts.insertOrTouch(ctx, &Contact{Kind: id.Kind, ChatID: id.ChatID, Name: id.Name},
			"(tenant_id, chat_id) WHERE kind <> 'direct'")
	case id.Phone != "" && id.LID == "":
		return ts.insertOrTouch(ctx, &Contact{Kind: ContactDirect, Phone: &id.Phone, ChatID: directChatID(id.Phone, ""), Name: id.Name},
			"(tenant_id, phone) WHERE phone IS NOT NULL")
	case id.Phone == "" && id.LID != "":
		return ts.insertOrTouch(ctx, &Contact{Kind: ContactDirect, LID: &id.LID, ChatID: id.LID, Name: id.Name},
			"(tenant_id, lid) WHERE lid IS NOT NULL")
	case id.Phone != "" && id.LID != "":
		return ts.linkContact(ctx, id)
	}
	return nil, false, errors.New("a phone number or a linked id is required")
}

// insertOrTouch inserts c, or fills the name of the existing row that the
// conflict target finds.
func (ts *TenantStore) insertOrTouch(ctx context.Context, c *Contact, target string) (*Contact, bool, error) {
	c.TenantID = ts.tenantID
	if c.Tags == nil {
		c.Tags = []string{}
	}
	_, err := ts.db.NewInsert().Model(c).
		On("CONFLICT " + target + " DO UPDATE").
		Set("name = CASE WHEN c.name = '' THEN EXCLUDED.name ELSE c.name END").
		Returning("*, (xmax = 0) AS created").Exec(ctx)
	if err != nil {
		return nil, false, mapErr(err)
	}
	return c, c.Created, nil
}

// linkContact handles an identity with both a phone number and a linked id,
// under a per-tenant lock: it creates the contact, completes the one found,
// or merges the two found into the phone contact.
func (ts *TenantStore) linkContact(ctx context.Context, id ContactIdentity) (*Contact, bool, error) {
	var (
		out     *Contact
		created bool
	)
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		if _, err := tx.db.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?, ?)", contactLockSpace, int32(ts.tenantID)); err != nil {
			return err
		}
		var found []Contact
		err := tx.db.NewSelect().Model(&found).ApplyQueryBuilder(tx.scope).
			Where("c.kind = 'direct'").
			WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("c.phone = ?", id.Phone).WhereOr("c.lid = ?", id.LID)
			}).
			OrderExpr("c.phone IS NULL, c.id").For("UPDATE").Scan(ctx)
		if err != nil {
			return err
		}
		switch len(found) {
		case 0:
			out, created, err = tx.insertOrTouch(ctx, &Contact{Kind: ContactDirect, Phone: &id.Phone, LID: &id.LID,
				ChatID: directChatID(id.Phone, ""), Name: id.Name}, "(tenant_id, phone) WHERE phone IS NOT NULL")
			return err
		case 2:
			if err := tx.mergeContacts(ctx, &found[0], &found[1]); err != nil {
				return err
			}
		}
		keep := &found[0]
		_, err = tx.db.NewUpdate().Model(keep).ApplyQueryBuilder(tx.scope).
			Set("phone = ?", id.Phone).Set("lid = ?", id.LID).Set("chat_id = ?", directChatID(id.Phone, "")).
			Set("name = CASE WHEN c.name = '' THEN ? ELSE c.name END", id.Name).Set("updated_at = now()").
			Where("c.id = ?", keep.ID).Returning("*").Exec(ctx)
		out = keep
		return mapErr(err)
	})
	return out, created, err
}

// contactLockSpace is the first key of the per-tenant contact-linking lock.
const contactLockSpace = 0x636f6e74

// mergeContacts moves everything of drop onto keep and deletes drop.
func (ts *TenantStore) mergeContacts(ctx context.Context, keep, drop *Contact) error {
	if _, err := ts.db.NewUpdate().Model((*Message)(nil)).ApplyQueryBuilder(ts.scope).
		Set("contact_id = ?", keep.ID).Where("m.contact_id = ?", drop.ID).Exec(ctx); err != nil {
		return fmt.Errorf("merge contacts: move messages: %w", err)
	}
	if _, err := ts.db.NewUpdate().Model((*Media)(nil)).ApplyQueryBuilder(ts.scope).
		Set("contact_id = ?", keep.ID).Where("md.contact_id = ?", drop.ID).Exec(ctx); err != nil {
		return fmt.Errorf("merge contacts: move files: %w", err)
	}
	// Free drop's unique lid before keep takes it.
	if _, err := ts.db.NewDelete().Model((*Contact)(nil)).ApplyQueryBuilder(ts.scope).Where("c.id = ?", drop.ID).Exec(ctx); err != nil {
		return fmt.Errorf("merge contacts: delete: %w", err)
	}
	_, err := ts.db.NewUpdate().Model((*Contact)(nil)).ApplyQueryBuilder(ts.scope).
		Set("tags = ARRAY(SELECT DISTINCT unnest(c.tags || ?::text[]))", pgdialect.Array(drop.Tags)).
		Set("opted_out_at = LEAST(c.opted_out_at, ?)", drop.OptedOutAt).
		Set("last_message_at = GREATEST(c.last_message_at, ?)", drop.LastMessageAt).
		Set("name = CASE WHEN c.name = '' THEN ? ELSE c.name END", drop.Name).
		Set("created_at = LEAST(c.created_at, ?)", drop.CreatedAt).
		Where("c.id = ?", keep.ID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("merge contacts: %w", err)
	}
	return nil
}

// Contact returns one of the tenant's contacts.
func (ts *TenantStore) Contact(ctx context.Context, id int64) (*Contact, error) {
	c := new(Contact)
	if err := ts.db.NewSelect().Model(c).ApplyQueryBuilder(ts.scope).Where("c.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("contact %d: %w", id, mapErr(err))
	}
	return c, nil
}

// ContactByPhone returns the contact with the phone number.
func (ts *TenantStore) ContactByPhone(ctx context.Context, phone string) (*Contact, error) {
	c := new(Contact)
	if err := ts.db.NewSelect().Model(c).ApplyQueryBuilder(ts.scope).Where("c.phone = ?", phone).Scan(ctx); err != nil {
		return nil, fmt.Errorf("contact %s: %w", phone, mapErr(err))
	}
	return c, nil
}

// HasLIDOnlyContacts reports whether some contact is known only by linked id,
// which is when a new phone number may belong to an existing contact.
func (ts *TenantStore) HasLIDOnlyContacts(ctx context.Context) (bool, error) {
	return ts.db.NewSelect().Model((*Contact)(nil)).ApplyQueryBuilder(ts.scope).
		Where("c.kind = 'direct' AND c.phone IS NULL").Exists(ctx)
}

// ContactCount returns the number of the tenant's contacts.
func (ts *TenantStore) ContactCount(ctx context.Context) (int, error) {
	n, err := ts.db.NewSelect().Model((*Contact)(nil)).ApplyQueryBuilder(ts.scope).Count(ctx)
	return int(n), err
}

// ContactFilter narrows the contact list.
type ContactFilter struct {
	// Query matches the name or the number.
	Query string
	Tag   string
	// Mode is ModeAI, ModeHuman or ModeOff; empty is any.
	Mode string
	// OptedOut: "yes", "no" or empty for any.
	OptedOut string
	Page     Page
}

// Contacts returns one page of the tenant's contacts, the latest
// conversations first, and how many match.
func (ts *TenantStore) Contacts(ctx context.Context, f ContactFilter) ([]Conversation, int, error) {
	f.Page = f.Page.Normalize()
	var cs []Conversation
	q := withLastMessage(ts.db.NewSelect().Model(&cs)).ApplyQueryBuilder(ts.scope)
	if s := strings.TrimSpace(f.Query); s != "" {
		like := "%" + escapeLike(s) + "%"
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, s)
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			q = q.Where("unaccent(c.name) ILIKE unaccent(?)", like)
			if len(digits) >= 3 {
				q = q.WhereOr("c.phone LIKE ?", "%"+digits+"%")
			}
			// What the AI heard in a voice note or saw in a photo.
			return q.WhereOr(`EXISTS (SELECT 1 FROM messages AS tm WHERE tm.tenant_id = c.tenant_id AND tm.contact_id = c.id
				AND tm.transcript <> '' AND to_tsvector('simple', tm.transcript) @@ plainto_tsquery('simple', ?))`, s)
		})
	}
	if f.Tag != "" {
		q = q.Where("? = ANY(c.tags)", f.Tag)
	}
	if f.Mode != "" {
		q = q.Where("c.ai_mode = ?", f.Mode)
	}
	switch f.OptedOut {
	case "yes":
		q = q.Where("c.opted_out_at IS NOT NULL")
	case "no":
		q = q.Where("c.opted_out_at IS NULL")
	}
	n, err := q.OrderExpr("c.last_message_at DESC NULLS LAST, c.id DESC").
		Limit(int64(f.Page.PerPage)).Offset(int64(f.Page.offset())).ScanAndCount(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("contacts: %w", err)
	}
	return cs, int(n), nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// ContactTags lists the tags in use, for the filter.
func (ts *TenantStore) ContactTags(ctx context.Context) ([]string, error) {
	var tags []string
	err := ts.db.NewSelect().Model((*Contact)(nil)).ColumnExpr("DISTINCT unnest(c.tags) AS tag").
		ApplyQueryBuilder(ts.scope).OrderExpr("tag").Scan(ctx, &tags)
	if err != nil {
		return nil, fmt.Errorf("contact tags: %w", err)
	}
	return tags, nil
}

// SetContactTags replaces a contact's tags.
func (ts *TenantStore) SetContactTags(ctx context.Context, id int64, tags []string) error {
	if tags == nil {
		tags = []string{}
	}
	res, err := ts.db.NewUpdate().Model((*Contact)(nil)).ApplyQueryBuilder(ts.scope).
		Set("tags = ?", pgdialect.Array(tags)).Set("updated_at = now()").Where("c.id = ?", id).Exec(ctx)
	if err != nil {
		return fmt.Errorf("set tags: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("set tags of contact %d: %w", id, ErrNotFound)
	}
	return nil
}

// Handoffs lists the chats a person should answer, latest first.
func (ts *TenantStore) Handoffs(ctx context.Context, limit int) ([]Contact, error) {
	var cs []Contact
	err := ts.db.NewSelect().Model(&cs).ApplyQueryBuilder(ts.scope).Where("c.ai_mode = 'human'").
		OrderExpr("c.handoff_at DESC NULLS LAST, c.id DESC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("handoffs: %w", err)
	}
	return cs, nil
}

// ErrContactBusy is returned when deleting a contact with messages still
// being sent or answered: deleting them would lose what was paid for them.
var ErrContactBusy = errors.New("messages to this contact are still being sent")

// DeleteContact deletes a contact with its messages, AI replies and files
// (the database cascades). A contact with messages still pending or being
// sent, or an AI answer under way, is ErrContactBusy: their credits are
// settled when they end.
func (ts *TenantStore) DeleteContact(ctx context.Context, id int64) error {
	return ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		c := new(Contact)
		if err := tx.db.NewSelect().Model(c).Column("id").ApplyQueryBuilder(tx.scope).Where("c.id = ?", id).For("UPDATE").Scan(ctx); err != nil {
			return fmt.Errorf("delete contact %d: %w", id, mapErr(err))
		}
		busy, err := tx.db.NewSelect().Model((*Message)(nil)).ApplyQueryBuilder(tx.scope).
			Where("m.contact_id = ? AND m.direction = 'out' AND m.status IN ('pending', 'sending')", id).Exists(ctx)
		if err != nil {
			return err
		}
		replying, err := tx.db.NewSelect().Model((*AIReply)(nil)).ApplyQueryBuilder(tx.scope).
			Where("ar.contact_id = ? AND ar.status IN ('reserved', 'generated', 'sending')", id).Exists(ctx)
		if err != nil {
			return err
		}
		if busy || replying {
			return ErrContactBusy
		}
		_, err = tx.db.NewDelete().Model((*Contact)(nil)).ApplyQueryBuilder(tx.scope).Where("c.id = ?", id).Exec(ctx)
		return err
	})
}
