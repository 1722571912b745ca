package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/jobs"
	"github.com/myaibud/aibud/views"
)

// Bounds of the sending step's settings.
const (
	maxDailyCap     = 1000
	maxPauseMinutes = 120
	// maxScheduleAhead is how far ahead a campaign can be scheduled.
	maxScheduleAhead = 90 * 24 * time.Hour
	// Default quiet hours offered: no messages from 21:00 to 08:00.
	defaultQuietStart = 21 * 60
	defaultQuietEnd   = 8 * 60
)

const (
	dateTimeLocal = "2006-01-02T15:04"
	clockLayout   = "15:04"
)

// sendSettings is what the sending step decides, as launched or saved.
type sendSettings struct {
	numbers    []int64
	at         *time.Time
	pace       campaign.Pace
	quiet      bool
	start, end int
}

// storedPace is a draft's pace, or the default.
func storedPace(cp *db.Campaign) campaign.Pace {
	p := campaign.DefaultPace()
	if len(cp.Pace) > 0 && string(cp.Pace) != "{}" {
		var set campaign.Pace
		if json.Unmarshal(cp.Pace, &set) == nil && set.Validate() == nil {
			p = set
		}
	}
	return p
}

func clock(minute int) string { return fmt.Sprintf("%02d:%02d", minute/60, minute%60) }

// sendFormOf is the sending form of a stored draft: its settings, or the
// defaults (every connected number, now, the default pace, quiet hours
// 21:00–08:00).
func sendFormOf(cp *db.Campaign, insts []db.Instance, loc *time.Location) views.SendForm {
	p := storedPace(cp)
	f := views.SendForm{When: "now", Zone: loc.String(), PerMinute: strconv.Itoa(p.PerMinute), DailyCap: strconv.Itoa(p.DailyCap),
		PauseEvery: strconv.Itoa(p.PauseEvery), PauseMinutes: strconv.Itoa(int(p.PauseFor / time.Minute)),
		Quiet: cp.Step != views.StepSend || cp.QuietStart != nil, QuietStart: clock(defaultQuietStart), QuietEnd: clock(defaultQuietEnd),
		Errors: map[string]string{}}
	if cp.QuietStart != nil && cp.QuietEnd != nil {
		f.QuietStart, f.QuietEnd = clock(*cp.QuietStart), clock(*cp.QuietEnd)
	}
	if cp.ScheduledAt != nil {
		f.When, f.At = "later", cp.ScheduledAt.In(loc).Format(dateTimeLocal)
	}
	f.Numbers = sendNumbers(insts, cp.InstanceIDs, len(cp.InstanceIDs) == 0)
	return f
}

// sendNumbers lists the tenant's numbers with the chosen ones checked (or
// every connected one, for a first visit).
func sendNumbers(insts []db.Instance, chosen []int64, all bool) []views.SendNumber {
	now := time.Now()
	out := make([]views.SendNumber, 0, len(insts))
	for _, in := range insts {
		n := views.SendNumber{ID: in.ID, Label: instanceLabel(&in), Status: in.Status, Connected: canSend(&in)}
		if in.PausedAt != nil {
			n.Status = "paused: over your plan's numbers"
		}
		n.Checked = n.Connected && (all || slices.Contains(chosen, in.ID))
		if pct := campaign.Ramp(campaign.Pace{PerMinute: 100, DailyCap: 100}, in.StatusChangedAt, now).PerMinute; n.Connected && pct < 100 {
			n.Ramp = fmt.Sprintf("Connected recently: it sends at %d %% of the pace and daily cap below until it is a week old, so that WhatsApp gets used to it.", pct)
		}
		out = append(out, n)
	}
	return out
}

// canSend reports whether a campaign can be sent from a number now:
// connected, and not paused for being over the plan's limit.
func canSend(in *db.Instance) bool { return in.Status == db.InstanceConnected && in.PausedAt == nil }

// instanceLabel names a number for people: its name and phone.
func instanceLabel(in *db.Instance) string {
	label := in.Name
	if in.Phone != nil && *in.Phone != "" {
		label += " (" + *in.Phone + ")"
	}
	return label
}

