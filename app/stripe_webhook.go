package app

import (
	"errors"
	"io"
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/billing"
	"github.com/myaibud/aibud/jobs"
)

// stripeWebhook receives Stripe's events. It checks the Stripe-Signature
// header over the exact body, stores the event once by its Stripe id, hands
// it to the workers and answers at once. A failure to queue answers 500, so
// Stripe delivers the event again and it is queued then.
func (h *handler) stripeWebhook(c echo.Context) error {
	ctx := c.Request().Context()
	if h.opts.StripeWebhookSecret == "" {
		return echo.ErrNotFound
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err // the body limit answers 413
	}
	id, typ, err := billing.VerifyEvent(body, c.Request().Header.Get("Stripe-Signature"), h.opts.StripeWebhookSecret)
	if err != nil {
		h.metrics.Count("stripe_webhook_bad_signature")
		return Errorf(EInvalid, "The Stripe signature is missing or wrong.")
	}
	if !billing.Handled(typ) {
		return c.JSON(http.StatusOK, map[string]string{"status": "ignored"})
	}
	stored, isNew, err := h.store.RecordStripeEvent(ctx, id, typ, body)
	if err != nil {
		return err
	}
	if !isNew && stored.ProcessedAt != nil {
		return c.JSON(http.StatusOK, map[string]string{"status": "duplicate"})
	}
	t, err := jobs.NewProcessStripeEventTask(jobs.ProcessStripeEventPayload{EventID: stored.ID}, id)
	if err != nil {
		return err
	}
	if _, err := h.queue.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return err
	}
	status := "stored"
	if !isNew {
		status = "duplicate"
	}
	return c.JSON(http.StatusOK, map[string]string{"status": status})
}
