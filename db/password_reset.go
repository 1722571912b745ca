package db

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// PasswordReset is a link sent to a user's email to set a new password. It
// belongs to the user (and so to their tenant); it is found by its token,
// of which only the SHA-256 is stored. It works once, until ExpiresAt; using
// it, or changing the password, voids the user's other open links.
type PasswordReset struct {
	bun.BaseModel `bun:"table:password_resets,alias:pr"`

	ID          int64      `bun:"id,pk,autoincrement"`
	UserID      int64      `bun:"user_id,notnull"`
	TokenHash   []byte     `bun:"token_hash,notnull"`
	ExpiresAt   time.Time  `bun:"expires_at,notnull"`
	UsedAt      *time.Time `bun:"used_at"`
	RequestedIP string     `bun:"requested_ip,notnull"`
	CreatedAt   time.Time  `bun:"created_at,notnull,default:current_timestamp"`
}

// CreatePasswordReset stores a new reset link.
func (s *Store) CreatePasswordReset(ctx context.Context, r *PasswordReset) error {
	if _, err := s.db.NewInsert().Model(r).Returning("id, created_at").Exec(ctx); err != nil {
		return fmt.Errorf("create password reset: %w", mapErr(err))
	}
	return nil
}

// DeletePasswordReset removes a link that was never sent.
func (s *Store) DeletePasswordReset(ctx context.Context, id int64) error {
	if _, err := s.db.NewDelete().Model((*PasswordReset)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
		return fmt.Errorf("delete password reset %d: %w", id, err)
	}
	return nil
}

// OpenPasswordReset finds the unused, unexpired link with this token hash,
// across tenants: the link is all its holder has. ErrNotFound otherwise.
func (s *Store) OpenPasswordReset(ctx context.Context, tokenHash []byte) (*PasswordReset, error) {
	r := new(PasswordReset)
	err := s.db.NewSelect().Model(r).Where("pr.token_hash = ?", tokenHash).
		Where("pr.used_at IS NULL").Where("pr.expires_at > now()").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("password reset: %w", mapErr(err))
	}
	return r, nil
}

// ResetPassword uses the link with this token hash to set the user's
// password hash, in one transaction: the link is marked used only if it is
// still open (concurrent uses wait on its row, and all but the first find it
// used), the user's other open links are voided and every session of theirs
// ends. It returns the user and the tokens of the ended sessions; a used,
// expired or unknown link gives ErrNotFound.
func (s *Store) ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string) (*User, []string, error) {
	u := new(User)
	var tokens []string
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var userID int64
		err := tx.NewUpdate().Model((*PasswordReset)(nil)).Set("used_at = now()").
			Where("token_hash = ?", tokenHash).Where("used_at IS NULL").Where("expires_at > now()").
			Returning("user_id").Scan(ctx, &userID)
		if err != nil {
			return mapErr(err)
		}
		err = tx.NewUpdate().Model(u).Set("password_hash = ?", passwordHash).Where("id = ?", userID).
			Returning("*").Scan(ctx)
		if err != nil {
			return mapErr(err)
		}
		if err := voidPasswordResets(ctx, tx, userID); err != nil {
			return err
		}
		tokens, err = deleteUserSessions(ctx, tx, userID)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reset password: %w", err)
	}
	return u, tokens, nil
}

// voidPasswordResets marks every open link of a user used.
func voidPasswordResets(ctx context.Context, idb bun.IDB, userID int64) error {
	_, err := idb.NewUpdate().Model((*PasswordReset)(nil)).Set("used_at = now()").
		Where("user_id = ?", userID).Where("used_at IS NULL").Exec(ctx)
	if err != nil {
		return fmt.Errorf("void password resets of user %d: %w", userID, err)
	}
	return nil
}
