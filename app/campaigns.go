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

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// campaignUploadRoute is the upload's route pattern: it alone has a larger
// body limit and a longer timeout (see routes).
const campaignUploadRoute = views.PathCampaigns + "/:id/" + views.StepUpload

// uploadBodyLimit leaves room around campaign.MaxBytes for the multipart
// envelope, so a file just over 20 MB gets the package's own message.
const uploadBodyLimit = "21MiB"

// uploadTimeout bounds reading, cleaning and storing a 100,000-row file.
const uploadTimeout = 2 * time.Minute

// longDeadlines lifts the server's read and write deadlines (60 s) to d
// for a route that receives large bodies, such as a 20 MB file over a slow
// phone connection; it runs before anything reads the body.
func longDeadlines(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			rc := http.NewResponseController(c.Response())
			_ = rc.SetReadDeadline(time.Now().Add(d))
			_ = rc.SetWriteDeadline(time.Now().Add(d))
			return next(c)
		}
	}
}

// errLaunched is what a launched campaign's wizard says to an edit.
var errLaunched = Errorf(EConflict, "This campaign has been launched: its list and message can no longer be changed.")

// campaignMapping is the shape of Campaign.Mapping: the columns read and the
// workbook's sheets, so that a new upload can offer them.
type campaignMapping struct {
	Phone     int                 `json:"phone"`
	Name      int                 `json:"name"`
	Variables []campaign.Variable `json:"variables"`
	Sheets    []string            `json:"sheets,omitempty"`
}

func mappingOf(cp *db.Campaign) campaignMapping {
	m := campaignMapping{Phone: -1, Name: -1}
	_ = json.Unmarshal(cp.Mapping, &m)
	return m
}

// loadCampaign is the :id campaign of the signed-in tenant; another
// tenant's is a 404.
func loadCampaign(c echo.Context) (*db.Campaign, error) {
	id, err := pathID(c)
	if err != nil {
		return nil, err
	}
	return tenantStore(c).Campaign(c.Request().Context(), id)
}

// draftCampaign is loadCampaign for an edit: a launched campaign is a 409.
func draftCampaign(c echo.Context) (*db.Campaign, error) {
	cp, err := loadCampaign(c)
	if err == nil && cp.State != db.CampaignDraft {
		return nil, errLaunched
	}
	return cp, err
}

// saveDraft stores the draft's fields; a launch in between is a 409.
func saveDraft(ctx context.Context, ts *db.TenantStore, cp *db.Campaign) error {
	if err := ts.SaveCampaignDraft(ctx, cp); errors.Is(err, db.ErrNotDraft) {
		return errLaunched
	} else if err != nil {
		return err
	}
	return nil
}

func stepIndex(step string) int { return slices.Index(views.CampaignSteps, step) }

// reach moves the draft's furthest step on to step, when it is further.
func reach(c echo.Context, cp *db.Campaign, step string) error {
	if cp.State != db.CampaignDraft || stepIndex(step) <= stepIndex(cp.Step) {
		return nil
	}
	cp.Step = step
	return saveDraft(c.Request().Context(), tenantStore(c), cp)
}

func wizardOf(cp *db.Campaign, current string) views.Wizard {
	return views.Wizard{ID: cp.ID, Name: cp.Name, Current: current, Reached: cp.Step, Launched: cp.State != db.CampaignDraft}
}

