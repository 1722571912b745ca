package db_test

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// TestMigrateEmptyDatabase runs every migration on a new, empty database from
// three migrators at once, then again (a no-op), and checks the schema.
func TestMigrateEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	admin := dbtest.DB(t)
	name := fmt.Sprintf("aibud_migrate_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, _ := url.Parse(dbtest.DatabaseURL(t))
	u.Path = "/" + name

	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bdb, err := db.Open(ctx, u.String(), nil)
			if err != nil {
				errs[i] = err
				return
			}
			defer bdb.Close()
			errs[i] = db.Migrate(ctx, bdb, dbtest.Logger(t))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migrator %d: %v", i, err)
		}
	}

	bdb, err := db.Open(ctx, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	if err := db.Migrate(ctx, bdb, dbtest.Logger(t)); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	for _, table := range []string{"tenants", "users", "sessions", "credit_ledger", "bun_migrations"} {
		var n int
		if err := bdb.QueryRowContext(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: count %d, err %v", table, n, err)
		}
	}
	var locks int
	if err := bdb.QueryRowContext(ctx, "SELECT count(*) FROM bun_migration_locks").Scan(&locks); err != nil || locks != 0 {
		t.Errorf("migration lock left behind: %d rows, err %v", locks, err)
	}
	var applied int
	if err := bdb.QueryRowContext(ctx, "SELECT count(*) FROM bun_migrations").Scan(&applied); err != nil || applied == 0 {
		t.Errorf("applied migrations: %d, err %v", applied, err)
	}
}
