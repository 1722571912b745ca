package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/myaibud/aibud/db"
)

// TestSettingsKnowledgeCaps: the form says which cap an entry breaks, with
// the limit and what is used, and the page shows the usage.
func TestSettingsKnowledgeCaps(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Caps Shop")
	ts := a.store.Tenant(tenantID)
	ctx := context.Background()
	for range 9 {
		if err := ts.SaveKnowledgeEntry(ctx, &db.KnowledgeEntry{Title: "Menu", Body: strings.Repeat("m", 9_996)}); err != nil {
			t.Fatal(err)
		}
	}
	tok := b.csrf("/settings")
	add := func(title, body string, headers ...string) *response {
		return b.post("/settings/knowledge", url.Values{"_csrf": {tok}, "title": {title}, "body": {body}}, headers...)
	}
	for _, tt := range []struct {
		name, title, body, field, want string
	}{
		{"text too long", "Prices", strings.Repeat("p", 10_001), "body", "Keep one entry to 10,000 characters; this one has 10,001."},
		{"title too long", strings.Repeat("t", 201), "x", "title", "Keep the title to 200 characters; this one has 201."},
		{"knowledge full", "Prices", strings.Repeat("p", 10_000), "body", "Knowledge is full: 90,000 of 100,000 characters used, and this needs 10,006 more."},
	} {
		for _, htmx := range []bool{true, false} {
			var r *response
			if htmx {
				r = add(tt.title, tt.body, "HX-Request", "true")
			} else {
				r = add(tt.title, tt.body)
			}
			wantStatus(t, r, http.StatusUnprocessableEntity)
			form := testid(r, "knowledge-form")
			if got := form.Find(`[data-testid="error-` + tt.field + `"]`).Text(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("%s (htmx %v): error %q, want %q", tt.name, htmx, got, tt.want)
			}
			if v := form.Find(`[name="title"]`).AttrOr("value", ""); v != tt.title {
				t.Errorf("%s: the title typed was not kept: %q", tt.name, v)
			}
		}
	}
	r := b.get("/settings")
	if got := testid(r, "knowledge-usage").Text(); !strings.Contains(got, "90,000 of 100,000 characters used · 9 of 100 entries") {
		t.Errorf("usage = %q", got)
	}
	wantStatus(t, add("Prices", strings.Repeat("p", 8_000), "HX-Request", "true"), http.StatusOK)
	// An edit is checked the same way, at its own entry.
	ks, _ := ts.Knowledge(ctx)
	path := fmt.Sprintf("/settings/knowledge/%d/update", ks[0].ID)
	r = b.post(path, url.Values{"_csrf": {tok}, "title": {"Menu"}, "body": {strings.Repeat("m", 10_500)}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	entry := r.doc.Find(fmt.Sprintf("#knowledge-%d", ks[0].ID))
	if _, open := entry.Attr("open"); !open || !strings.Contains(entry.Find(`[data-testid="error-body"]`).Text(), "Keep one entry to 10,000") {
		t.Errorf("the edited entry does not show its error: %s", abbreviate(r.body))
	}
	if k, _ := ts.KnowledgeEntry(ctx, ks[0].ID); len(k.Body) != 9_996 {
		t.Errorf("an entry over the cap was saved: %d characters", len(k.Body))
	}
}

// TestSettingsIDsAreUnique: with knowledge entries on the page, no id
// repeats and every label focuses a field of its own form.
func TestSettingsIDsAreUnique(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Ids Shop")
	ts := a.store.Tenant(tenantID)
	for _, title := range []string{"Opening hours", "Prices", "Delivery"} {
		if err := ts.SaveKnowledgeEntry(context.Background(), &db.KnowledgeEntry{Title: title, Body: "Some facts."}); err != nil {
			t.Fatal(err)
		}
	}
	r := b.get("/settings")
	seen := map[string]int{}
	r.doc.Find("[id]").Each(func(_ int, s *goquery.Selection) { seen[s.AttrOr("id", "")]++ })
	for id, n := range seen {
		if n > 1 {
			t.Errorf("id %q appears %d times", id, n)
		}
	}
	r.doc.Find("label[for]").Each(func(_ int, l *goquery.Selection) {
		target := r.doc.Find("#" + l.AttrOr("for", ""))
		if target.Length() != 1 {
			t.Errorf("label %q points at nothing", strings.TrimSpace(l.Text()))
			return
		}
		if l.Closest("form").Get(0) != target.Closest("form").Get(0) {
			t.Errorf("label %q focuses a field of another form", strings.TrimSpace(l.Text()))
		}
	})
	if n := testid(r, "knowledge-entry").Length(); n != 3 {
		t.Errorf("%d entries shown", n)
	}
}

// TestSettingsSavedAndReset: a save says so (htmx in place, a plain form on
// the page it lands on); a reset restores the default settings and keeps
// the knowledge, after a confirmation.
func TestSettingsSavedAndReset(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Reset Shop")
	ts := a.store.Tenant(tenantID)
	ctx := context.Background()
	if err := ts.SaveKnowledgeEntry(ctx, &db.KnowledgeEntry{Title: "Prices", Body: "Coffee 2 EUR"}); err != nil {
		t.Fatal(err)
	}
	if err := ts.SetProfile(ctx, db.Profile{Name: "Reset Shop", Timezone: "Europe/Madrid", Country: "ES"}); err != nil {
		t.Fatal(err)
	}
	tok := b.csrf("/settings")
	form := url.Values{"_csrf": {tok}, "persona": {"You are Bo."}, "instructions": {"Be brief."}, "model": {""},
		"temperature": {"1.5"}, "after_hours_reply": {""},
		"handoff_keywords": {"jefe"}, "burst_wait_seconds": {"1"}, "hourly_limit": {"3"}, "human_quiet_minutes": {"10"},
		"opt_out_reply": {"Bye."}, "opt_in_reply": {"Hi."}, "handoff_reply": {"Wait."}}
	r := b.post("/settings", form, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	if got := testid(r, "settings-saved").Text(); !strings.Contains(got, "Saved") {
		t.Errorf("htmx save says %q", got)
	}
	r = b.post("/settings", form)
	wantRedirect(t, r, "/settings")
	if got := testid(b.get("/settings"), "flash").Text(); !strings.Contains(got, "AI settings saved") {
		t.Errorf("plain save: flash %q", got)
	}

	// Without script there is no hx-confirm: the plain form asks first.
	r = b.post("/settings/reset", url.Values{"_csrf": {tok}})
	wantStatus(t, r, http.StatusOK)
	if testid(r, "reset-confirm").Length() != 1 {
		t.Fatalf("no confirmation: %s", abbreviate(r.body))
	}
	if st, _ := ts.AISettings(ctx); st.Persona != "You are Bo." {
		t.Error("reset without confirming")
	}
	reset := url.Values{"_csrf": {tok}, "confirm": {"yes"}}
	wantRedirect(t, b.post("/settings/reset", reset), "/settings")
	defaults := db.DefaultAISettings(tenantID, "Reset Shop")
	st, _ := ts.AISettings(ctx)
	if st.Persona != defaults.Persona || st.Temperature != defaults.Temperature || st.HourlyLimit != defaults.HourlyLimit ||
		st.OptOutReply != defaults.OptOutReply || strings.Join(st.HandoffKeywords, ",") != strings.Join(defaults.HandoffKeywords, ",") {
		t.Errorf("after reset: %+v", st)
	}
	if ks, _ := ts.Knowledge(ctx); len(ks) != 1 {
		t.Errorf("reset deleted knowledge: %d entries", len(ks))
	}
	if tenant, _ := ts.Tenant(ctx); tenant.Timezone != "Europe/Madrid" {
		t.Errorf("reset changed the time zone: %s", tenant.Timezone)
	}
	// htmx: the form comes back with the defaults and says so.
	b.post("/settings", form, "HX-Request", "true")
	r = b.post("/settings/reset", reset, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(testid(r, "settings-saved").Text(), "reset to the defaults") ||
		r.doc.Find(`textarea[name="persona"]`).Text() != defaults.Persona {
		t.Errorf("htmx reset answered: %s", abbreviate(r.body))
	}
	page := b.get("/settings")
	if f := testid(page, "reset").Find("form"); f.AttrOr("hx-confirm", "") == "" || f.AttrOr("action", "") != "/settings/reset" {
		t.Error("the reset form neither confirms nor works without script")
	}
}