func (h *handler) listCampaigns(c echo.Context) error {
	ctx := c.Request().Context()
	ts, loc := tenantStore(c), mustPrincipal(c).tenant.Location()
	page, _ := strconv.Atoi(c.QueryParam("page"))
	pg := db.Page{Number: page, PerPage: 20}.Normalize()
	cs, total, err := ts.Campaigns(ctx, pg)
	if err != nil {
		return err
	}
	vm := views.CampaignList{Loc: loc, Pager: views.Pager{Page: pg.Number, Pages: (total + pg.PerPage - 1) / pg.PerPage, Total: total,
		URL: func(n int) string { return views.PathCampaigns + "?page=" + strconv.Itoa(n) }, Target: "main"}}
	for _, cp := range cs {
		counts, err := ts.CampaignCounts(ctx, cp.ID)
		if err != nil {
			return err
		}
		leading, err := leadingOption(ctx, ts, &cp)
		if err != nil {
			return err
		}
		vm.Rows = append(vm.Rows, views.CampaignRow{ID: cp.ID, Name: cp.Name, State: cp.State, Step: cp.Step,
			Recipients: counts.Recipients, Sent: counts.Sent, Failed: counts.Failed, Replied: counts.Replied,
			Done: statsView(counts).Percent(), Leading: leading, Created: cp.CreatedAt})
	}
	return render(c, http.StatusOK, views.CampaignsPage(h.shell(c, "Campaigns", views.NavCampaigns), vm), nil)
}

func (h *handler) newCampaign(c echo.Context) error {
	return render(c, http.StatusOK, views.CampaignNewPage(h.shell(c, "New campaign", views.NavCampaigns)), nil)
}

func (h *handler) createCampaign(c echo.Context) error {
	name := "Campaign of " + time.Now().In(mustPrincipal(c).tenant.Location()).Format("2 Jan")
	cp, err := tenantStore(c).CreateCampaign(c.Request().Context(), name)
	if err != nil {
		return err
	}
	return redirect(c, views.CampaignStepPath(cp.ID, views.StepUpload))
}

// uploadForm is the file form of a draft, offering what the last upload
// read.
func uploadForm(cp *db.Campaign) views.UploadForm {
	m := mappingOf(cp)
	f := views.UploadForm{CampaignID: cp.ID, Sheets: m.Sheets, Sheet: cp.Sheet}
	if cp.FileName != "" {
		f.Headers, f.Phone, f.Name = cp.Columns, strconv.Itoa(m.Phone), strconv.Itoa(m.Name)
	}
	return f
}

func (h *handler) showCampaignUpload(c echo.Context) error {
	cp, err := loadCampaign(c)
	if err != nil {
		return err
	}
	f := uploadForm(cp)
	if cp.FileName != "" {
		f.Why = "This draft already has " + cp.FileName + ". Uploading a file replaces its list."
	}
	return render(c, http.StatusOK, views.CampaignUploadPage(h.shell(c, cp.Name, views.NavCampaigns), wizardOf(cp, views.StepUpload), f), nil)
}

// uploadCampaignFile reads the file, cleans its numbers and stores the
// recipients and dropped rows with the columns, in one request: the file
// itself is not kept.
func (h *handler) uploadCampaignFile(c echo.Context) error {
	cp, err := draftCampaign(c)
	if err != nil {
		return err
	}
	f := uploadForm(cp)
	f.Sheet, f.Phone, f.Name = c.FormValue("sheet"), c.FormValue("phone_column"), c.FormValue("name_column")
	sheet, err := readUpload(c, f.Sheet)
	if err == nil {
		f.Headers, f.Sheets = sheet.Headers, sheet.Sheets
		err = h.storeUpload(c, cp, sheet, f)
	}
	var fileErr *campaign.Error
	if errors.As(err, &fileErr) {
		f.Error = fileErr.Message
		return render(c, http.StatusUnprocessableEntity, views.CampaignUploadPage(h.shell(c, cp.Name, views.NavCampaigns), wizardOf(cp, views.StepUpload), f),
			views.UploadFormView(f))
	}
	if err != nil {
		return err
	}
	return redirect(c, views.CampaignStepPath(cp.ID, views.StepMap))
}

// errNoFile is the upload form sent without a file.
var errNoFile = &campaign.Error{Code: "no_file", Message: "Choose the file with your leads (.xlsx or .csv)."}

func readUpload(c echo.Context, sheetName string) (*campaign.Sheet, error) {
	fh, err := c.FormFile("file")
	if err != nil || (fh.Size == 0 && fh.Filename == "") {
		return nil, errNoFile
	}
	file, err := fh.Open()
	if err != nil {
		return nil, fmt.Errorf("open upload: %w", err)
	}
	defer file.Close()
	return campaign.Read(file, fh.Filename, campaign.ReadOptions{Sheet: sheetName})
}

