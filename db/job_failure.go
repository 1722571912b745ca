package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// JobFailure is background work given up on: a task that failed for good.
// It is kept for the platform owner's console; TenantID is nil for work of
// no tenant.
type JobFailure struct {
	bun.BaseModel `bun:"table:job_failures,alias:jf"`

	ID        int64     `bun:"id,pk,autoincrement"`
	TaskType  string    `bun:"task_type,notnull"`
	TaskID    string    `bun:"task_id,notnull"`
	TenantID  *int64    `bun:"tenant_id"`
	Error     string    `bun:"error,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull,default:current_timestamp"`
}

// RecordJobFailure stores a give-up. The error is trimmed to 2,000
// characters of valid text.
func (s *Store) RecordJobFailure(ctx context.Context, f *JobFailure) error {
	f.Error = strings.ToValidUTF8(strings.ReplaceAll(f.Error, "\x00", ""), "?")
	if r := []rune(f.Error); len(r) > 2000 {
		f.Error = string(r[:2000])
	}
	if f.TenantID != nil && *f.TenantID == 0 {
		f.TenantID = nil
	}
	if _, err := s.db.NewInsert().Model(f).Exec(ctx); err != nil {
		return fmt.Errorf("record job failure: %w", mapErr(err))
	}
	return nil
}

// JobFailuresAllTenants lists the latest give-ups of every tenant.
func (s *Store) JobFailuresAllTenants(ctx context.Context, limit int) ([]JobFailure, error) {
	var fs []JobFailure
	if err := s.db.NewSelect().Model(&fs).Order("jf.id DESC").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("job failures: %w", err)
	}
	return fs, nil
}
