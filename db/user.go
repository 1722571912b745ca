package db

import (
	"context"
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