// columnChoice is a posted column index, or fallback when it is "" or not
// a column ("-1" stays: none).
func columnChoice(v string, headers []string, fallback int) int {
	i, err := strconv.Atoi(v)
	if err != nil || i < -1 || i >= len(headers) {
		return fallback
	}
	return i
}

// storeUpload maps and cleans the sheet and stores the result on the draft.
func (h *handler) storeUpload(c echo.Context, cp *db.Campaign, s *campaign.Sheet, f views.UploadForm) error {
	ctx := c.Request().Context()
	ts, tenant := tenantStore(c), mustPrincipal(c).tenant
	guess := campaign.GuessColumns(s.Headers, s.Sample(50))
	m := campaign.NewMapping(s.Headers, columnChoice(f.Phone, s.Headers, guess.Phone), columnChoice(f.Name, s.Headers, guess.Name))
	opted, err := ts.OptedOutPhones(ctx)
	if err != nil {
		return err
	}
	rep, err := campaign.Clean(s, m, tenant.DefaultCountry, func(p string) bool { return opted[p] })
	if err != nil {
		return err
	}
	rs := make([]db.Recipient, len(rep.Recipients))
	for i, r := range rep.Recipients {
		rs[i] = db.Recipient{RowNumber: r.Row, Phone: r.Phone, Name: r.Name, Vars: r.Variables}
	}
	ds := make([]db.DroppedRow, len(rep.Dropped))
	for i, d := range rep.Dropped {
		ds[i] = db.DroppedRow{RowNumber: d.Row, Value: d.Value, Reason: d.Reason}
	}
	mapping, _ := json.Marshal(campaignMapping{Phone: m.Phone, Name: m.Name, Variables: m.Variables, Sheets: s.Sheets})
	cp.FileName, cp.Sheet, cp.Columns, cp.Mapping = s.FileName, s.Name, s.Headers, mapping
	if stepIndex(cp.Step) < stepIndex(views.StepMap) {
		cp.Step = views.StepMap
	}
	err = ts.RunInTx(ctx, func(ctx context.Context, tx *db.TenantStore) error {
		if err := tx.ReplaceRecipients(ctx, cp.ID, rs, ds); err != nil {
			return err
		}
		return saveDraft(ctx, tx, cp)
	})
	if errors.Is(err, db.ErrNotDraft) {
		return errLaunched
	}
	return err
}

// uploaded is loadCampaign for the steps after the upload: a draft without
// a file goes back to the upload.
func uploaded(c echo.Context) (*db.Campaign, bool, error) {
	cp, err := loadCampaign(c)
	if err != nil {
		return nil, false, err
	}
	if cp.FileName == "" {
		return cp, false, redirect(c, views.CampaignStepPath(cp.ID, views.StepUpload))
	}
	return cp, true, nil
}

func header(headers []string, i int) string {
	if i < 0 || i >= len(headers) {
		return ""
	}
	return headers[i]
}

func (h *handler) showCampaignMap(c echo.Context) error {
	cp, ok, err := uploaded(c)
	if !ok {
		return err
	}
	rows, err := firstRows(c.Request().Context(), tenantStore(c), cp.ID, 10)
	if err != nil {
		return err
	}
	m := mappingOf(cp)
	vm := views.MapStep{W: wizardOf(cp, views.StepMap), FileName: cp.FileName, Sheet: cp.Sheet, Rows: rows,
		PhoneHeader: header(cp.Columns, m.Phone), NameHeader: header(cp.Columns, m.Name), Form: uploadForm(cp)}
	for _, v := range m.Variables {
		vm.Vars = append(vm.Vars, "{{"+v.Key+"}}")
	}
	vm.Form.Why = "We don't keep your file, so choose the columns (or sheet) and the same file again: it is read again with your choice."
	vm.Form.Submit = "Use these columns"
	return render(c, http.StatusOK, views.CampaignMapPage(h.shell(c, cp.Name, views.NavCampaigns), vm), nil)
}

