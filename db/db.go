// Package db holds the bun models, queries and migrations of aibud.
//
// Tenant-owned data is reachable only through a *TenantStore, which Store.Tenant
// builds for one tenant. Every select, update and delete it runs goes through
// one scope function, and every insert sets TenantID from the scope, so a
// handler or job cannot forget the tenant. Queries that cross tenants live on
// *Store and say so in their names.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/driver/pgdriver"
)

// ErrNotFound is returned when a row does not exist or belongs to another
// tenant. It wraps sql.ErrNoRows.
var ErrNotFound = fmt.Errorf("not found: %w", sql.ErrNoRows)

// ErrConflict is returned when a write violates a unique constraint.
var ErrConflict = errors.New("conflict")

// ErrInsufficientCredits is returned when a charge exceeds the balance.
var ErrInsufficientCredits = errors.New("not enough credits")

// Open connects to PostgreSQL and checks the connection.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*bun.DB, error) {
	connector := pgdriver.NewConnector(pgdriver.WithDSN(dsn), pgdriver.WithTimeout(10*time.Second))
	sqldb := sql.OpenDB(connector)
	sqldb.SetMaxOpenConns(40)
	sqldb.SetMaxIdleConns(40)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	bdb := bun.NewDB(sqldb, pgdialect.New())
	if log != nil {
		bdb.WithQueryHook(slowQueryHook{log: log, threshold: 500 * time.Millisecond})
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := bdb.PingContext(pingCtx); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return bdb, nil
}

// slowQueryHook logs queries slower than threshold, without their arguments.
type slowQueryHook struct {
	log       *slog.Logger
	threshold time.Duration
}

func (h slowQueryHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (h slowQueryHook) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	if d := time.Since(e.StartTime); d > h.threshold {
		h.log.WarnContext(ctx, "slow query", "operation", e.Operation(), "duration_ms", d.Milliseconds())
	}
}

// Store is the entry point to the database.
type Store struct {
	db    *bun.DB
	inbox *webhookInbox
	// blobs keeps files' bytes; nil keeps them in their rows.
	blobs Blobs
}

// NewStore returns a Store over db.
func NewStore(db *bun.DB, opts ...StoreOption) *Store {
	s := &Store{db: db}
	for _, o := range opts {
		o(s)
	}
	s.inbox = newWebhookInbox(s)
	return s
}

// DB returns the underlying bun database, for health checks and sessions.
func (s *Store) DB() *bun.DB { return s.db }

// Tenant returns the store scoped to one tenant.
func (s *Store) Tenant(id int64) *TenantStore {
	return &TenantStore{db: s.db, tenantID: id, blobs: s.blobs}
}

// RunInTx runs fn in one transaction on a Store bound to it.
func (s *Store) RunInTx(ctx context.Context, fn func(ctx context.Context, tx *TxStore) error) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return fn(ctx, &TxStore{tx: tx, blobs: s.blobs})
	})
}

// TxStore is a Store bound to a transaction, for writes that span tenants'
// creation (sign-up) and must commit together.
type TxStore struct {
	tx    bun.Tx
	blobs Blobs
}

// Tenant returns the tenant scope inside the transaction.
func (s *TxStore) Tenant(id int64) *TenantStore {
	return &TenantStore{db: s.tx, tenantID: id, blobs: s.blobs}
}

// TenantStore reads and writes the data of one tenant. Its zero value is not
// usable: build it with Store.Tenant.
type TenantStore struct {
	db       bun.IDB
	tenantID int64
	blobs    Blobs
}

// TenantID returns the id of the tenant this store is scoped to.
func (ts *TenantStore) TenantID() int64 { return ts.tenantID }

// scope restricts a select, update or delete to the tenant. It is the one
// place tenant scoping happens; every TenantStore query applies it.
func (ts *TenantStore) scope(q bun.QueryBuilder) bun.QueryBuilder {
	return q.Where("?TableAlias.tenant_id = ?", ts.tenantID)
}

// RunInTx runs fn in one transaction with a TenantStore bound to it. When the
// store is already in a transaction, fn joins it: an error from fn then
// fails the whole transaction (every caller returns it), and no savepoint
// round trips are spent inside the tenant's ledger lock.
func (ts *TenantStore) RunInTx(ctx context.Context, fn func(ctx context.Context, tx *TenantStore) error) error {
	if _, inTx := ts.db.(bun.Tx); inTx {
		return fn(ctx, ts)
	}
	return ts.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		return fn(ctx, &TenantStore{db: tx, tenantID: ts.tenantID, blobs: ts.blobs})
	})
}

// mapErr turns driver errors into the package's errors.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr pgdriver.Error
	if errors.As(err, &pgErr) {
		switch pgErr.Field('C') {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %s", ErrConflict, pgErr.Field('n'))
		case "23514": // check_violation
			if pgErr.Field('n') == "tenants_credit_balance_check" {
				return ErrInsufficientCredits
			}
		}
	}
	return err
}
