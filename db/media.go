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
// saving; Size and SHA256 are computed from Bytes here.
type Media struct {
	bun.BaseModel `bun:"table:media,alias:md"`

	ID        int64     `bun:"id,pk,autoincrement"`
	TenantID  int64     `bun:"tenant_id,notnull"`
	Mime      string    `bun:"mime,notnull"`
	FileName  string    `bun:"file_name,notnull"`
	Size      int64     `bun:"size,notnull"`
	SHA256    []byte    `bun:"sha256,notnull"`
	Bytes     []byte    `bun:"bytes,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull,default:current_timestamp"`
}

// SaveMedia stores a file of the tenant and returns it with its id.
func (ts *TenantStore) SaveMedia(ctx context.Context, mime, fileName string, data []byte) (*Media, error) {
	sum := sha256.Sum256(data)
	m := &Media{TenantID: ts.tenantID, Mime: mime, FileName: fileName, Size: int64(len(data)), SHA256: sum[:], Bytes: data}
	if _, err := ts.db.NewInsert().Model(m).Returning("id, created_at").Exec(ctx); err != nil {
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
	return m, nil
}
