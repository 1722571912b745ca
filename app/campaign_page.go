package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// recipientsPerPage is the size of a page of the campaign's table.
const recipientsPerPage = 50

// showCampaign is a launched campaign's page; a draft's link leads to its
// step.
func (h *handler) showCampaign(c echo.Context) error {
	cp, err := loadCampaign(c)
	if err != nil {
		return err
	}
	if cp.State == db.CampaignDraft {
		return redirect(c, views.CampaignStepPath(cp.ID, cp.Step))
	}
	ctx := c.Request().Context()
	p, err := h.progressView(ctx, c, cp)
	if err != nil {
		return err
	}
	t, err := recipientTable(c, cp.ID)
	if err != nil {
		return err
	}
	vm := views.CampaignPageView{Name: cp.Name, Message: campaignText(cp), Progress: p, Recipients: t}
	return render(c, http.StatusOK, views.CampaignPage(h.shell(c, cp.Name, views.NavCampaigns), vm), nil)
}

// campaignText is the message as the tenant wrote it.
func campaignText(cp *db.Campaign) string {
	if cp.Kind == db.CampaignPoll && cp.Poll != nil {
		return cp.Poll.Question + "\n• " + strings.Join(cp.Poll.Options, "\n• ")
	}
	return cp.Body
}

func (h *handler) campaignProgress(c echo.Context) error {
	cp, err := loadCampaign(c)
	if err != nil {
		return err
	}
	p, err := h.progressView(c.Request().Context(), c, cp)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.CampaignProgressView(p))
}

// progressView is the live part of the campaign's page.
func (h *handler) progressView(ctx context.Context, c echo.Context, cp *db.Campaign) (views.CampaignProgress, error) {
	ts, loc := tenantStore(c), mustPrincipal(c).tenant.Location()
	counts, err := ts.CampaignCounts(ctx, cp.ID)
	if err != nil {
		return views.CampaignProgress{}, err
	}
	p := views.CampaignProgress{ID: cp.ID, Kind: cp.Kind, State: cp.State, PauseReason: cp.PauseReason,
		When: campaignWhen(cp, time.Now(), loc), Stats: statsView(counts)}
	if cp.Kind == db.CampaignPoll {
		if p.Tally, err = tallyView(ctx, ts, cp); err != nil {
			return p, err
		}
	}
	numbers, err := ts.CampaignNumbers(ctx, cp.ID)
	if err != nil {
		return p, err
	}
	for _, n := range numbers {
		label := instanceLabel(&db.Instance{Name: n.Name, Phone: n.Phone})
		p.Numbers = append(p.Numbers, views.CampaignNumber{Label: label, Status: n.Status, Connected: n.Connected(), Paused: n.Paused, Sent: n.Sent})
	}
	return p, nil
}

func statsView(c db.CampaignCounts) views.CampaignStats {
	return views.CampaignStats{Recipients: c.Recipients, Pending: c.Pending, Sending: c.Sending, Sent: c.Sent,
		Delivered: c.Delivered, Read: c.Read, Replied: c.Replied, Failed: c.Failed, Skipped: c.Skipped, Voted: c.Voted, Done: c.Done()}
}

// campaignWhen says when a campaign was scheduled for, started or ended.
func campaignWhen(cp *db.Campaign, now time.Time, loc *time.Location) string {
	switch {
	case cp.State == db.CampaignScheduled && cp.ScheduledAt != nil:
		return "Starts " + views.Relative(*cp.ScheduledAt, now, loc)
	case cp.FinishedAt != nil:
		return "Ended " + views.Relative(*cp.FinishedAt, now, loc)
	case cp.StartedAt != nil:
		return "Started " + views.Relative(*cp.StartedAt, now, loc)
	}
	return ""
}

// tallyView is every option of the poll with its votes, in the poll's
// order, the leading ones marked.
func tallyView(ctx context.Context, ts *db.TenantStore, cp *db.Campaign) ([]views.TallyOption, error) {
	votes, err := ts.CampaignTally(ctx, cp.ID)
	if err != nil || cp.Poll == nil {
		return nil, err
	}
	out := make([]views.TallyOption, len(cp.Poll.Options))
	best := 0
	for i, o := range cp.Poll.Options {
		out[i].Option = o
		if j := slices.IndexFunc(votes, func(v db.OptionVotes) bool { return v.Option == o }); j >= 0 {
			out[i].Votes, out[i].Voters = votes[j].Votes, votes[j].Voters
		}
		best = max(best, out[i].Votes)
	}
	for i := range out {
		out[i].Leading = best > 0 && out[i].Votes == best
	}
	return out, nil
}

// leadingOption is the option with the most votes ("" without votes), for
// the list.
func leadingOption(ctx context.Context, ts *db.TenantStore, cp *db.Campaign) (string, error) {
	if cp.Kind != db.CampaignPoll || cp.State == db.CampaignDraft {
		return "", nil
	}
	votes, err := ts.CampaignTally(ctx, cp.ID)
	if err != nil || len(votes) == 0 {
		return "", err
	}
	return votes[0].Option, nil
}

func (h *handler) campaignRecipients(c echo.Context) error {
	cp, err := loadCampaign(c)
	if err != nil {
		return err
	}
	t, err := recipientTable(c, cp.ID)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.RecipientTableView(t))
}