// parseSend reads the posted sending form into the form to show again and
// the settings, with problems by field.
func parseSend(c echo.Context, insts []db.Instance, loc *time.Location) (views.SendForm, sendSettings) {
	form, _ := c.FormParams()
	f := views.SendForm{When: c.FormValue("when"), At: c.FormValue("at"), Zone: loc.String(), PerMinute: c.FormValue("per_minute"),
		DailyCap: c.FormValue("daily_cap"), PauseEvery: c.FormValue("pause_every"), PauseMinutes: c.FormValue("pause_minutes"),
		Quiet: c.FormValue("quiet") == "on", QuietStart: c.FormValue("quiet_start"), QuietEnd: c.FormValue("quiet_end"),
		Errors: map[string]string{}}
	if f.When != "later" {
		f.When = "now"
	}
	var s sendSettings
	for _, raw := range form["number"] {
		id, err := strconv.ParseInt(raw, 10, 64)
		i := slices.IndexFunc(insts, func(in db.Instance) bool { return in.ID == id })
		if err == nil && i >= 0 && canSend(&insts[i]) && !slices.Contains(s.numbers, id) {
			s.numbers = append(s.numbers, id)
		}
	}
	f.Numbers = sendNumbers(insts, s.numbers, false)
	s.pace = parsePace(&f)
	s.quiet, s.start, s.end = parseQuiet(&f)
	s.at = parseWhen(&f, loc, time.Now())
	return f, s
}

// intField reads a whole number within [lo, hi], or records the problem.
func intField(f *views.SendForm, name, raw string, lo, hi int) int {
	n, err := strconv.Atoi(strings.TrimSpace(raw))
	if err != nil || n < lo || n > hi {
		f.Errors[name] = fmt.Sprintf("Enter a whole number from %d to %d.", lo, hi)
	}
	return n
}

func parsePace(f *views.SendForm) campaign.Pace {
	p := campaign.DefaultPace()
	p.PerMinute = intField(f, "per_minute", f.PerMinute, 1, 60)
	p.DailyCap = intField(f, "daily_cap", f.DailyCap, 1, maxDailyCap)
	p.PauseEvery = intField(f, "pause_every", f.PauseEvery, 0, maxDailyCap)
	p.PauseFor = time.Duration(intField(f, "pause_minutes", f.PauseMinutes, 1, maxPauseMinutes)) * time.Minute
	return p
}

func parseQuiet(f *views.SendForm) (bool, int, int) {
	minute := func(name, raw string) int {
		t, err := time.Parse(clockLayout, raw)
		if err != nil {
			if f.Quiet {
				f.Errors[name] = "Enter a time such as 21:00."
			}
			return 0
		}
		return t.Hour()*60 + t.Minute()
	}
	start, end := minute("quiet_start", f.QuietStart), minute("quiet_end", f.QuietEnd)
	if f.Quiet && start == end && f.Errors["quiet_start"] == "" {
		f.Errors["quiet_end"] = "Quiet hours need an end different from their start."
	}
	return f.Quiet, start, end
}

// parseWhen reads the scheduled time in the tenant's zone: nil for now.
func parseWhen(f *views.SendForm, loc *time.Location, now time.Time) *time.Time {
	if f.When != "later" {
		return nil
	}
	at, err := time.ParseInLocation(dateTimeLocal, strings.TrimSpace(f.At), loc)
	switch {
	case err != nil:
		f.Errors["at"] = "Pick the date and time to send at."
		return nil
	case !at.After(now):
		f.Errors["at"] = "That time has passed: pick a time to come, or send now."
	case at.Sub(now) > maxScheduleAhead:
		f.Errors["at"] = "A campaign can be scheduled up to 90 days ahead."
	}
	return &at
}

// validateLaunch adds what only a launch needs: a number to send from.
func validateLaunch(f *views.SendForm, s sendSettings) {
	if len(s.numbers) == 0 {
		f.Errors["numbers"] = "Pick at least one connected number to send from."
	}
}

// apply stores the settings in the draft.
func (s sendSettings) apply(cp *db.Campaign) {
	raw, _ := json.Marshal(s.pace)
	cp.InstanceIDs, cp.Pace, cp.ScheduledAt = s.numbers, raw, s.at
	if cp.InstanceIDs == nil {
		cp.InstanceIDs = []int64{}
	}
	cp.QuietStart, cp.QuietEnd = nil, nil
	if s.quiet {
		cp.QuietStart, cp.QuietEnd = &s.start, &s.end
	}
}

