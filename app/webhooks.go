package app

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/jobs"
)

// whatsappWebhook receives WAHA's events. It checks the HMAC over the exact
// body, stores the event once (WAHA retries the same id many times), hands
// it to the workers and answers at once. Unknown sessions and event types
// get 200 so WAHA stops retrying them.
func (h *handler) whatsappWebhook(c echo.Context) error {
	ctx := c.Request().Context()
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err // the body limit answers 413
	}
	ev, err := h.webhooks.ParseWebhook(c.Request().Header, body)
	switch {
	case errors.Is(err, whatsapp.ErrBadSignature):
		h.metrics.Count("webhook_bad_signature")
		return Errorf(EUnauthorized, "The webhook signature is missing or wrong.")
	case errors.Is(err, whatsapp.ErrMalformed):
		h.metrics.Count("webhook_malformed")
		return Errorf(EInvalid, "The webhook body is not a WAHA event.")
	case err != nil:
		return err
	}
	if ev.Kind == whatsapp.EventIgnored {
		h.log.DebugContext(ctx, "webhook event type not used", "type", ev.Type, "session", ev.Session)
		return c.JSON(http.StatusOK, map[string]string{"status": "ignored"})
	}
	const provider = "waha"
	stored, outcome, err := h.store.RecordWebhookEvent(ctx, provider, ev.ID, ev.Type, ev.Session, body)
	if err != nil {
		return err
	}
	h.metrics.Count("webhook_" + outcome)
	switch {
	case outcome == db.WebhookUnknownSession:
		h.log.WarnContext(ctx, "webhook for an unknown session", "session", ev.Session, "type", ev.Type)
		return c.JSON(http.StatusOK, map[string]string{"status": "unknown session"})
	case outcome == db.WebhookDuplicate && stored.ProcessedAt != nil:
		return c.JSON(http.StatusOK, map[string]string{"status": "duplicate"})
	}
	// New, or stored earlier but perhaps never queued (a crash in between):
	// queue it; the task id makes a second queueing a no-op.
	t, err := jobs.NewProcessWebhookTask(jobs.ProcessWebhookPayload{TenantID: stored.TenantID, EventID: stored.ID}, provider, ev.ID, 0)
	if err != nil {
		return err
	}
	if _, err := h.queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		// Stored already: the sweeper queues it later. WAHA need not retry.
		h.log.ErrorContext(ctx, "enqueue webhook processing", "event_id", ev.ID, "err", fmt.Errorf("%w", err))
	}
	return c.JSON(http.StatusOK, map[string]string{"status": outcome})
}
