package db

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// Media is a file a tenant uploaded to send, such as a campaign's image. It
// belongs to its tenant and is read only by (tenant, id); campaigns and
// messages point at it by (tenant_id, media_id), so they cannot name
// another tenant's file. The caller checks the content (type, size) before
// saving; Size and SHA256 are computed from the bytes here. The bytes are in
// the row (Bytes) or, with the store's Blobs, under BlobKey.
type Media struct {
	bun.BaseModel `bun:"table:media,alias:md"`

	ID        int64     `bun:"id,pk,autoincrement"`
	TenantID  int64     `bun:"tenant_id,notnull"`
	Mime      string    `bun:"mime,notnull"`
	FileName  string    `bun:"file_name,notnull"`
	Size      int64     `bun:"size,notnull"`
	SHA256    []byte    `bun:"sha256,notnull"`
	Bytes     []byte    `bun:"bytes"`
	BlobKey   string    `bun:"blob_key,nullzero"`
	CreatedAt time.Time `bun:"created_at,notnull,default:current_timestamp"`
	// ContactID is the customer who sent a received file; it is deleted
	// with them. ExpiresAt is when a received file is deleted (retention).
	ContactID *int64     `bun:"contact_id"`
	ExpiresAt *time.Time `bun:"expires_at"`
}

// SaveReceivedMedia stores the file of a customer's message and links the
// message to it, in one transaction; the file expires at expires. A message
// that has its file already keeps it (a retried download stores nothing
// again), and that file is returned.
func (ts *TenantStore) SaveReceivedMedia(ctx context.Context, messageID int64, mime, fileName string, data []byte, expires time.Time) (*Media, error) {
	// The bytes go first, outside the transaction (no lock held during the
	// write); if the message has its file already they are deleted again.
	m := &Media{TenantID: ts.tenantID, Mime: mime, FileName: fileName, ExpiresAt: &expires}
	if err := ts.putBytes(ctx, m, data); err != nil {
		return nil, fmt.Errorf("save received media of message %d: %w", messageID, err)
	}
	var out *Media
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		msg := new(Message)
		if err := tx.db.NewSelect().Model(msg).Column("id", "contact_id", "media_id").ApplyQueryBuilder(tx.scope).
			Where("m.id = ?", messageID).For("UPDATE").Scan(ctx); err != nil {
			return mapErr(err)
		}
		if msg.MediaID != nil {
			m, err := tx.Media(ctx, *msg.MediaID)
			out = m
			return err
		}
		m.ContactID = &msg.ContactID
		if _, err := tx.db.NewInsert().Model(m).Returning("id, created_at").Exec(ctx); err != nil {
			return mapErr(err)
		}
		if _, err := tx.db.NewUpdate().Model((*Message)(nil)).ApplyQueryBuilder(tx.scope).Set("media_id = ?", m.ID).
			Set("updated_at = now()").Where("m.id = ?", messageID).Exec(ctx); err != nil {
			return err
		}
		out = m
		return nil
	})
	if out == nil || out.ID != m.ID || err != nil {
		ts.dropBytes(ctx, m) // not stored under this row: the sweep would find them later
	}
	if err != nil {
		return nil, fmt.Errorf("save received media of message %d: %w", messageID, err)
	}
	return out, nil
}

// putBytes sets m's size and digest from data and keeps data: in the row,
// or under a new key of the store's Blobs.
func (ts *TenantStore) putBytes(ctx context.Context, m *Media, data []byte) error {
	sum := sha256.Sum256(data)
	m.Size, m.SHA256 = int64(len(data)), sum[:]
	if ts.blobs == nil {
		if m.Bytes = data; m.Bytes == nil {
			m.Bytes = []byte{} // an empty file is in its row, not NULL
		}
		return nil
	}
	key := newBlobKey(ts.tenantID)
	if err := ts.blobs.Put(ctx, key, data); err != nil {
		return err
	}
	m.BlobKey = key
	return nil
}

// dropBytes deletes bytes putBytes kept under a key for a row that was not
// stored (best effort: SweepBlobs deletes what this misses).
func (ts *TenantStore) dropBytes(ctx context.Context, m *Media) {
	if m.BlobKey != "" && ts.blobs != nil {
		_ = ts.blobs.Delete(context.WithoutCancel(ctx), m.BlobKey)
	}
}

// MediaInfo returns one of the tenant's files without its bytes.
func (ts *TenantStore) MediaInfo(ctx context.Context, id int64) (*Media, error) {
	m := new(Media)
	if err := ts.db.NewSelect().Model(m).ExcludeColumn("bytes").ApplyQueryBuilder(ts.scope).Where("md.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("media %d: %w", id, mapErr(err))
	}
	return m, nil
}

// DeleteExpiredMediaAllTenants deletes received files whose retention is
// over (their messages keep their transcript) and returns how many.
func (s *Store) DeleteExpiredMediaAllTenants(ctx context.Context, now time.Time) (int, error) {
	res, err := s.db.NewDelete().Model((*Media)(nil)).Where("expires_at IS NOT NULL AND expires_at <= ?", now).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete expired media: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// SaveMedia stores a file of the tenant and returns it with its id.
func (ts *TenantStore) SaveMedia(ctx context.Context, mime, fileName string, data []byte) (*Media, error) {
	m := &Media{TenantID: ts.tenantID, Mime: mime, FileName: fileName}
	if err := ts.putBytes(ctx, m, data); err != nil {
		return nil, fmt.Errorf("save media: %w", err)
	}
	if _, err := ts.db.NewInsert().Model(m).Returning("id, created_at").Exec(ctx); err != nil {
		ts.dropBytes(ctx, m)
		return nil, fmt.Errorf("save media: %w", mapErr(err))
	}
	return m, nil
}

// Media returns one of the tenant's files, with its bytes.
func (ts *TenantStore) Media(ctx context.Context, id int64) (*Media, error) {
	m := new(Media)
	if err := ts.db.NewSelect().Model(m).ApplyQueryBuilder(ts.scope).Where("md.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("media %d: %w", id, mapErr(err))
	}
	if m.BlobKey == "" {
		return m, nil
	}
	if ts.blobs == nil {
		return nil, fmt.Errorf("media %d: its bytes are kept apart (MEDIA_STORAGE=disk) and this process has no media storage", id)
	}
	b, err := ts.blobs.Get(ctx, m.BlobKey)
	if err != nil {
		return nil, fmt.Errorf("media %d: %w", id, err)
	}
	m.Bytes = b
	return m, nil
}
