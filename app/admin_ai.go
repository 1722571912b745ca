package app

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/views"
)

const aiCostDays = 30

// showAICosts is the owner's view of model calls across tenants.
func (h *handler) showAICosts(c echo.Context) error {
	ctx := c.Request().Context()
	usage, err := h.store.AIUsageAllTenants(ctx, time.Now().AddDate(0, 0, -aiCostDays))
	if err != nil {
		return err
	}
	runs, err := h.store.AIRunsAllTenants(ctx, 50)
	if err != nil {
		return err
	}
	vm := views.AICosts{Days: aiCostDays}
	for _, u := range usage {
		vm.Usage = append(vm.Usage, views.AIUsageRow(u))
		vm.TotalCalls += u.Calls
		vm.TotalInput += u.InputTokens
		vm.TotalAudio += u.AudioInputTokens
		vm.TotalOutput += u.OutputTokens
	}
	for _, r := range runs {
		vm.Runs = append(vm.Runs, views.AIRunRow{At: r.CreatedAt, TenantID: r.TenantID, Model: r.Model, InputTokens: r.InputTokens,
			OutputTokens: r.OutputTokens, LatencyMS: r.LatencyMS, Outcome: r.Outcome, Error: r.Error})
	}
	return render(c, http.StatusOK, views.AICostsPage(h.shell(c, "AI use and cost", views.NavAdminAI), vm), nil)
}
