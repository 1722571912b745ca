// Package dbtest gives tests a real PostgreSQL database and a real Redis
// database of their own.
//
// Each test package calls Main from its TestMain. Main clones a migrated
// template database (built once per set of migrations, under an advisory
// lock) into a database for the package and claims a free Redis DB index,
// flushed before use. Tests create their own tenants with NewTenant, so they
// can run in parallel and nothing needs truncating.
//
// Main reads TEST_DATABASE_URL (a URL to any database on the server; new
// databases are created beside it) and TEST_REDIS_URL; `make test` sets both.
// Without them tests skip, or fail when CI is set.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/uptrace/bun"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/migrations"
)

// env is what Main prepared for the package.
type env struct {
	skipReason string
	dbURL      string
	bdb        *bun.DB
	redisURL   string
	redisOpt   *redis.Options
	namespace  string
	// blobs keeps files' bytes apart (WithDiskMedia); nil keeps them in
	// their rows.
	blobs db.Blobs
}

// state is set once by Main before any test runs and only read afterwards.
var state env

var seq atomic.Int64

// Option configures the package's test environment.
type Option func(*options)

type options struct{ diskMedia bool }

// WithDiskMedia makes the package's stores keep files' bytes on disk (in a
// temporary directory, as MEDIA_STORAGE=disk does) instead of in their rows.
func WithDiskMedia() Option { return func(o *options) { o.diskMedia = true } }

// Main prepares the package's database and Redis, runs the tests and exits.
func Main(m *testing.M, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	code, err := run(m, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dbtest:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M, o options) (int, error) {
	baseDB, baseRedis := os.Getenv("TEST_DATABASE_URL"), os.Getenv("TEST_REDIS_URL")
	if baseDB == "" || baseRedis == "" {
		state.skipReason = "TEST_DATABASE_URL and TEST_REDIS_URL are not set: run the tests with `make test`"
		return m.Run(), nil
	}
	ctx := context.Background()
	dbURL, dropDB, err := cloneDatabase(ctx, baseDB)
	if err != nil {
		return 0, err
	}
	defer dropDB()
	bdb, err := db.Open(ctx, dbURL, nil)
	if err != nil {
		return 0, err
	}
	defer bdb.Close()

	redisURL, release, err := claimRedisDB(ctx, baseRedis)
	if err != nil {
		return 0, err
	}
	defer release()
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return 0, err
	}
	state = env{dbURL: dbURL, bdb: bdb, redisURL: redisURL, redisOpt: opt, namespace: "test" + randomHex(4)}
	if o.diskMedia {
		dir, err := os.MkdirTemp("", "aibud-media-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		if state.blobs, err = db.NewDiskBlobs(dir); err != nil {
			return 0, err
		}
	}
	return m.Run(), nil
}

func skip(tb testing.TB) {
	tb.Helper()
	if state.skipReason == "" {
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatal(state.skipReason)
	}
	tb.Skip(state.skipReason)
}

// DB returns the package's migrated database.
func DB(tb testing.TB) *bun.DB {
	tb.Helper()
	skip(tb)
	return state.bdb
}

// Store returns a Store over the package's database (keeping files'
// bytes on disk with WithDiskMedia).
func Store(tb testing.TB) *db.Store {
	tb.Helper()
	if state.blobs != nil {
		return db.NewStore(DB(tb), db.WithBlobs(state.blobs))
	}
	return db.NewStore(DB(tb))
}

// DatabaseURL returns the URL of the package's database, for code under test
// that opens its own pool (e.g. run in main).
func DatabaseURL(tb testing.TB) string {
	tb.Helper()
	skip(tb)
	return state.dbURL
}

// RedisURL returns the URL of the package's Redis database.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	skip(tb)
	return state.redisURL
}

