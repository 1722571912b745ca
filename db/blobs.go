package db

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Blobs keeps the bytes of files (Media) apart from their rows, under keys
// the store makes (one per file, never reused). Without Blobs a file's
// bytes are in its row (MEDIA_STORAGE=postgres); DiskBlobs keeps them in a
// directory (MEDIA_STORAGE=disk), and an S3-compatible bucket would be one
// more implementation of these four methods.
//
// A file's bytes are put before its row is inserted, and deleting a row
// (a contact's deletion, a file's expiry) leaves them: SweepBlobs deletes
// the bytes no row names once they are older than a grace period, so a
// crash between the two steps never loses a file a row names and only
// delays the removal of one no row does.
type Blobs interface {
	// Put stores data under key.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the bytes under key; ErrNotFound when there are none.
	Get(ctx context.Context, key string) ([]byte, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Keys calls fn with each key put before before.
	Keys(ctx context.Context, before time.Time, fn func(key string) error) error
}

// StoreOption configures a Store.
type StoreOption func(*Store)

// WithBlobs keeps files' bytes in b instead of their rows.
func WithBlobs(b Blobs) StoreOption { return func(s *Store) { s.blobs = b } }

// newBlobKey is a new file's key: its tenant, then 128 random bits.
func newBlobKey(tenantID int64) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return strconv.FormatInt(tenantID, 10) + "/" + hex.EncodeToString(b[:])
}

// blobKeyPattern is what newBlobKey makes; DiskBlobs refuses anything else,
// so a key can never name a path outside its directory.
var blobKeyPattern = regexp.MustCompile(`^[0-9]{1,19}/[0-9a-f]{32}$`)

// DiskBlobs keeps files in a directory, one file per key
// (<dir>/<tenant>/<key>), written to a temporary file, synced and renamed,
// so a file is there whole or not at all. Every process that reads or
// writes files (web and worker) must see the same directory.
type DiskBlobs struct {
	dir string
}

var _ Blobs = (*DiskBlobs)(nil)

// NewDiskBlobs returns the blobs of dir, creating it if needed.
func NewDiskBlobs(dir string) (*DiskBlobs, error) {
	if dir == "" {
		return nil, errors.New("disk blobs: no directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("disk blobs: %w", err)
	}
	if err := os.MkdirAll(abs, 0o750); err != nil {
		return nil, fmt.Errorf("disk blobs: %w", err)
	}
	return &DiskBlobs{dir: abs}, nil
}

func (d *DiskBlobs) path(key string) (string, error) {
	if !blobKeyPattern.MatchString(key) {
		return "", fmt.Errorf("disk blobs: invalid key %.60q", key)
	}
	return filepath.Join(d.dir, filepath.FromSlash(key)), nil
}

// Put writes data under key.
func (d *DiskBlobs) Put(_ context.Context, key string, data []byte) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("disk blobs: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return fmt.Errorf("disk blobs: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing is left to remove
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("disk blobs: write %s: %w", key, werr)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("disk blobs: %w", err)
	}
	return syncDir(filepath.Dir(p))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("disk blobs: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("disk blobs: sync %s: %w", dir, err)
	}
	return nil
}

// Get reads the file under key.
func (d *DiskBlobs) Get(_ context.Context, key string) ([]byte, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("disk blobs: %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("disk blobs: %w", err)
	}
	return b, nil
}

// Delete removes the file under key.
func (d *DiskBlobs) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("disk blobs: %w", err)
	}
	return nil
}

// Keys walks the directory for files last written before before
// (temporary files of a write cut short included under no key: they are
// removed once that old).
func (d *DiskBlobs) Keys(ctx context.Context, before time.Time, fn func(key string) error) error {
	return filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(before) {
			return nil // gone meanwhile, or too new
		}
		rel, err := filepath.Rel(d.dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(e.Name(), ".put-") {
			return os.Remove(p) // a write that never finished
		}
		if !blobKeyPattern.MatchString(key) {
			return nil // not ours
		}
		return fn(key)
	})
}

// SweepBlobs deletes the stored bytes no file's row names, of those put
// before before (give writes in progress a grace period: a file's bytes
// are put before its row commits), and returns how many. Without Blobs it
// does nothing.
func (s *Store) SweepBlobs(ctx context.Context, before time.Time) (int, error) {
	if s.blobs == nil {
		return 0, nil
	}
	var batch []string
	deleted := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var named []string
		if err := s.db.NewSelect().Model((*Media)(nil)).Column("blob_key").
			Where("blob_key IN (?)", bun.In(batch)).Scan(ctx, &named); err != nil {
			return fmt.Errorf("sweep blobs: %w", err)
		}
		keep := make(map[string]bool, len(named))
		for _, k := range named {
			keep[k] = true
		}
		for _, k := range batch {
			if keep[k] {
				continue
			}
			if err := s.blobs.Delete(ctx, k); err != nil {
				return err
			}
			deleted++
		}
		batch = batch[:0]
		return nil
	}
	err := s.blobs.Keys(ctx, before, func(key string) error {
		batch = append(batch, key)
		if len(batch) == 500 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return deleted, err
}
