package db

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// User roles within a tenant.
const (
	RoleOwner  = "owner"
	RoleMember = "member"
)

// User is a person who signs in. A user belongs to exactly one tenant; the
// email is unique across the platform (case-insensitively) because it is the
// sign-in name.
type User struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID           int64      `bun:"id,pk,autoincrement"`
	TenantID     int64      `bun:"tenant_id,notnull"`
	Email        string     `bun:"email,notnull"`
	PasswordHash string     `bun:"password_hash,notnull"`
	Role         string     `bun:"role,notnull"`
	CreatedAt    time.Time  `bun:"created_at,notnull,default:current_timestamp"`
	LastSignInAt *time.Time `bun:"last_sign_in_at"`
}

// NormalizeEmail returns the form an email is stored and looked up in.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// UserByEmail finds a user by sign-in email across tenants; sign-in is the
// one place that must do so.
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	u := new(User)
	err := s.db.NewSelect().Model(u).Where("lower(u.email) = ?", NormalizeEmail(email)).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("user by email: %w", mapErr(err))
	}
	return u, nil
}

// UserByID finds a user by id across tenants, for the session middleware
// that resolves who is signed in.
func (s *Store) UserByID(ctx context.Context, id int64) (*User, error) {
	u := new(User)
	if err := s.db.NewSelect().Model(u).Where("u.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("user %d: %w", id, mapErr(err))
	}
	return u, nil
}

// TouchSignIn records a successful sign-in.
func (s *Store) TouchSignIn(ctx context.Context, userID int64) error {
	_, err := s.db.NewUpdate().Model((*User)(nil)).Set("last_sign_in_at = now()").Where("id = ?", userID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("touch sign-in: %w", err)
	}
	return nil
}

// Users lists the tenant's users.
func (ts *TenantStore) Users(ctx context.Context) ([]User, error) {
	var us []User
	err := ts.db.NewSelect().Model(&us).ApplyQueryBuilder(ts.scope).Order("u.id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	return us, nil
}

// User returns one of the tenant's users.
func (ts *TenantStore) User(ctx context.Context, id int64) (*User, error) {
	u := new(User)
	err := ts.db.NewSelect().Model(u).ApplyQueryBuilder(ts.scope).Where("u.id = ?", id).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", id, mapErr(err))
	}
	return u, nil
}

// SetUserEmail changes the sign-in email of one of the tenant's users. An
// email another user has gives ErrConflict.
func (ts *TenantStore) SetUserEmail(ctx context.Context, userID int64, email string) error {
	res, err := ts.db.NewUpdate().Model((*User)(nil)).ApplyQueryBuilder(ts.scope).
		Set("email = ?", NormalizeEmail(email)).Where("u.id = ?", userID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("set email of user %d: %w", userID, mapErr(err))
	}
	return oneRow(res, "set email of user %d", userID)
}

// SetUserPassword changes the password hash of one of the tenant's users,
// and, in the same transaction, ends every session of theirs and voids their
// unused password reset links: whoever knew the old password (or holds an
// old link) is out. It returns the tokens of the ended sessions.
func (ts *TenantStore) SetUserPassword(ctx context.Context, userID int64, hash string) ([]string, error) {
	var tokens []string
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		res, err := tx.db.NewUpdate().Model((*User)(nil)).ApplyQueryBuilder(tx.scope).
			Set("password_hash = ?", hash).Where("u.id = ?", userID).Exec(ctx)
		if err != nil {
			return mapErr(err)
		}
		if err := oneRow(res, "user %d", userID); err != nil {
			return err
		}
		if err := voidPasswordResets(ctx, tx.db, userID); err != nil {
			return err
		}
		tokens, err = deleteUserSessions(ctx, tx.db, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("set password: %w", err)
	}
	return tokens, nil
}

// oneRow turns an update that matched no row into ErrNotFound.
func oneRow(res sql.Result, format string, args ...any) error {
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf(format+": %w", append(args, ErrNotFound)...)
	}
	return nil
}

// UserEmailsAllTenants returns the emails of a tenant's users, for the
// owner's console (which names the tenant itself).
func (s *Store) UserEmailsAllTenants(ctx context.Context, tenantID int64) ([]string, error) {
	var emails []string
	err := s.db.NewSelect().Model((*User)(nil)).Column("email").Where("u.tenant_id = ?", tenantID).Order("u.id").Scan(ctx, &emails)
	if err != nil {
		return nil, fmt.Errorf("user emails: %w", mapErr(err))
	}
	return emails, nil
}