// Redis returns a client for the package's Redis database, closed at cleanup.
func Redis(tb testing.TB) *redis.Client {
	tb.Helper()
	skip(tb)
	c := redis.NewClient(state.redisOpt)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// RedisOptions returns the options of the package's Redis database, for
// clients that outlive one test.
func RedisOptions(tb testing.TB) *redis.Options {
	tb.Helper()
	skip(tb)
	o := *state.redisOpt
	return &o
}

// Namespace returns a prefix for pub/sub channels that no other test package
// uses: Redis pub/sub ignores DB indexes, and tenant ids repeat across the
// packages' databases.
func Namespace(tb testing.TB) string {
	tb.Helper()
	skip(tb)
	return state.namespace
}

// Logger returns a logger that writes to the test log.
func Logger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Helper()
	w.tb.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TenantOption changes a tenant NewTenant creates.
type TenantOption func(*db.SignUp)

// WithCredits sets the starting balance.
func WithCredits(n int64) TenantOption { return func(s *db.SignUp) { s.Credits = n } }

// WithEmail sets the owner's email.
func WithEmail(email string) TenantOption { return func(s *db.SignUp) { s.Email = email } }

// WithPasswordHash sets the owner's password hash.
func WithPasswordHash(h string) TenantOption { return func(s *db.SignUp) { s.PasswordHash = h } }

// NewTenant creates a tenant with an owner user and 400 credits unless told
// otherwise.
func NewTenant(tb testing.TB, s *db.Store, opts ...TenantOption) (*db.Tenant, *db.User) {
	tb.Helper()
	n := seq.Add(1)
	in := db.SignUp{
		BusinessName: fmt.Sprintf("Test Business %d", n),
		Email:        fmt.Sprintf("owner-%d-%s@example.com", n, randomHex(3)),
		PasswordHash: "x",
		Credits:      400,
		Country:      "US",
	}
	for _, o := range opts {
		o(&in)
	}
	t, u, err := s.CreateTenantWithOwner(context.Background(), in)
	if err != nil {
		tb.Fatalf("new tenant: %v", err)
	}
	return t, u
}

// cloneDatabase creates a database for this package from the migrated
// template and returns its URL and a function that drops it.
func cloneDatabase(ctx context.Context, baseURL string) (string, func(), error) {
	admin, err := db.Open(ctx, baseURL, nil)
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()

	tmpl, err := ensureTemplate(ctx, admin, baseURL)
	if err != nil {
		return "", nil, err
	}
	name := "aibud_t_" + randomHex(6)
	for attempt := 0; ; attempt++ {
		_, err = admin.ExecContext(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl))
		if err == nil || attempt == 20 {
			break
		}
		// Another package may be cloning the same template this instant.
		time.Sleep(time.Duration(100+attempt*50) * time.Millisecond)
	}
	if err != nil {
		return "", nil, fmt.Errorf("clone %s: %w", tmpl, err)
	}
	drop := func() {
		a, err := db.Open(context.Background(), baseURL, nil)
		if err != nil {
			return
		}
		defer a.Close()
		_, _ = a.ExecContext(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	}
	return withDatabase(baseURL, name), drop, nil
}

// ensureTemplate builds the template database for the current migrations once.
// It is built under another name and renamed when complete, so a crash never
// leaves a half-migrated template behind.
func ensureTemplate(ctx context.Context, admin *bun.DB, baseURL string) (string, error) {
	sum, err := migrationsHash()
	if err != nil {
		return "", err
	}
	tmpl := "aibud_tmpl_" + sum
	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7261696275)"); err != nil {
		return "", err
	}
	defer func() { _, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(7261696275)") }()

	var exists bool
	if err := conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ?)", tmpl).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return tmpl, nil
	}
	building := tmpl + "_building"
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", building)); err != nil {
		return "", err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE DATABASE %s", building)); err != nil {
		return "", err
	}
	bdb, err := db.Open(ctx, withDatabase(baseURL, building), nil)
	if err != nil {
		return "", err
	}
	err = db.Migrate(ctx, bdb, slog.New(slog.NewTextHandler(io.Discard, nil)))
	_ = bdb.Close()
	if err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, tmpl)); err != nil {
		return "", err
	}
	return tmpl, nil
}

