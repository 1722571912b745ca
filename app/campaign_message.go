package app

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// messageFormOf is the message form of a stored draft. Body is the first
// text and Variants the other ones; Kind says whether the text or the poll
// is sent (both are kept while the tenant switches).
func messageFormOf(cp *db.Campaign) views.MessageForm {
	f := views.MessageForm{Name: cp.Name, Kind: cp.Kind, Texts: append([]string{cp.Body}, cp.Variants...)}
	if cp.MediaID != nil {
		f.ImageID = *cp.MediaID
	}
	if cp.Poll != nil {
		f.Question, f.Options, f.Multiple = cp.Poll.Question, strings.Join(cp.Poll.Options, "\n"), cp.Poll.Multiple
	}
	return withVars(f, cp)
}

// withVars pads the texts to every variant and adds the file's variables
// and those the texts use that the file lacks.
func withVars(f views.MessageForm, cp *db.Campaign) views.MessageForm {
	for len(f.Texts) < campaign.MaxVariants {
		f.Texts = append(f.Texts, "")
	}
	f.Texts = f.Texts[:campaign.MaxVariants]
	var headers []string
	f.Vars = nil
	for _, v := range mappingOf(cp).Variables {
		f.Vars, headers = append(f.Vars, v.Key), append(headers, v.Header)
	}
	f.Missing = nil
	seen := map[string]bool{}
	for _, text := range f.Texts {
		if t, err := campaign.ParseTemplate(text); err == nil {
			for _, m := range t.Missing(headers) {
				if !seen[m] {
					seen[m] = true
					f.Missing = append(f.Missing, m)
				}
			}
		}
	}
	return f
}

// parseMessage reads the posted message form, with problems by field.
func parseMessage(c echo.Context, cp *db.Campaign) views.MessageForm {
	v := func(name string) string { return whatsapp.CleanText(c.FormValue(name)) }
	f := views.MessageForm{Name: strings.TrimSpace(v("name")), Kind: v("kind"), Question: strings.TrimSpace(v("question")),
		Options: v("options"), Multiple: v("multiple") == "on", RemoveImage: v("remove_image") == "on", Errors: map[string]string{}}
	if cp.MediaID != nil {
		f.ImageID = *cp.MediaID
	}
	if f.Kind != db.CampaignPoll {
		f.Kind = db.CampaignText
	}
	form, _ := c.FormParams()
	for _, t := range form["text"] {
		f.Texts = append(f.Texts, whatsapp.CleanText(t))
	}
	return withVars(f, cp)
}

// pollOptions are the options typed one per line, blank lines left out.
func pollOptions(s string) []string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// validateMessage puts every problem at its field.
func validateMessage(f *views.MessageForm) {
	switch n := utf8.RuneCountInString(f.Name); {
	case n == 0:
		f.Errors["name"] = "Give the campaign a name."
	case n > 120:
		f.Errors["name"] = "Keep the name under 120 characters."
	}
	if f.Kind == db.CampaignPoll {
		err := campaign.Poll{Question: f.Question, Options: pollOptions(f.Options), Multiple: f.Multiple}.Validate()
		var joined interface{ Unwrap() []error }
		if errors.As(err, &joined) {
			for _, e := range joined.Unwrap() {
				field := "options"
				if strings.Contains(e.Error(), "question") {
					field = "question"
				}
				f.Errors[field] = strings.TrimSpace(f.Errors[field] + " " + sentence(e.Error()))
			}
		}
		return
	}
	if strings.TrimSpace(f.Texts[0]) == "" {
		f.Errors["text1"] = "Write the message."
	}
	limit, what := campaign.MaxTextLength, "WhatsApp allows 4,096 characters"
	if f.HasImage() {
		limit, what = whatsapp.MaxCaption, "With an image the message is its caption, and WhatsApp allows 1,024 characters"
	}
	for i, text := range f.Texts {
		if strings.TrimSpace(text) == "" {
			continue
		}
		if _, err := campaign.ParseTemplate(text); err != nil {
			f.Errors["text"+strconv.Itoa(i+1)] = sentence(err.Error())
		} else if n := utf8.RuneCountInString(text); n > limit {
			f.Errors["text"+strconv.Itoa(i+1)] = what + "; this has " + strconv.Itoa(n) + "."
		}
	}
}

// sentence capitalises a message and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:] + "."
}

// texts are the non-empty texts of the form, the first one first.
func texts(f views.MessageForm) []string {
	var out []string
	for _, t := range f.Texts {
		if strings.TrimSpace(t) != "" {
			out = append(out, t)
		}
	}
	return out
}

func (h *handler) showCampaignMessage(c echo.Context) error {
	cp, ok, err := uploaded(c)
	if !ok {
		return err
	}
	if err := reach(c, cp, views.StepMessage); err != nil {
		return err
	}
	row, _ := strconv.Atoi(c.QueryParam("row"))
	f := messageFormOf(cp)
	p, err := messagePreview(c.Request().Context(), tenantStore(c), cp.ID, f, row)
	if err != nil {
		return err
	}
	vm := views.MessageStep{W: wizardOf(cp, views.StepMessage), Form: f, Preview: p}
	return render(c, http.StatusOK, views.CampaignMessagePage(h.shell(c, cp.Name, views.NavCampaigns), vm), nil)
}

