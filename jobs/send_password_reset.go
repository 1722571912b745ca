package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/reset"
	"github.com/myaibud/aibud/db"
)

// TypeSendPasswordReset emails a password reset link to an address, if an
// account has it. The web handler enqueues it for every request, whether or
// not the account exists, so its answer and its timing say nothing; the
// link's token is made here and lives only in this process and the email.
const TypeSendPasswordReset = "password:send-reset"

// SendPasswordResetPayload is who asked for a link. There is no tenant: the
// address is all the asker gives.
type SendPasswordResetPayload struct {
	Email string `json:"email"`
	// IP is the address the request came from, kept with the link.
	IP string `json:"ip"`
}

// NewSendPasswordResetTask returns the task; it is retried while the mail
// server fails, for about half an hour (within the link's own hour).
func NewSendPasswordResetTask(p SendPasswordResetPayload) (*asynq.Task, error) {
	return newTask(TypeSendPasswordReset, p, asynq.Queue(QueueCritical), asynq.MaxRetry(10), asynq.Timeout(2*time.Minute))
}

func (w *Worker) sendPasswordReset(ctx context.Context, t *asynq.Task) error {
	var p SendPasswordResetPayload
	if err := decode(t, &p); err != nil {
		return err
	}
	u, err := w.store.UserByEmail(ctx, p.Email)
	if errors.Is(err, db.ErrNotFound) {
		w.log.DebugContext(ctx, "password reset asked for an address with no account")
		return nil
	}
	if err != nil {
		return err
	}
	if w.mail == nil || w.opts.ResetLink == nil {
		w.log.WarnContext(ctx, "email is not configured (SMTP_URL): no password reset link sent", "user_id", u.ID)
		return nil
	}
	token, hash := reset.NewToken()
	r := &db.PasswordReset{UserID: u.ID, TokenHash: hash, ExpiresAt: time.Now().Add(reset.TTL), RequestedIP: p.IP}
	if err := w.store.CreatePasswordReset(ctx, r); err != nil {
		return err
	}
	if err := w.mail.Send(ctx, reset.Email(u.Email, w.opts.ResetLink(token), reset.TTL)); err != nil {
		// The link never left: drop it (a retry makes a new one).
		if derr := w.store.DeletePasswordReset(context.WithoutCancel(ctx), r.ID); derr != nil {
			w.log.WarnContext(ctx, "drop an unsent password reset link", "err", derr)
		}
		return fmt.Errorf("email the password reset link to user %d: %w", u.ID, err)
	}
	return nil
}
