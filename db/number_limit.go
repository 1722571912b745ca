package db

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun/dialect/pgdialect"
)

// NumberAge is what deciding which numbers a plan's limit pauses needs of
// a number.
type NumberAge struct {
	ID        int64
	CreatedAt time.Time
}

// NumbersToPause returns the ids of the numbers a limit of limit numbers
// pauses: the newest beyond the limit (the oldest limit numbers keep
// working), in the order given. A negative limit counts as zero.
func NumbersToPause(numbers []NumberAge, limit int) []int64 {
	ordered := slices.Clone(numbers)
	slices.SortStableFunc(ordered, func(a, b NumberAge) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareInt64(a.ID, b.ID)
	})
	limit = max(limit, 0)
	if len(ordered) <= limit {
		return nil
	}
	paused := map[int64]bool{}
	for _, n := range ordered[limit:] {
		paused[n.ID] = true
	}
	var out []int64
	for _, n := range numbers {
		if paused[n.ID] {
			out = append(out, n.ID)
		}
	}
	return out
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// NumberLimitChange is what applying the plan's limit changed.
type NumberLimitChange struct {
	Paused  int
	Resumed int
}

// Changed reports whether any number was paused or resumed.
func (c NumberLimitChange) Changed() bool { return c.Paused+c.Resumed > 0 }

// ApplyNumberLimit pauses the tenant's numbers beyond its plan's limit
// (NumbersToPause) and resumes those within it, in one transaction with
// the tenant row locked. It is called wherever the plan or the numbers
// change: a plan change (billing or the owner), a plan's limit edited, a
// number deleted.
func (ts *TenantStore) ApplyNumberLimit(ctx context.Context) (NumberLimitChange, error) {
	var ch NumberLimitChange
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		if _, err := tx.lockTenant(ctx); err != nil {
			return err
		}
		limit, err := tx.InstanceLimit(ctx)
		if err != nil {
			return err
		}
		var numbers []NumberAge
		err = tx.db.NewSelect().Model((*Instance)(nil)).Column("i.id", "i.created_at").ApplyQueryBuilder(tx.scope).Scan(ctx, &numbers)
		if err != nil {
			return mapErr(err)
		}
		pause := NumbersToPause(numbers, limit)
		if pause == nil {
			pause = []int64{}
		}
		ch, err = tx.setPaused(ctx, pause)
		return err
	})
	if err != nil {
		return ch, fmt.Errorf("apply number limit: %w", err)
	}
	return ch, nil
}

// setPaused pauses exactly the numbers pause (keeping the time of those
// paused already) and resumes the others.
func (ts *TenantStore) setPaused(ctx context.Context, pause []int64) (NumberLimitChange, error) {
	var ch NumberLimitChange
	res, err := ts.db.NewUpdate().Model((*Instance)(nil)).ApplyQueryBuilder(ts.scope).
		Set("paused_at = now()").Set("updated_at = now()").
		Where("i.paused_at IS NULL AND i.id = ANY(?)", pgdialect.Array(pause)).Exec(ctx)
	if err != nil {
		return ch, mapErr(err)
	}
	n, _ := res.RowsAffected()
	ch.Paused = int(n)
	res, err = ts.db.NewUpdate().Model((*Instance)(nil)).ApplyQueryBuilder(ts.scope).
		Set("paused_at = NULL").Set("updated_at = now()").
		Where("i.paused_at IS NOT NULL AND NOT (i.id = ANY(?))", pgdialect.Array(pause)).Exec(ctx)
	if err != nil {
		return ch, mapErr(err)
	}
	n, _ = res.RowsAffected()
	ch.Resumed = int(n)
	return ch, nil
}
