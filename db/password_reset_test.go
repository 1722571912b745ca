package db_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

func newReset(t *testing.T, s *db.Store, userID int64, token string, expires time.Time) []byte {
	t.Helper()
	h := sha256.Sum256([]byte(token))
	if err := s.CreatePasswordReset(context.Background(), &db.PasswordReset{UserID: userID, TokenHash: h[:], ExpiresAt: expires, RequestedIP: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	return h[:]
}

// TestResetPasswordOnce: of many concurrent uses of one link exactly one
// sets the password; it voids the user's other links and ends their
// sessions, and leaves other users alone.
func TestResetPasswordOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	_, u := dbtest.NewTenant(t, s)
	_, other := dbtest.NewTenant(t, s)
	hour := time.Now().Add(time.Hour)
	link := newReset(t, s, u.ID, "link-"+u.Email, hour)
	second := newReset(t, s, u.ID, "second-"+u.Email, hour)
	otherLink := newReset(t, s, other.ID, "other-"+other.Email, hour)
	sessions := s.Sessions()
	for _, tok := range []string{"a-" + u.Email, "b-" + u.Email} {
		if err := sessions.CommitUserCtx(ctx, tok, []byte("x"), hour, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := sessions.CommitUserCtx(ctx, "c-"+other.Email, []byte("x"), hour, other.ID); err != nil {
		t.Fatal(err)
	}

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		successes int
		ended     []string
	)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, tokens, err := s.ResetPassword(ctx, link, "hash-"+string(rune('a'+i)))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				successes++
				ended = tokens
				if got.ID != u.ID {
					t.Errorf("reset user %d, want %d", got.ID, u.ID)
				}
			case !errors.Is(err, db.ErrNotFound):
				t.Errorf("err = %v", err)
			}
		}()
	}
	wg.Wait()
	if successes != 1 {
		t.Fatalf("%d uses succeeded, want exactly 1", successes)
	}
	if len(ended) != 2 {
		t.Errorf("ended sessions %v, want the user's 2", ended)
	}
	for _, h := range [][]byte{link, second} {
		if _, err := s.OpenPasswordReset(ctx, h); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("a link of the user is still open: %v", err)
		}
	}
	if _, err := s.OpenPasswordReset(ctx, otherLink); err != nil {
		t.Errorf("another user's link was voided: %v", err)
	}
	if _, ok, _ := sessions.FindCtx(ctx, "c-"+other.Email); !ok {
		t.Error("another user's session ended")
	}
}

func TestExpiredResetRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	_, u := dbtest.NewTenant(t, s)
	link := newReset(t, s, u.ID, "expired-"+u.Email, time.Now().Add(-time.Second))
	if _, err := s.OpenPasswordReset(ctx, link); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("open expired link: %v", err)
	}
	if _, _, err := s.ResetPassword(ctx, link, "new"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("reset with expired link: %v", err)
	}
	if got, _ := s.UserByID(ctx, u.ID); got.PasswordHash != u.PasswordHash {
		t.Error("an expired link changed the password")
	}
}

// TestSetUserPasswordEndsSessions: a password change ends the user's
// sessions and voids their open links.
func TestSetUserPasswordEndsSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, u := dbtest.NewTenant(t, s)
	link := newReset(t, s, u.ID, "open-"+u.Email, time.Now().Add(time.Hour))
	if err := s.Sessions().CommitUserCtx(ctx, "s-"+u.Email, []byte("x"), time.Now().Add(time.Hour), u.ID); err != nil {
		t.Fatal(err)
	}
	tokens, err := s.Tenant(tenant.ID).SetUserPassword(ctx, u.ID, "new-hash")
	if err != nil || len(tokens) != 1 || tokens[0] != "s-"+u.Email {
		t.Fatalf("ended %v, err %v", tokens, err)
	}
	if _, ok, _ := s.Sessions().FindCtx(ctx, "s-"+u.Email); ok {
		t.Error("the session survived")
	}
	if _, err := s.OpenPasswordReset(ctx, link); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the open link survived: %v", err)
	}
}