func (h *handler) saveCampaignMessage(c echo.Context) error {
	cp, err := draftCampaign(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	f := parseMessage(c, cp)
	img, problem, err := postedImage(c)
	if err != nil {
		return err
	}
	if f.Kind == db.CampaignPoll {
		img, problem = nil, "" // a poll has no image; its field is hidden
	}
	f.NewImage = img != nil
	if validateMessage(&f); problem != "" {
		f.Errors["image"] = problem
	}
	if len(f.Errors) > 0 {
		return h.messageAnswer(c, cp, f, http.StatusUnprocessableEntity)
	}
	all := texts(f)
	cp.Name, cp.Kind, cp.Body, cp.Variants = f.Name, f.Kind, "", []string{}
	if len(all) > 0 {
		cp.Body, cp.Variants = all[0], all[1:]
	}
	if f.Question != "" || f.Options != "" {
		cp.Poll = &db.CampaignPollSpec{Question: f.Question, Options: pollOptions(f.Options), Multiple: f.Multiple}
	}
	if err := saveMessageDraft(ctx, tenantStore(c), cp, f, img); err != nil {
		return err
	}
	f.ImageID, f.RemoveImage, f.NewImage = 0, false, false
	if cp.MediaID != nil {
		f.ImageID = *cp.MediaID
	}
	if c.FormValue("next") == views.StepSend {
		return redirect(c, views.CampaignStepPath(cp.ID, views.StepSend))
	}
	if wantsPartial(c) {
		f.Saved = true
		return h.messageAnswer(c, cp, f, http.StatusOK)
	}
	h.putFlash(c, "success", "Draft saved. You can come back to it from Campaigns at any time.")
	return redirect(c, views.CampaignStepPath(cp.ID, views.StepMessage))
}

// messageAnswer shows the message form as posted, with its preview: the
// form alone for htmx, else the whole page.
func (h *handler) messageAnswer(c echo.Context, cp *db.Campaign, f views.MessageForm, status int) error {
	row, _ := strconv.Atoi(c.FormValue("row"))
	p, err := messagePreview(c.Request().Context(), tenantStore(c), cp.ID, f, row)
	if err != nil {
		return err
	}
	vm := views.MessageStep{W: wizardOf(cp, views.StepMessage), Form: f, Preview: p}
	if wantsPartial(c) {
		return renderComponent(c, status, views.MessageFormView(vm))
	}
	return render(c, status, views.CampaignMessagePage(h.shell(c, cp.Name, views.NavCampaigns), vm), nil)
}

// campaignPreview is the live preview partial for the form as typed.
func (h *handler) campaignPreview(c echo.Context) error {
	cp, err := loadCampaign(c)
	if err != nil {
		return err
	}
	row, _ := strconv.Atoi(c.FormValue("row"))
	p, err := messagePreview(c.Request().Context(), tenantStore(c), cp.ID, parseMessage(c, cp), row)
	if err != nil {
		return err
	}
	return renderComponent(c, http.StatusOK, views.MessagePreviewView(p))
}

// messagePreview renders the message for the index-th recipient (counting
// from 0, wrapping round) as WhatsApp will show it.
func messagePreview(ctx context.Context, ts *db.TenantStore, campaignID int64, f views.MessageForm, index int) (views.MessagePreview, error) {
	p := views.MessagePreview{CampaignID: campaignID}
	rs, total, err := ts.Recipients(ctx, campaignID, db.Page{Number: max(index, 0) + 1, PerPage: 1})
	if err == nil && len(rs) == 0 && total > 0 {
		index = 0
		rs, total, err = ts.Recipients(ctx, campaignID, db.Page{Number: 1, PerPage: 1})
	}
	if err != nil || len(rs) == 0 {
		p.Error = "Nobody in the list can receive the campaign: upload a file with valid numbers."
		return p, err
	}
	r := rs[0]
	p.Index, p.Total, p.Row, p.Phone, p.Name = max(index, 0), total, r.RowNumber, r.Phone, r.Name
	if f.Kind == db.CampaignPoll {
		p.Poll, p.Question, p.Options, p.Multiple = true, f.Question, pollOptions(f.Options), f.Multiple
		return p, nil
	}
	if f.ImageID != 0 && !f.RemoveImage {
		p.ImageURL = views.CampaignImagePath(campaignID, f.ImageID)
	}
	all := texts(f)
	if len(all) == 0 {
		p.Error = "Write your message: it shows here as this lead will see it."
		return p, nil
	}
	tpls, err := campaign.ParseVariants(all)
	if err != nil {
		p.Error = sentence(err.Error())
		return p, nil
	}
	p.Variants = len(tpls)
	p.Variant = campaign.PickVariant(r.Phone, len(tpls))
	for _, s := range campaign.FormatPreview(tpls[p.Variant].Render(r.Vars)) {
		p.Spans = append(p.Spans, views.Span(s))
	}
	return p, nil
}
