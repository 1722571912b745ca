package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/views"
)

// knowledgeForm is a posted knowledge entry.
type knowledgeForm struct {
	Title string `form:"title"`
	Body  string `form:"body"`
}

// Validate cleans the entry and says what is missing, by field. The sizes
// are the store's to check (db.SaveKnowledgeEntry), with the tenant's other
// entries.
func (f *knowledgeForm) Validate() map[string]string {
	f.Title = whatsapp.CleanText(strings.TrimSpace(f.Title))
	f.Body = whatsapp.CleanText(strings.TrimSpace(f.Body))
	errs := map[string]string{}
	if f.Title == "" {
		errs["title"] = "Give the entry a title, e.g. Opening hours."
	}
	if f.Body == "" {
		errs["body"] = "Write what the AI should know."
	}
	return errs
}

// limitMessage says which field broke a knowledge cap and how, with the
// limit and what is used.
func limitMessage(le *db.KnowledgeLimitError) (field, msg string) {
	n := func(i int) string { return views.Number(int64(i)) }
	switch le.Cap {
	case db.KnowledgeCapTitle:
		return "title", fmt.Sprintf("Keep the title to %s characters; this one has %s.", n(le.Limit), n(le.Used))
	case db.KnowledgeCapBody:
		return "body", fmt.Sprintf("Keep one entry to %s characters; this one has %s. Split a long topic into several entries.", n(le.Limit), n(le.Used))
	case db.KnowledgeCapEntries:
		return "body", fmt.Sprintf("Knowledge is full: %s of %s entries used. Delete an entry you no longer need, or merge two.", n(le.Used), n(le.Limit))
	}
	return "body", fmt.Sprintf("Knowledge is full: %s of %s characters used, and this needs %s more. Shorten it, or delete an entry you no longer need.",
		n(le.Used), n(le.Limit), n(le.Size))
}

// knowledgeView is the knowledge section: the entries, edit in place of
// the stored one (ID 0: the new entry's form), and the usage of the caps.
func knowledgeView(ctx context.Context, ts *db.TenantStore, edit views.KnowledgeRow) (views.Knowledge, error) {
	ks, err := ts.Knowledge(ctx)
	if err != nil {
		return views.Knowledge{}, err
	}
	u, err := ts.KnowledgeUsage(ctx)
	if err != nil {
		return views.Knowledge{}, err
	}
	vm := views.Knowledge{New: views.KnowledgeRow{}, Usage: views.KnowledgeUsage{
		Entries: u.Entries, MaxEntries: db.MaxKnowledgeEntries, Chars: u.Chars, MaxChars: db.MaxKnowledgeTotal,
		MaxTitle: db.MaxKnowledgeTitle, MaxBody: db.MaxKnowledgeBody,
	}}
	if edit.ID == 0 {
		vm.New = edit
	}
	for _, k := range ks {
		row := views.KnowledgeRow{ID: k.ID, Title: k.Title, Body: k.Body}
		if edit.ID == k.ID {
			row = edit
		}
		vm.Rows = append(vm.Rows, row)
	}
	return vm, nil
}

// knowledgeAnswer shows the knowledge section after a change, with edit as
// posted when it needs a fix.
func (h *handler) knowledgeAnswer(c echo.Context, status int, edit views.KnowledgeRow) error {
	vm, err := h.settingsView(c, nil, edit)
	if err != nil {
		return err
	}
	if wantsPartial(c) {
		return renderComponent(c, status, views.KnowledgeView(vm.Knowledge))
	}
	if status >= 400 {
		return render(c, status, views.SettingsPage(h.shell(c, "AI settings", views.NavSettings), vm), nil)
	}
	return c.Redirect(http.StatusSeeOther, views.PathSettings+"#"+views.IDKnowledge)
}

// saveKnowledge validates and stores a posted entry (id 0: a new one); a
// problem is shown at its field with 422.
func (h *handler) saveKnowledge(c echo.Context, id int64) error {
	var f knowledgeForm
	if err := c.Bind(&f); err != nil {
		return Errorf(EInvalid, "The form could not be read.")
	}
	row := views.KnowledgeRow{ID: id, Title: f.Title, Body: f.Body}
	if row.Errors = f.Validate(); len(row.Errors) > 0 {
		return h.knowledgeAnswer(c, http.StatusUnprocessableEntity, row)
	}
	row.Title, row.Body = f.Title, f.Body
	err := tenantStore(c).SaveKnowledgeEntry(c.Request().Context(), &db.KnowledgeEntry{ID: id, Title: f.Title, Body: f.Body})
	var le *db.KnowledgeLimitError
	if errors.As(err, &le) {
		field, msg := limitMessage(le)
		row.Errors = map[string]string{field: msg}
		return h.knowledgeAnswer(c, http.StatusUnprocessableEntity, row)
	}
	if err != nil {
		return err
	}
	return h.knowledgeAnswer(c, http.StatusOK, views.KnowledgeRow{})
}

func (h *handler) createKnowledge(c echo.Context) error { return h.saveKnowledge(c, 0) }

func (h *handler) updateKnowledge(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return h.saveKnowledge(c, id)
}

func (h *handler) deleteKnowledge(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := tenantStore(c).DeleteKnowledgeEntry(c.Request().Context(), id); err != nil {
		return err
	}
	return h.knowledgeAnswer(c, http.StatusOK, views.KnowledgeRow{})
}
