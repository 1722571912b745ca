package app

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

func minutesToClock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func clockToMinutes(s string) (int, bool) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

func (h *handler) settingsForm(st *db.AISettings, t *db.Tenant) views.SettingsForm {
	f := views.SettingsForm{
		Enabled: st.Enabled, Persona: st.Persona, Instructions: st.Instructions, Model: st.Model, DefaultModel: h.opts.DefaultModel,
		CostAIReply: h.opts.CostAIReply, CostAIMediaReply: h.opts.CostAIMediaReply,
		Temperature: strconv.FormatFloat(float64(st.Temperature), 'f', -1, 32), Timezone: t.Timezone,
		HoursEnabled: st.HoursEnabled, AfterHoursReply: st.AfterHoursReply, HandoffKeywords: strings.Join(st.HandoffKeywords, ", "),
		BurstWaitSeconds: strconv.FormatFloat(float64(st.BurstWaitMS)/1000, 'f', -1, 64), HourlyLimit: strconv.Itoa(st.HourlyLimit),
		AnswerGroups: st.AnswerGroups, HumanQuietMinutes: strconv.Itoa(st.HumanQuietMinutes),
		OptOutReply: st.OptOutReply, OptInReply: st.OptInReply, HandoffReply: st.HandoffReply, Models: modelChoices(),
	}
	for i := range f.Days {
		f.Days[i] = views.DayForm{OpenTime: "09:00", CloseTime: "18:00"}
		if i < len(st.Hours) && st.Hours[i] != nil {
			f.Days[i] = views.DayForm{Open: true, OpenTime: minutesToClock(st.Hours[i].Open), CloseTime: minutesToClock(st.Hours[i].Close)}
		}
	}
	return f
}

// settingsView is the settings page's view model: form nil shows the saved
// settings; edit is a knowledge entry as posted (ID 0: the new entry) shown
// instead of the stored one.
func (h *handler) settingsView(c echo.Context, form *views.SettingsForm, edit views.KnowledgeRow) (views.Settings, error) {
	ctx := c.Request().Context()
	ts := tenantStore(c)
	vm := views.Settings{}
	if form == nil {
		st, err := ts.AISettings(ctx)
		if err != nil {
			return vm, err
		}
		t, err := ts.Tenant(ctx)
		if err != nil {
			return vm, err
		}
		f := h.settingsForm(st, t)
		form = &f
	}
	vm.Form = *form
	var err error
	vm.Knowledge, err = knowledgeView(ctx, ts, edit)
	return vm, err
}

func (h *handler) showSettings(c echo.Context) error {
	vm, err := h.settingsView(c, nil, views.KnowledgeRow{})
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.SettingsPage(h.shell(c, "AI settings", views.NavSettings), vm), nil)
}

// modelChoices are the models the settings offer.
func modelChoices() []views.Choice {
	out := make([]views.Choice, len(ai.Models))
	for i, m := range ai.Models {
		out[i] = views.Choice{Value: m.ID, Label: m.Label}
	}
	return out
}