func migrationsHash() (string, error) {
	h := sha256.New()
	names, err := fs.Glob(migrations.Files, "*.sql")
	if err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := fs.ReadFile(migrations.Files, n)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\n%d\n", n, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func withDatabase(rawURL, name string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// claimRedisDB takes a Redis DB index (15 down to 2) no other test package
// holds, flushes it and returns its URL and a release function. DB 1 is
// left to `make dev`, so that a test's late writes never land in it.
func claimRedisDB(ctx context.Context, baseURL string) (string, func(), error) {
	opt, err := redis.ParseURL(baseURL)
	if err != nil {
		return "", nil, fmt.Errorf("TEST_REDIS_URL: %w", err)
	}
	opt.DB = 0
	ctl := redis.NewClient(opt)
	owner := randomHex(8)
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		for i := 15; i >= 2; i-- {
			key := fmt.Sprintf("aibud:test:redis-db:%d", i)
			ok, err := ctl.SetNX(ctx, key, owner, 30*time.Minute).Result()
			if err != nil {
				_ = ctl.Close()
				return "", nil, fmt.Errorf("redis: %w", err)
			}
			if !ok {
				continue
			}
			o := *opt
			o.DB = i
			c := redis.NewClient(&o)
			// Only an empty DB, or one a test run left behind, is ours to
			// flush: another program (say, `make dev`) may be using it.
			free, err := testOwned(ctx, c)
			if err == nil && !free {
				_ = c.Close()
				ctl.Del(ctx, key)
				continue
			}
			if err == nil {
				err = c.FlushDB(ctx).Err()
			}
			if err == nil {
				err = c.Set(ctx, testOwnedKey, owner, 0).Err()
			}
			_ = c.Close()
			if err != nil {
				_ = ctl.Close()
				return "", nil, fmt.Errorf("redis flush: %w", err)
			}
			u, _ := url.Parse(baseURL)
			u.Path = fmt.Sprintf("/%d", i)
			release := func() {
				if v, _ := ctl.Get(context.Background(), key).Result(); v == owner {
					// Leave it clean, and marked: servers still shutting
					// down may write to it afterwards.
					c := redis.NewClient(&o)
					_ = c.FlushDB(context.Background()).Err()
					_ = c.Set(context.Background(), testOwnedKey, owner, 0).Err()
					_ = c.Close()
					ctl.Del(context.Background(), key)
				}
				_ = ctl.Close()
			}
			return u.String(), release, nil
		}
	}
	_ = ctl.Close()
	return "", nil, fmt.Errorf("no free Redis DB index among 2-15 after 2 minutes")
}

// testOwnedKey marks a Redis DB as used by test runs.
const testOwnedKey = "aibud:test:owned"

// testOwned reports whether the DB is empty or marked as a test run's.
func testOwned(ctx context.Context, c *redis.Client) (bool, error) {
	n, err := c.DBSize(ctx).Result()
	if err != nil || n == 0 {
		return err == nil, err
	}
	marked, err := c.Exists(ctx, testOwnedKey).Result()
	return marked == 1, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestNodeURL is the gateway node NewInstance places instances on.
const TestNodeURL = "http://waha.test.invalid"

// NewInstance creates a connected-looking instance for a tenant on a roomy
// test node, for tests that need messages to belong somewhere.
func NewInstance(tb testing.TB, s *db.Store, tenantID int64) *db.Instance {
	tb.Helper()
	ctx := context.Background()
	if _, err := s.EnsureDefaultNode(ctx, "waha", TestNodeURL, 1_000_000); err != nil {
		tb.Fatalf("test node: %v", err)
	}
	inst, err := s.Tenant(tenantID).CreateInstance(ctx, db.NewInstance{
		Name: "Test number", Providers: []string{"waha"}, Limit: 1000,
		SessionName: func(t, i int64) string { return fmt.Sprintf("t%d_i%d_%s", t, i, randomHex(3)) },
	})
	if err != nil {
		tb.Fatalf("new instance: %v", err)
	}
	return inst
}
