package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// SessionStore keeps sign-in sessions server-side, in the sessions table, for
// github.com/alexedwards/scs (it implements scs.CtxStore). Tokens are random
// and opaque; the data holds the user id. Expired rows are removed by the
// sessions:cleanup job.
type SessionStore struct {
	s *Store
}

// Sessions returns the session store.
func (s *Store) Sessions() *SessionStore { return &SessionStore{s: s} }

// FindCtx returns the data of a live session.
func (ss *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var b []byte
	err := ss.s.db.NewRaw("SELECT data FROM sessions WHERE token = ? AND expiry > now()", token).Scan(ctx, &b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find session: %w", err)
	}
	return b, true, nil
}

// CommitCtx saves a session that belongs to no user.
func (ss *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	return ss.CommitUserCtx(ctx, token, b, expiry, 0)
}

// CommitUserCtx saves a session and records whose it is (0: nobody's), so
// that the user's sessions can be ended together.
func (ss *SessionStore) CommitUserCtx(ctx context.Context, token string, b []byte, expiry time.Time, userID int64) error {
	var uid *int64
	if userID != 0 {
		uid = &userID
	}
	_, err := ss.s.db.NewRaw(`INSERT INTO sessions (token, data, expiry, user_id) VALUES (?, ?, ?, ?)
		ON CONFLICT (token) DO UPDATE SET data = EXCLUDED.data, expiry = EXCLUDED.expiry, user_id = EXCLUDED.user_id`,
		token, b, expiry, uid).Exec(ctx)
	if err != nil {
		return fmt.Errorf("save session: %w", mapErr(err))
	}
	return nil
}

// DeleteCtx removes a session; removing a missing one is not an error.
func (ss *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	if _, err := ss.s.db.NewRaw("DELETE FROM sessions WHERE token = ?", token).Exec(ctx); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// Find is FindCtx without a context, for scs.Store.
func (ss *SessionStore) Find(token string) ([]byte, bool, error) {
	return ss.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a context, for scs.Store.
func (ss *SessionStore) Commit(token string, b []byte, expiry time.Time) error {
	return ss.CommitCtx(context.Background(), token, b, expiry)
}

// Delete is DeleteCtx without a context, for scs.Store.
func (ss *SessionStore) Delete(token string) error {
	return ss.DeleteCtx(context.Background(), token)
}

// DeleteExpiredSessions removes expired sessions of every user and returns
// how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res, err := s.db.NewRaw("DELETE FROM sessions WHERE expiry <= now()").Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return res.RowsAffected()
}

// deleteUserSessions ends every session of a user and returns their tokens
// (to close their live streams).
func deleteUserSessions(ctx context.Context, idb bun.IDB, userID int64) ([]string, error) {
	var tokens []string
	err := idb.NewRaw("DELETE FROM sessions WHERE user_id = ? RETURNING token", userID).Scan(ctx, &tokens)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	return tokens, nil
}

// SessionData is a stored session's token and encoded data.
type SessionData struct {
	Token string `bun:"token"`
	Data  []byte `bun:"data"`
}

// UnattributedSessions returns live sessions that record no user, after the
// token after (in token order), at most limit: sessions saved before
// sessions recorded their user, for AttributeSession.
func (ss *SessionStore) UnattributedSessions(ctx context.Context, after string, limit int) ([]SessionData, error) {
	var out []SessionData
	err := ss.s.db.NewRaw(`SELECT token, data FROM sessions WHERE user_id IS NULL AND expiry > now() AND token > ?
		ORDER BY token LIMIT ?`, after, limit).Scan(ctx, &out)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("unattributed sessions: %w", err)
	}
	return out, nil
}

// AttributeSession records whose a session is, unless it records someone
// already.
func (ss *SessionStore) AttributeSession(ctx context.Context, token string, userID int64) error {
	_, err := ss.s.db.NewRaw("UPDATE sessions SET user_id = ? WHERE token = ? AND user_id IS NULL", userID, token).Exec(ctx)
	if err != nil {
		return fmt.Errorf("attribute session: %w", mapErr(err))
	}
	return nil
}