// firstRows are the file's first n rows as read: recipients and dropped
// rows merged in file order.
func firstRows(ctx context.Context, ts *db.TenantStore, campaignID int64, n int) ([]views.PreviewRow, error) {
	rs, err := ts.RecipientsFrom(ctx, campaignID, 0, n)
	if err != nil {
		return nil, err
	}
	ds, err := ts.DroppedRows(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	var out []views.PreviewRow
	for len(out) < n && (len(rs) > 0 || len(ds) > 0) {
		if len(ds) == 0 || len(rs) > 0 && rs[0].RowNumber < ds[0].RowNumber {
			out = append(out, views.PreviewRow{Row: rs[0].RowNumber, Phone: rs[0].Phone, Name: rs[0].Name, Kept: true})
			rs = rs[1:]
			continue
		}
		out = append(out, views.PreviewRow{Row: ds[0].RowNumber, Value: ds[0].Value, Reason: ds[0].Reason})
		ds = ds[1:]
	}
	return out, nil
}

// dropKind tells a stored dropped row's kind from its reason.
func dropKind(reason string) campaign.DropKind {
	switch {
	case reason == campaign.ReasonEmpty:
		return campaign.DropEmpty
	case strings.HasPrefix(reason, "same number as row"):
		return campaign.DropDuplicate
	case reason == "opted out of messages":
		return campaign.DropOptedOut
	}
	return campaign.DropInvalid
}

// reviewShown caps the dropped rows on the page; the report has them all.
const reviewShown = 200

func (h *handler) showCampaignReview(c echo.Context) error {
	cp, ok, err := uploaded(c)
	if !ok {
		return err
	}
	ctx := c.Request().Context()
	counts, err := tenantStore(c).CampaignCounts(ctx, cp.ID)
	if err != nil {
		return err
	}
	ds, err := tenantStore(c).DroppedRows(ctx, cp.ID)
	if err != nil {
		return err
	}
	if err := reach(c, cp, views.StepReview); err != nil {
		return err
	}
	vm := views.ReviewStep{W: wizardOf(cp, views.StepReview), FileName: cp.FileName, Recipients: counts.Recipients, DroppedTotal: len(ds)}
	kinds := map[campaign.DropKind]*int{campaign.DropEmpty: &vm.Empty, campaign.DropDuplicate: &vm.Duplicates,
		campaign.DropOptedOut: &vm.OptedOut, campaign.DropInvalid: &vm.Invalid}
	for i, d := range ds {
		*kinds[dropKind(d.Reason)]++
		if i < reviewShown {
			vm.Dropped = append(vm.Dropped, views.DroppedView{Row: d.RowNumber, Value: d.Value, Reason: d.Reason})
		}
	}
	return render(c, http.StatusOK, views.CampaignReviewPage(h.shell(c, cp.Name, views.NavCampaigns), vm), nil)
}

// campaignReport downloads the clean-up report, built from the stored
// recipients and dropped rows.
func (h *handler) campaignReport(c echo.Context) error {
	cp, err := loadCampaign(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	ts := tenantStore(c)
	var rep campaign.Report
	for from := 0; ; {
		rs, err := ts.RecipientsFrom(ctx, cp.ID, from, 5000)
		if err != nil {
			return err
		}
		for _, r := range rs {
			rep.Recipients = append(rep.Recipients, campaign.Recipient{Row: r.RowNumber, Phone: r.Phone, Name: r.Name})
		}
		if len(rs) < 5000 {
			break
		}
		from = rs[len(rs)-1].RowNumber + 1
	}
	ds, err := ts.DroppedRows(ctx, cp.ID)
	if err != nil {
		return err
	}
	for _, d := range ds {
		rep.Dropped = append(rep.Dropped, campaign.Dropped{Row: d.RowNumber, Value: d.Value, Reason: d.Reason, Kind: dropKind(d.Reason)})
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="campaign-%d-report.csv"`, cp.ID))
	c.Response().Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
	return rep.WriteReportCSV(c.Response())
}
