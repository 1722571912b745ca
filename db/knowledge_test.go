package db_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// entryOf is an entry of size characters, title and text together.
func entryOf(size int) *db.KnowledgeEntry {
	return &db.KnowledgeEntry{Title: "T", Body: strings.Repeat("b", size-1)}
}

func limitOf(err error) *db.KnowledgeLimitError {
	var le *db.KnowledgeLimitError
	if errors.As(err, &le) {
		return le
	}
	return nil
}

func TestKnowledgeCaps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	// 98,000 characters in 10 entries.
	var first *db.KnowledgeEntry
	for i := range 10 {
		k := entryOf(9_800)
		if err := ts.SaveKnowledgeEntry(ctx, k); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = k
		}
	}
	tests := []struct {
		name string
		k    *db.KnowledgeEntry
		want *db.KnowledgeLimitError
	}{
		{"title too long", &db.KnowledgeEntry{Title: strings.Repeat("t", 201), Body: "b"},
			&db.KnowledgeLimitError{Cap: db.KnowledgeCapTitle, Limit: 200, Used: 201}},
		{"text too long, counted in characters", &db.KnowledgeEntry{Title: "t", Body: strings.Repeat("é", 10_001)},
			&db.KnowledgeLimitError{Cap: db.KnowledgeCapBody, Limit: 10_000, Used: 10_001}},
		{"over the total", entryOf(2_001),
			&db.KnowledgeLimitError{Cap: db.KnowledgeCapTotal, Limit: 100_000, Used: 98_000, Size: 2_001}},
		{"an edit that still fits", &db.KnowledgeEntry{ID: first.ID, Title: "T", Body: strings.Repeat("b", 9_999) + "?"},
			nil},
		{"an edit over the text cap", &db.KnowledgeEntry{ID: first.ID, Title: "T", Body: strings.Repeat("b", 9_999) + strings.Repeat("!", 2_000)},
			&db.KnowledgeLimitError{Cap: db.KnowledgeCapBody, Limit: 10_000, Used: 11_999}},
		{"exactly the total", entryOf(1_799), nil},
		{"two more characters", entryOf(2),
			&db.KnowledgeLimitError{Cap: db.KnowledgeCapTotal, Limit: 100_000, Used: 100_000, Size: 2}},
	}
	for _, tt := range tests {
		err := ts.SaveKnowledgeEntry(ctx, tt.k)
		got := limitOf(err)
		switch {
		case tt.want == nil && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != nil && (got == nil || *got != *tt.want):
			t.Errorf("%s: err = %v, want %+v", tt.name, err, tt.want)
		case tt.want != nil && !errors.Is(err, db.ErrKnowledgeLimit):
			t.Errorf("%s: %v is not ErrKnowledgeLimit", tt.name, err)
		}
	}
	if u, _ := ts.KnowledgeUsage(ctx); u.Entries != 11 || u.Chars != 100_000 {
		t.Errorf("usage = %+v", u)
	}
}

// TestKnowledgeOverTheCapsShrinks: knowledge saved before the caps may be
// over the total; its entries can still be made smaller or deleted, never
// larger.
func TestKnowledgeOverTheCapsShrinks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	if _, err := dbtest.DB(t).NewRaw(`INSERT INTO knowledge_entries (tenant_id, title, body)
		SELECT ?, 'Old ' || n, repeat('x', 9000) FROM generate_series(1, 20) AS n`, tenant.ID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	ks, _ := ts.Knowledge(ctx)
	k := ks[0]
	k.Body = strings.Repeat("x", 8000)
	if err := ts.SaveKnowledgeEntry(ctx, &k); err != nil {
		t.Errorf("shrinking an entry: %v", err)
	}
	k.Body = strings.Repeat("x", 8001)
	if le := limitOf(ts.SaveKnowledgeEntry(ctx, &k)); le == nil || le.Cap != db.KnowledgeCapTotal {
		t.Errorf("growing an entry over the total: %+v", le)
	}
}

// TestKnowledgeCapsHoldUnderConcurrentWrites: with room for one more entry
// (by size, then by count), ten writes at once add exactly one.
func TestKnowledgeCapsHoldUnderConcurrentWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	for _, tt := range []struct {
		name    string
		fill    func(ts *db.TenantStore) error
		add     int
		wantCap string
	}{
		{"total", func(ts *db.TenantStore) error {
			for range 10 {
				if err := ts.SaveKnowledgeEntry(ctx, entryOf(9_800)); err != nil {
					return err
				}
			}
			return nil
		}, 1_500, db.KnowledgeCapTotal},
		{"entries", func(ts *db.TenantStore) error {
			for range db.MaxKnowledgeEntries - 1 {
				if err := ts.SaveKnowledgeEntry(ctx, entryOf(10)); err != nil {
					return err
				}
			}
			return nil
		}, 10, db.KnowledgeCapEntries},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tenant, _ := dbtest.NewTenant(t, s)
			ts := s.Tenant(tenant.ID)
			if err := tt.fill(ts); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make([]error, 10)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = ts.SaveKnowledgeEntry(ctx, entryOf(tt.add))
				}()
			}
			wg.Wait()
			added := 0
			for _, err := range errs {
				if err == nil {
					added++
				} else if le := limitOf(err); le == nil || le.Cap != tt.wantCap {
					t.Errorf("err = %v, want the %s cap", err, tt.wantCap)
				}
			}
			if added != 1 {
				t.Errorf("%d of 10 concurrent writes added an entry, want 1", added)
			}
		})
	}
}