// parseSettings reads the posted form into settings, collecting problems by
// field.
func parseSettings(c echo.Context, st *db.AISettings, defaultModel string) (views.SettingsForm, map[string]string) {
	errs := map[string]string{}
	// Text typed by the tenant is sent on WhatsApp and stored: NUL and
	// invalid UTF-8 are cleaned as in messages.
	v := func(name string) string { return whatsapp.CleanText(strings.TrimSpace(c.FormValue(name))) }
	text := func(name string, max int) string {
		s := v(name)
		if utf8.RuneCountInString(s) > max {
			errs[name] = fmt.Sprintf("Keep this under %d characters.", max)
		}
		return s
	}
	number := func(name string, lo, hi float64) float64 {
		n, err := strconv.ParseFloat(v(name), 64)
		if err != nil || math.IsNaN(n) || n < lo || n > hi {
			errs[name] = fmt.Sprintf("Enter a number from %v to %v.", lo, hi)
			return lo
		}
		return n
	}
	f := views.SettingsForm{
		Enabled: v("enabled") == "on", Persona: text("persona", 2000), Instructions: text("instructions", 4000),
		Model: v("model"), Temperature: v("temperature"),
		HoursEnabled: v("hours_enabled") == "on", AfterHoursReply: text("after_hours_reply", 1000),
		HandoffKeywords: v("handoff_keywords"), BurstWaitSeconds: v("burst_wait_seconds"), HourlyLimit: v("hourly_limit"),
		AnswerGroups: v("answer_groups") == "on", HumanQuietMinutes: v("human_quiet_minutes"),
		OptOutReply: text("opt_out_reply", 1000), OptInReply: text("opt_in_reply", 1000),
		HandoffReply: text("handoff_reply", 1000),
	}
	st.Enabled, st.Persona, st.Instructions = f.Enabled, f.Persona, f.Instructions
	f.DefaultModel, f.Models = defaultModel, modelChoices()
	if f.Model != "" && !ai.KnownModel(f.Model, defaultModel) {
		errs["model"] = "Choose one of the models offered."
	}
	st.Model = f.Model
	st.Temperature = float32(number("temperature", 0, 2))
	st.HoursEnabled, st.AfterHoursReply, st.AnswerGroups = f.HoursEnabled, f.AfterHoursReply, f.AnswerGroups
	st.Hours = make([]*db.DayHours, 7)
	for i := range f.Days {
		d := views.DayForm{Open: v("day"+strconv.Itoa(i)) == "on", OpenTime: v("open" + strconv.Itoa(i)), CloseTime: v("close" + strconv.Itoa(i))}
		f.Days[i] = d
		if !d.Open {
			continue
		}
		open, ok1 := clockToMinutes(d.OpenTime)
		closeAt, ok2 := clockToMinutes(d.CloseTime)
		if !ok1 || !ok2 || open >= closeAt {
			errs["hours"] = views.Weekdays[i] + ": the opening time must be before the closing time."
			continue
		}
		st.Hours[i] = &db.DayHours{Open: open, Close: closeAt}
	}
	st.HandoffKeywords = nil
	for _, k := range strings.Split(f.HandoffKeywords, ",") {
		if k = strings.TrimSpace(k); k != "" {
			st.HandoffKeywords = append(st.HandoffKeywords, k)
		}
	}
	if len(st.HandoffKeywords) > 50 {
		errs["handoff_keywords"] = "Use at most 50 keywords."
	}
	st.BurstWaitMS = int(number("burst_wait_seconds", 0, 60) * 1000)
	st.HourlyLimit = int(number("hourly_limit", 0, 1000))
	st.HumanQuietMinutes = int(number("human_quiet_minutes", 1, 100000))
	st.OptOutReply, st.OptInReply, st.HandoffReply = f.OptOutReply, f.OptInReply, f.HandoffReply
	f.Errors = errs
	return f, errs
}

// savedMessage is what a save tells a browser without htmx, at the top of
// the page it lands on.
const savedMessage = "AI settings saved. They apply from the next message."

func (h *handler) saveSettings(c echo.Context) error {
	ctx := c.Request().Context()
	ts := tenantStore(c)
	st, err := ts.AISettings(ctx)
	if err != nil {
		return err
	}
	f, errs := parseSettings(c, st, h.opts.DefaultModel)
	f.Timezone = mustPrincipal(c).tenant.Timezone
	if len(errs) > 0 {
		return h.settingsAnswer(c, http.StatusUnprocessableEntity, f)
	}
	if err := ts.SaveAISettings(ctx, st); err != nil {
		return err
	}
	f.Saved = true
	if !wantsPartial(c) {
		h.putFlash(c, "success", savedMessage)
		return c.Redirect(http.StatusSeeOther, views.PathSettings)
	}
	return h.settingsAnswer(c, http.StatusOK, f)
}

// settingsAnswer shows the settings form as posted: the form alone for
// htmx, else the whole page.
func (h *handler) settingsAnswer(c echo.Context, status int, f views.SettingsForm) error {
	if wantsPartial(c) {
		return renderComponent(c, status, views.SettingsFormView(f))
	}
	vm, err := h.settingsView(c, &f, views.KnowledgeRow{})
	if err != nil {
		return err
	}
	return render(c, status, views.SettingsPage(h.shell(c, "AI settings", views.NavSettings), vm), nil)
}

// resetSettings puts the AI settings back to the defaults a new tenant
// gets; the knowledge and the tenant's time zone and country stay. Without
// confirm=yes (a browser without script, which hx-confirm cannot ask) it
// asks first.
func (h *handler) resetSettings(c echo.Context) error {
	if c.FormValue("confirm") != "yes" {
		return render(c, http.StatusOK, views.SettingsResetPage(h.shell(c, "AI settings", views.NavSettings)), nil)
	}
	ctx := c.Request().Context()
	ts := tenantStore(c)
	t, err := ts.Tenant(ctx)
	if err != nil {
		return err
	}
	st := db.DefaultAISettings(ts.TenantID(), t.Name)
	if err := ts.SaveAISettings(ctx, st); err != nil {
		return err
	}
	const msg = "AI settings reset to the defaults. Your business knowledge is unchanged."
	if !wantsPartial(c) {
		h.putFlash(c, "success", msg)
		return c.Redirect(http.StatusSeeOther, views.PathSettings)
	}
	f := h.settingsForm(st, t)
	f.Saved, f.SavedText = true, msg
	return h.settingsAnswer(c, http.StatusOK, f)
}
