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

// whatsappWebhook receives a gateway's events: it authenticates the request
// (WAHA: the HMAC over the exact body; Evolution: the instance's secret
// header), stores the event once (gateways retry, and Evolution may deliver
// twice: the event's id, the provider's or one built from the content, is
// the key), hands it to the workers and answers at once. Unknown sessions
// and event types get 200 so the gateway stops retrying them; a refused
// request gets 401, which neither gateway retries.
func (h *handler) whatsappWebhook(provider string) echo.HandlerFunc {
	return func(c echo.Context) error {
		return h.receiveWebhook(c, provider)
	}
}

func (h *handler) receiveWebhook(c echo.Context, provider string) error {
	ctx := c.Request().Context()
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err // the body limit answers 413
	}
	parser := h.webhooks[provider]
	if parser == nil {
		h.metrics.Count("webhook_bad_signature")
		return Errorf(EUnauthorized, "This server takes no webhooks from %s.", provider)
	}
	ev, err := parser.ParseWebhook(c.Request().Header, body)
	switch {
	case errors.Is(err, whatsapp.ErrBadSignature):
		h.metrics.Count("webhook_bad_signature")
		return Errorf(EUnauthorized, "The webhook signature is missing or wrong.")
	case errors.Is(err, whatsapp.ErrMalformed):
		h.metrics.Count("webhook_malformed")
		return Errorf(EInvalid, "The webhook body is not an event of %s.", provider)
	case err != nil:
		return err
	}
	if ev.Kind == whatsapp.EventIgnored {
		h.log.DebugContext(ctx, "webhook event type not used", "type", ev.Type, "session", ev.Session)
		return c.JSON(http.StatusOK, map[string]string{"status": "ignored"})
	}
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
		// Stored already: the sweeper queues it later. The gateway need not retry.
		h.log.ErrorContext(ctx, "enqueue webhook processing", "event_id", ev.ID, "err", fmt.Errorf("%w", err))
	}
	return c.JSON(http.StatusOK, map[string]string{"status": outcome})
}