// recipientFilter is the table's filter from the query: a known status or
// all.
func recipientFilter(c echo.Context) string {
	f := c.QueryParam("status")
	if slices.ContainsFunc(views.RecipientFilters, func(x struct{ Key, Title string }) bool { return x.Key == f }) {
		return f
	}
	return ""
}

// recipientTable is the page of the campaign's recipients the query asks
// for.
func recipientTable(c echo.Context, campaignID int64) (views.RecipientTable, error) {
	filter := recipientFilter(c)
	page, _ := strconv.Atoi(c.QueryParam("page"))
	pg := db.Page{Number: page, PerPage: recipientsPerPage}.Normalize()
	rs, total, err := tenantStore(c).CampaignRecipients(c.Request().Context(), campaignID, db.RecipientFilter{Status: filter}, pg)
	if err != nil {
		return views.RecipientTable{}, err
	}
	t := views.RecipientTable{CampaignID: campaignID, Filter: filter, Pager: views.Pager{Page: pg.Number,
		Pages: (total + pg.PerPage - 1) / pg.PerPage, Total: total, Target: views.IDCampaignRecipients,
		URL: func(n int) string { return views.CampaignRecipientsPath(campaignID, filter, n) }}}
	for _, r := range rs {
		v := views.RecipientView{Row: r.RowNumber, Phone: r.Phone, Name: r.Name, Status: r.Status, Replied: r.Replied,
			Vote: voteText(&r.Recipient)}
		if r.Status == db.StatusFailed || r.Status == db.StatusSkipped {
			v.Reason = r.Why()
		}
		if r.ContactID != nil {
			v.ContactID = *r.ContactID
		}
		t.Rows = append(t.Rows, v)
	}
	return t, nil
}

// campaignResults downloads every recipient with its status, reason,
// reply and vote, in file order, streamed in batches.
func (h *handler) campaignResults(c echo.Context) error {
	cp, err := loadCampaign(c)
	if err != nil {
		return err
	}
	ctx, ts := c.Request().Context(), tenantStore(c)
	hd := c.Response().Header()
	hd.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="campaign-%d-results.csv"`, cp.ID))
	hd.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
	w := campaign.NewCSVWriter(c.Response())
	w.Write([]string{"Row", "WhatsApp number", "Name", "Status", "Reason", "Replied", "Vote"})
	const batch = 5000
	for from := 0; ; {
		rs, err := ts.CampaignRecipientsFrom(ctx, cp.ID, db.RecipientFilter{FromRow: from}, batch)
		if err != nil {
			return err
		}
		for _, r := range rs {
			replied := ""
			if r.Replied {
				replied = "yes"
			}
			w.Write([]string{strconv.Itoa(r.RowNumber), r.Phone, r.Name, r.Status, r.Why(), replied, voteText(&r.Recipient)})
		}
		if len(rs) < batch {
			break
		}
		from = rs[len(rs)-1].RowNumber + 1
	}
	return w.Close()
}

// campaignAction pauses, resumes, cancels a campaign or retries its failed
// messages, then shows its progress (htmx) or its page.
func (h *handler) campaignAction(c echo.Context) error {
	cp, err := loadCampaign(c)
	if err != nil {
		return err
	}
	ctx, ts := c.Request().Context(), tenantStore(c)
	var (
		changed bool
		done    string
	)
	switch c.Param("action") {
	case "pause":
		changed, err = ts.PauseCampaign(ctx, cp.ID, "Paused by you.")
		done = "Paused: nothing more is sent until you resume it."
	case "resume":
		changed, err = ts.ResumeCampaign(ctx, cp.ID)
		done = "Resumed."
	case "cancel":
		changed, err = ts.CancelCampaign(ctx, cp.ID)
		done = "Cancelled: the leads not yet sent to will not get it."
	case "retry":
		var n int
		n, err = ts.RetryFailedRecipients(ctx, cp.ID)
		if errors.Is(err, db.ErrCampaignCancelled) {
			return Errorf(EConflict, "This campaign was cancelled: it cannot send again.")
		}
		changed, done = n > 0, fmt.Sprintf("%s failed message%s will be sent again, charged again once each.", views.Number(int64(n)), plural(n))
	default:
		return echo.ErrNotFound
	}
	if err != nil {
		return err
	}
	return h.afterCampaignAction(c, cp.ID, changed, done)
}

// afterCampaignAction tells the pages, asks the numbers of a sending
// campaign for their next message, and answers.
func (h *handler) afterCampaignAction(c echo.Context, id int64, changed bool, done string) error {
	ctx := c.Request().Context()
	cp, err := tenantStore(c).Campaign(ctx, id)
	if err != nil {
		return err
	}
	if changed {
		h.startDispatch(ctx, cp)
		h.publish(c, live.CampaignUpdated, map[string]int64{"campaign_id": id})
	}
	if !changed && c.Param("action") == "retry" {
		done = "No message of this campaign has failed."
	} else if !changed {
		done = "The campaign is " + strings.ToLower(views.CampaignStateTitle(cp.State)) + " already."
	}
	if !isHTMX(c) {
		h.putFlash(c, "success", done)
		return redirect(c, views.CampaignPath(id))
	}
	p, err := h.progressView(ctx, c, cp)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.CampaignProgressView(p))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// voteText is a recipient's vote as the page and the results file say it.
func voteText(r *db.Recipient) string {
	if r.VoteUnreadable() {
		return "(a choice WhatsApp could not let us read)"
	}
	return strings.Join(r.Vote, ", ")
}
