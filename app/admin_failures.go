package app

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// showFailures is the owner's view of work given up on: parked webhook
// events, Stripe events not applied, and background tasks that failed for
// good.
func (h *handler) showFailures(c echo.Context) error {
	ctx := c.Request().Context()
	events, err := h.store.DeadWebhookEventsAllTenants(ctx, 100)
	if err != nil {
		return err
	}
	jobs, err := h.store.JobFailuresAllTenants(ctx, 100)
	if err != nil {
		return err
	}
	stripeEvents, err := h.store.FailedStripeEventsAllTenants(ctx, 100)
	if err != nil {
		return err
	}
	vm := views.Failures{MaxAttempts: db.MaxWebhookAttempts}
	for _, e := range events {
		vm.DeadEvents = append(vm.DeadEvents, views.DeadEventRow{At: *e.DeadAt, TenantID: e.TenantID, Provider: e.Provider,
			EventID: e.EventID, EventType: e.EventType, Attempts: e.Attempts, Error: e.LastError})
	}
	for _, e := range stripeEvents {
		vm.Stripe = append(vm.Stripe, views.StripeFailureRow{At: *e.FailedAt, EventID: e.EventID, EventType: e.EventType,
			Attempts: e.Attempts, Error: e.LastError})
	}
	for _, f := range jobs {
		row := views.JobFailureRow{At: f.CreatedAt, TaskType: f.TaskType, TaskID: f.TaskID, Error: f.Error}
		if f.TenantID != nil {
			row.TenantID = *f.TenantID
		}
		vm.Jobs = append(vm.Jobs, row)
	}
	return render(c, http.StatusOK, views.FailuresPage(h.shell(c, "Failures", views.NavFailures), vm), nil)
}
