package db

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Caps on a tenant's business knowledge. The whole of it goes into every AI
// request, so its size is the cost of every answer; these keep a full
// knowledge base well inside the model's input budget. Sizes are in
// characters, a title and its text together.
const (
	MaxKnowledgeEntries = 100
	MaxKnowledgeTitle   = 200
	MaxKnowledgeBody    = 10_000
	MaxKnowledgeTotal   = 100_000
)

// Which cap a knowledge write hit.
const (
	KnowledgeCapEntries = "entries"
	KnowledgeCapTitle   = "title"
	KnowledgeCapBody    = "body"
	KnowledgeCapTotal   = "total"
)

// ErrKnowledgeLimit is wrapped by every *KnowledgeLimitError.
var ErrKnowledgeLimit = errors.New("knowledge limit")

// KnowledgeLimitError says which cap a knowledge write would break: the
// limit, what is used (entries, or characters of all entries as stored, or
// of the field), and the size of the entry written.
type KnowledgeLimitError struct {
	Cap   string
	Limit int
	Used  int
	Size  int
}

func (e *KnowledgeLimitError) Error() string {
	return fmt.Sprintf("knowledge %s: %d used, %d more, limit %d", e.Cap, e.Used, e.Size, e.Limit)
}

func (e *KnowledgeLimitError) Unwrap() error { return ErrKnowledgeLimit }

// KnowledgeUsage is how much of the caps a tenant's knowledge uses.
type KnowledgeUsage struct {
	Entries int `bun:"entries"`
	Chars   int `bun:"chars"`
}

// KnowledgeUsage counts the tenant's entries and their characters.
func (ts *TenantStore) KnowledgeUsage(ctx context.Context) (KnowledgeUsage, error) {
	var u KnowledgeUsage
	err := ts.db.NewSelect().Model((*KnowledgeEntry)(nil)).ApplyQueryBuilder(ts.scope).
		ColumnExpr("count(*) AS entries, coalesce(sum(length(k.title) + length(k.body)), 0) AS chars").Scan(ctx, &u)
	if err != nil {
		return u, fmt.Errorf("knowledge usage: %w", err)
	}
	return u, nil
}

// entryChars is the size of an entry as the caps count it (PostgreSQL's
// length counts characters too).
func entryChars(k *KnowledgeEntry) int {
	return utf8.RuneCountInString(k.Title) + utf8.RuneCountInString(k.Body)
}

// checkEntrySize applies the caps of one entry.
func checkEntrySize(k *KnowledgeEntry) error {
	if n := utf8.RuneCountInString(k.Title); n > MaxKnowledgeTitle {
		return &KnowledgeLimitError{Cap: KnowledgeCapTitle, Limit: MaxKnowledgeTitle, Used: n}
	}
	if n := utf8.RuneCountInString(k.Body); n > MaxKnowledgeBody {
		return &KnowledgeLimitError{Cap: KnowledgeCapBody, Limit: MaxKnowledgeBody, Used: n}
	}
	return nil
}

// checkKnowledgeRoom applies the tenant-wide caps to writing k, with the
// tenant's knowledge locked: a new entry needs a free entry and room for
// its characters; a changed one needs room only for what it grows, so an
// entry of a tenant over the total (saved before the caps) can still shrink.
func (ts *TenantStore) checkKnowledgeRoom(ctx context.Context, k *KnowledgeEntry) error {
	u, err := ts.KnowledgeUsage(ctx)
	if err != nil {
		return err
	}
	size, before := entryChars(k), 0
	if k.ID == 0 && u.Entries >= MaxKnowledgeEntries {
		return &KnowledgeLimitError{Cap: KnowledgeCapEntries, Limit: MaxKnowledgeEntries, Used: u.Entries, Size: 1}
	}
	if k.ID != 0 {
		old, err := ts.KnowledgeEntry(ctx, k.ID)
		if err != nil {
			return err
		}
		before = entryChars(old)
	}
	if size > before && u.Chars-before+size > MaxKnowledgeTotal {
		return &KnowledgeLimitError{Cap: KnowledgeCapTotal, Limit: MaxKnowledgeTotal, Used: u.Chars, Size: size - before}
	}
	return nil
}

// lockKnowledge makes the tenant's knowledge writes wait for each other
// until the transaction ends, so two of them cannot both pass the caps. It
// locks the tenant row FOR NO KEY UPDATE, which does not hold up the
// foreign-key checks of rows that reference the tenant.
func (ts *TenantStore) lockKnowledge(ctx context.Context) error {
	_, err := ts.db.NewSelect().Model((*Tenant)(nil)).Column("id").Where("t.id = ?", ts.tenantID).For("NO KEY UPDATE").Exec(ctx)
	if err != nil {
		return fmt.Errorf("lock knowledge: %w", mapErr(err))
	}
	return nil
}