// messageReady reports whether the draft's message can be sent.
func messageReady(cp *db.Campaign) bool {
	if cp.Kind == db.CampaignPoll {
		return cp.Poll != nil && campaign.Poll{Question: cp.Poll.Question, Options: cp.Poll.Options, Multiple: cp.Poll.Multiple}.Validate() == nil
	}
	_, err := campaign.ParseVariants(append([]string{cp.Body}, cp.Variants...))
	return strings.TrimSpace(cp.Body) != "" && err == nil
}

// sendable is the draft at the sending step, or a redirect to the step that
// is missing.
func (h *handler) sendable(c echo.Context) (*db.Campaign, bool, error) {
	cp, ok, err := uploaded(c)
	if !ok {
		return cp, false, err
	}
	if cp.State != db.CampaignDraft {
		return cp, false, redirect(c, views.CampaignPath(cp.ID))
	}
	if stepIndex(cp.Step) < stepIndex(views.StepMessage) || !messageReady(cp) {
		h.putFlash(c, "info", "Write your message first; then choose the numbers and the time.")
		return cp, false, redirect(c, views.CampaignStepPath(cp.ID, views.StepMessage))
	}
	return cp, true, nil
}

func (h *handler) showCampaignSend(c echo.Context) error {
	cp, ok, err := h.sendable(c)
	if !ok {
		return err
	}
	ctx := c.Request().Context()
	insts, err := tenantStore(c).Instances(ctx)
	if err != nil {
		return err
	}
	loc := mustPrincipal(c).tenant.Location()
	f := sendFormOf(cp, insts, loc) // before reach: a first visit gets the defaults
	if err := reach(c, cp, views.StepSend); err != nil {
		return err
	}
	est, err := h.estimate(ctx, c, cp, formSettings(f, loc))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.CampaignSendPage(h.shell(c, cp.Name, views.NavCampaigns), views.SendStep{W: wizardOf(cp, views.StepSend), Form: f, Est: est}), nil)
}

// formSettings is what a form shown from the draft sets, for its first
// estimate.
func formSettings(f views.SendForm, loc *time.Location) sendSettings {
	var s sendSettings
	for _, n := range f.Numbers {
		if n.Checked {
			s.numbers = append(s.numbers, n.ID)
		}
	}
	check := f
	check.Errors = map[string]string{} // the stored values were valid when saved
	s.pace = parsePace(&check)
	s.quiet, s.start, s.end = parseQuiet(&check)
	if f.When == "later" {
		if at, err := time.ParseInLocation(dateTimeLocal, f.At, loc); err == nil {
			s.at = &at
		}
	}
	return s
}

// estimate is the cost of the campaign against the balance, and when it
// should finish at the pace set.
func (h *handler) estimate(ctx context.Context, c echo.Context, cp *db.Campaign, s sendSettings) (views.SendEstimate, error) {
	ts, t := tenantStore(c), mustPrincipal(c).tenant
	counts, err := ts.CampaignCounts(ctx, cp.ID)
	if err != nil {
		return views.SendEstimate{}, err
	}
	balance, err := ts.CreditBalance(ctx)
	if err != nil {
		return views.SendEstimate{}, err
	}
	price := h.opts.CostMessage
	cost := campaign.CostCheck(campaign.Cost(counts.Pending, price), balance)
	e := views.SendEstimate{CampaignID: cp.ID, Recipients: counts.Pending, Price: price, Cost: cost.Cost, Balance: balance,
		Covered: cost.Covered, Short: cost.Short, Affordable: min(campaign.Affordable(balance, price), int64(counts.Pending))}
	if len(s.numbers) == 0 || s.pace.Validate() != nil {
		return e, nil
	}
	insts, err := ts.Instances(ctx)
	if err != nil {
		return e, err
	}
	loc, start := t.Location(), time.Now()
	if s.at != nil && s.at.After(start) {
		start = *s.at
	}
	var plans []campaign.NumberPlan
	for _, in := range insts {
		if slices.Contains(s.numbers, in.ID) {
			plan := campaign.NumberPlan{Pace: campaign.Ramp(s.pace, in.StatusChangedAt, start)}
			if s.quiet && s.start != s.end {
				plan.Quiet = campaign.QuietHours{Start: s.start, End: s.end}
			}
			plans = append(plans, plan)
		}
	}
	finish := campaign.Estimate(counts.Pending, plans, start, loc)
	if !finish.IsZero() {
		e.Finish, e.Days = views.Relative(finish, time.Now(), loc), campaign.DaysAfter(start, finish, loc)
		if campaign.DaysAfter(time.Now(), finish, loc) == 0 {
			e.Finish = "today at " + e.Finish
		}
	}
	return e, nil
}

