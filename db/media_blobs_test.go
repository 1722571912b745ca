package db_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// TestMediaStorage runs the files' life on both storages: bytes in their
// rows (MEDIA_STORAGE=postgres) and kept apart on disk (MEDIA_STORAGE=disk).
// A file reads back whole, another tenant's is not found, a retried
// download keeps the first file and leaves no bytes behind, deleting the
// contact deletes its files, and the sweep deletes kept-apart bytes no row
// names once past the grace, never those a row names.
func TestMediaStorage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	disk, err := db.NewDiskBlobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		store *db.Store
		apart bool
	}{
		{"postgres", db.NewStore(dbtest.DB(t)), false},
		{"disk", db.NewStore(dbtest.DB(t), db.WithBlobs(disk)), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := tt.store
			tenant, _ := dbtest.NewTenant(t, s)
			other, _ := dbtest.NewTenant(t, s)
			ts := s.Tenant(tenant.ID)
			inst := dbtest.NewInstance(t, s, tenant.ID)
			c, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+15557770001"})
			if err != nil {
				t.Fatal(err)
			}
			msg, err := ts.SaveMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: c.ID, WaID: "blob-" + tt.name, Direction: db.DirectionIn,
				Sender: db.SenderLead, ChatKind: db.ContactDirect, Type: "audio", Status: db.MessageReceived, SentAt: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			voice := bytes.Repeat([]byte("OggS voice "), 1000)
			f, err := ts.SaveReceivedMedia(ctx, msg.ID, "audio/ogg", "v.ogg", voice, time.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			again, err := ts.SaveReceivedMedia(ctx, msg.ID, "audio/ogg", "v.ogg", []byte("OggS other"), time.Now().Add(time.Hour))
			if err != nil || again.ID != f.ID {
				t.Fatalf("a retried download: %+v, %v; want file %d", again, err, f.ID)
			}
			image, err := ts.SaveMedia(ctx, "image/png", "p.png", []byte("\x89PNG image"))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []struct {
				id   int64
				data []byte
			}{{f.ID, voice}, {image.ID, []byte("\x89PNG image")}} {
				got, err := ts.Media(ctx, want.id)
				if err != nil || !bytes.Equal(got.Bytes, want.data) || got.Size != int64(len(want.data)) {
					t.Fatalf("file %d: %d bytes, %v", want.id, len(got.Bytes), err)
				}
				if _, err := s.Tenant(other.ID).Media(ctx, want.id); !errors.Is(err, db.ErrNotFound) {
					t.Errorf("another tenant reads file %d: %v", want.id, err)
				}
			}
			var inRow, apart int
			if err := dbtest.DB(t).QueryRowContext(ctx, "SELECT count(bytes), count(blob_key) FROM media WHERE tenant_id = ?",
				tenant.ID).Scan(&inRow, &apart); err != nil {
				t.Fatal(err)
			}
			if want := map[bool][2]int{false: {2, 0}, true: {0, 2}}[tt.apart]; inRow != want[0] || apart != want[1] {
				t.Errorf("%d files in their rows and %d apart, want %v", inRow, apart, want)
			}
			if got := keysOf(t, dir, tenant.ID); tt.apart && len(got) != 2 {
				t.Errorf("%d files on disk, want 2 (the retry's bytes deleted): %v", len(got), got)
			}

			if err := ts.DeleteContact(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := ts.Media(ctx, f.ID); !errors.Is(err, db.ErrNotFound) {
				t.Errorf("the deleted contact's file: %v", err)
			}
			// Within the grace nothing goes; past it, the deleted
			// contact's bytes do and the image's stay.
			if n, err := s.SweepBlobs(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
				t.Errorf("sweep within the grace: %d, %v", n, err)
			}
			n, err := s.SweepBlobs(ctx, time.Now().Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.apart {
				if n != 0 {
					t.Errorf("a store without blobs swept %d", n)
				}
				return
			}
			if got := keysOf(t, dir, tenant.ID); n < 1 || len(got) != 1 {
				t.Errorf("swept %d; left %v, want the image's bytes only", n, got)
			}
			if got, err := ts.Media(ctx, image.ID); err != nil || string(got.Bytes) != "\x89PNG image" {
				t.Errorf("the image after the sweep: %v", err)
			}
		})
	}
}

// keysOf lists a tenant's kept-apart files.
func keysOf(t *testing.T, dir string, tenantID int64) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, strconv.FormatInt(tenantID, 10)))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestDiskBlobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	d, err := db.NewDiskBlobs(dir)
	if err != nil {
		t.Fatal(err)
	}
	const key = "42/0123456789abcdef0123456789abcdef"
	if err := d.Put(ctx, key, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if b, err := d.Get(ctx, key); err != nil || string(b) != "hello" {
		t.Fatalf("get: %q, %v", b, err)
	}
	for _, bad := range []string{"", "../x", "42/../../etc/passwd", "42/0123456789ABCDEF0123456789ABCDEF", "/42/0123456789abcdef0123456789abcdef", "42/0123"} {
		if err := d.Put(ctx, bad, []byte("x")); err == nil {
			t.Errorf("put %q: no error", bad)
		}
		if _, err := d.Get(ctx, bad); err == nil || errors.Is(err, db.ErrNotFound) {
			t.Errorf("get %q: %v, want an invalid key", bad, err)
		}
	}
	if _, err := d.Get(ctx, "42/ffffffffffffffffffffffffffffffff"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("a missing key: %v", err)
	}
	// A write cut short leaves a temporary file: the walk removes it once
	// old, and lists only keys.
	tmp := filepath.Join(dir, "42", ".put-123")
	if err := os.WriteFile(tmp, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := d.Keys(ctx, time.Now().Add(time.Minute), func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != key {
		t.Errorf("keys %v, want [%s]", keys, key)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("the unfinished write is still there: %v", err)
	}
	if err := d.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, key); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
}
