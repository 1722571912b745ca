package app

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/views"
)

func (h *handler) showDashboard(c echo.Context) error {
	usedToday, err := h.usedToday(c)
	if err != nil {
		return err
	}
	numbers, err := h.dashboardNumbersView(c)
	if err != nil {
		return err
	}
	activity, err := h.activityView(c)
	if err != nil {
		return err
	}
	handoffs, err := h.handoffsView(c)
	if err != nil {
		return err
	}
	campaigns, err := activeCampaignsView(c)
	if err != nil {
		return err
	}
	week, err := h.weekView(c)
	if err != nil {
		return err
	}
	vm := views.Dashboard{Credits: mustPrincipal(c).tenant.CreditBalance, UsedToday: usedToday, Numbers: numbers, Activity: activity,
		Handoffs: handoffs, Campaigns: campaigns, Week: week}
	return render(c, http.StatusOK, views.DashboardPage(h.shell(c, "Dashboard", views.NavDashboard), vm), nil)
}

func (h *handler) dashboardNumbersView(c echo.Context) ([]views.InstanceCard, error) {
	insts, err := tenantStore(c).Instances(c.Request().Context())
	if err != nil {
		return nil, err
	}
	limit, err := tenantStore(c).InstanceLimit(c.Request().Context())
	if err != nil {
		return nil, err
	}
	loc := mustPrincipal(c).tenant.Location()
	cards := make([]views.InstanceCard, len(insts))
	for i := range insts {
		cards[i] = instanceCard(&insts[i], loc, limit)
	}
	return cards, nil
}

func (h *handler) activityView(c echo.Context) (views.Activity, error) {
	ctx := c.Request().Context()
	ts, loc := tenantStore(c), mustPrincipal(c).tenant.Location()
	now := time.Now().In(loc)
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	in, out, err := ts.MessageCountSince(ctx, midnight)
	if err != nil {
		return views.Activity{}, err
	}
	convs, err := ts.RecentConversations(ctx, 6)
	if err != nil {
		return views.Activity{}, err
	}
	a := views.Activity{MessagesIn: in, MessagesOut: out, Location: loc}
	for _, cv := range convs {
		a.Conversations = append(a.Conversations, views.ConversationRow{
			ContactID: cv.ID, Name: cv.DisplayName(), LastBody: cv.LastBody, LastSender: cv.LastSender, At: *cv.LastMessageAt,
		})
	}
	return a, nil
}

// dashboardNumbers is the live-refreshed list of numbers.
func (h *handler) dashboardNumbers(c echo.Context) error {
	numbers, err := h.dashboardNumbersView(c)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.DashboardNumbers(numbers))
}

// dashboardActivity is the live-refreshed message count and conversations.
func (h *handler) dashboardActivity(c echo.Context) error {
	a, err := h.activityView(c)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.DashboardActivity(a))
}

// usedToday is the net credits used since midnight in the tenant's zone.
func (h *handler) usedToday(c echo.Context) (int64, error) {
	now := time.Now()
	days, err := tenantStore(c).CreditUsageByDay(c.Request().Context(), now, now, mustPrincipal(c).tenant.Location())
	if err != nil {
		return 0, err
	}
	return days[0].Net(), nil
}

// dashboardCredits is the live-refreshed balance and today's use.
func (h *handler) dashboardCredits(c echo.Context) error {
	bal, err := tenantStore(c).CreditBalance(c.Request().Context())
	if err != nil {
		return err
	}
	used, err := h.usedToday(c)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.DashboardCredits(bal, used))
}

// creditBadge is the live-refreshed balance in the header.
func (h *handler) creditBadge(c echo.Context) error {
	bal, err := tenantStore(c).CreditBalance(c.Request().Context())
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.CreditBadge(bal))
}

func (h *handler) handoffsView(c echo.Context) (views.Handoffs, error) {
	cs, err := tenantStore(c).Handoffs(c.Request().Context(), 10)
	if err != nil {
		return views.Handoffs{}, err
	}
	v := views.Handoffs{Location: mustPrincipal(c).tenant.Location()}
	for _, ct := range cs {
		v.Rows = append(v.Rows, views.HandoffRow{ContactID: ct.ID, Name: ct.DisplayName(), Reason: ct.HandoffReason, At: ct.HandoffAt})
	}
	return v, nil
}

// dashboardHandoffs is the live-refreshed list of chats waiting for a person.
func (h *handler) dashboardHandoffs(c echo.Context) error {
	v, err := h.handoffsView(c)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.DashboardHandoffs(v))
}

// dashboardWeek is the live-refreshed look back at the week.
func (h *handler) dashboardWeek(c echo.Context) error {
	v, err := h.weekView(c)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.DashboardWeek(v))
}

// activeCampaignsView is the campaigns under way, for the dashboard.
func activeCampaignsView(c echo.Context) ([]views.CampaignRow, error) {
	ctx, ts := c.Request().Context(), tenantStore(c)
	cs, err := ts.ActiveCampaigns(ctx, 5)
	if err != nil {
		return nil, err
	}
	rows := make([]views.CampaignRow, 0, len(cs))
	for _, cp := range cs {
		counts, err := ts.CampaignCounts(ctx, cp.ID)
		if err != nil {
			return nil, err
		}
		rows = append(rows, views.CampaignRow{ID: cp.ID, Name: cp.Name, State: cp.State, Recipients: counts.Recipients,
			Sent: counts.Sent, Done: statsView(counts).Percent()})
	}
	return rows, nil
}

func (h *handler) dashboardCampaigns(c echo.Context) error {
	rows, err := activeCampaignsView(c)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.DashboardCampaigns(rows))
}
