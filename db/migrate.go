package db

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/myaibud/aibud/db/migrations"
)

// migrateAdvisoryKey is the pg_advisory_lock key that serialises migrators
// (the text "aibud-migrate" hashed once; any constant works).
const migrateAdvisoryKey = 0x61696275642d6d

// Migrate applies every pending migration. Several processes may call it at
// once: a session-level advisory lock makes the others wait (bun's own lock
// only fails fast), and bun's lock table is held while migrations run, so
// tools that only honour bun's lock stay out too.
func Migrate(ctx context.Context, bdb *bun.DB, log *slog.Logger) error {
	ms := migrate.NewMigrations()
	if err := ms.Discover(migrations.Files); err != nil {
		return fmt.Errorf("discover migrations: %w", err)
	}
	m := migrate.NewMigrator(bdb, ms, migrate.WithMarkAppliedOnSuccess(true))

	conn, err := bdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", migrateAdvisoryKey); err != nil {
		return fmt.Errorf("migrate: advisory lock: %w", err)
	}
	defer func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(?)", migrateAdvisoryKey)
	}()

	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("migrate init: %w", err)
	}
	if err := m.Lock(ctx); err != nil {
		// We hold the advisory lock, so no other migrator is running: the row
		// was left by a process that died mid-migration.
		log.Warn("clearing a stale migration lock")
		if err := m.Unlock(ctx); err != nil {
			return fmt.Errorf("migrate unlock stale: %w", err)
		}
		if err := m.Lock(ctx); err != nil {
			return fmt.Errorf("migrate lock: %w", err)
		}
	}
	defer func() { _ = m.Unlock(context.WithoutCancel(ctx)) }()

	group, err := m.Migrate(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if group.IsZero() {
		log.Info("database schema is up to date")
		return nil
	}
	log.Info("migrated database", "group", group.ID, "migrations", group.Migrations.String())
	return nil
}