// campaignEstimate is the estimate partial for the form as typed.
func (h *handler) campaignEstimate(c echo.Context) error {
	cp, err := loadCampaign(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	insts, err := tenantStore(c).Instances(ctx)
	if err != nil {
		return err
	}
	_, s := parseSend(c, insts, mustPrincipal(c).tenant.Location())
	e, err := h.estimate(ctx, c, cp, s)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.SendEstimateView(e))
}

// saveCampaignSend saves the sending settings, or launches the campaign.
func (h *handler) saveCampaignSend(c echo.Context) error {
	cp, err := draftCampaign(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ts, loc := tenantStore(c), mustPrincipal(c).tenant.Location()
	insts, err := ts.Instances(ctx)
	if err != nil {
		return err
	}
	f, s := parseSend(c, insts, loc)
	launch := c.FormValue("action") == "launch"
	if launch {
		validateLaunch(&f, s)
	}
	if len(f.Errors) > 0 {
		return h.sendAnswer(c, cp, f, s, http.StatusUnprocessableEntity)
	}
	s.apply(cp)
	if err := saveDraft(ctx, ts, cp); err != nil {
		return err
	}
	if !launch {
		h.putFlash(c, "success", "Draft saved. You can come back to it from Campaigns at any time.")
		return redirect(c, views.CampaignStepPath(cp.ID, views.StepSend))
	}
	return h.launch(c, cp, s)
}

func (h *handler) sendAnswer(c echo.Context, cp *db.Campaign, f views.SendForm, s sendSettings, status int) error {
	e, err := h.estimate(c.Request().Context(), c, cp, s)
	if err != nil {
		return err
	}
	vm := views.SendStep{W: wizardOf(cp, views.StepSend), Form: f, Est: e}
	return render(c, status, views.CampaignSendPage(h.shell(c, cp.Name, views.NavCampaigns), vm), nil)
}

// launch sends (or schedules) the campaign, makes its recipients contacts
// tagged with it, and asks each number for its first message.
func (h *handler) launch(c echo.Context, cp *db.Campaign, s sendSettings) error {
	ctx := c.Request().Context()
	l := db.Launch{InstanceIDs: cp.InstanceIDs, Pace: cp.Pace, QuietStart: cp.QuietStart, QuietEnd: cp.QuietEnd,
		Price: h.opts.CostMessage, At: s.at, Tag: campaignTag(cp.Name)}
	launched, err := tenantStore(c).LaunchCampaign(ctx, cp.ID, l)
	if errors.Is(err, db.ErrNotDraft) {
		return errLaunched
	}
	if err != nil {
		return err
	}
	h.startDispatch(ctx, launched)
	h.publish(c, live.CampaignUpdated, map[string]int64{"campaign_id": cp.ID})
	if launched.State == db.CampaignScheduled {
		h.putFlash(c, "success", "Scheduled. It starts on its own at the time you chose; you can pause or cancel it here.")
	} else {
		h.putFlash(c, "success", "Launched. Messages go out at the pace you set; this page follows them live.")
	}
	return redirect(c, views.CampaignPath(cp.ID))
}

// startDispatch asks each number of a sending campaign for its next
// message now. A task that cannot be queued is not lost: the sweeper asks
// for the dispatch of every number with messages due.
func (h *handler) startDispatch(ctx context.Context, cp *db.Campaign) {
	if cp.State != db.CampaignSending {
		return
	}
	for _, id := range cp.InstanceIDs {
		t, err := jobs.NewDispatchCampaignTask(jobs.DispatchCampaignPayload{TenantID: cp.TenantID, InstanceID: id}, time.Now())
		if err == nil {
			_, err = h.queue.EnqueueContext(ctx, t)
		}
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			h.log.WarnContext(ctx, "enqueue campaign dispatch; the sweeper will do it", "campaign_id", cp.ID, "instance_id", id, "err", err)
		}
	}
}

// campaignTag is the tag a campaign's recipients get: its name as a tag
// (lower case, at most 40 characters; see parseTags).
func campaignTag(name string) string {
	t := strings.ToLower(strings.Join(strings.Fields(name), " "))
	for utf8.RuneCountInString(t) > 40 {
		_, n := utf8.DecodeLastRuneInString(t)
		t = strings.TrimSpace(t[:len(t)-n])
	}
	return t
}
