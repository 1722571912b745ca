package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/myaibud/aibud/db"
)

// seedConversation stores a contact with one incoming message.
func seedConversation(t *testing.T, a *testApp, tenantID int64, phone, name, text string) *db.Contact {
	t.Helper()
	ctx := context.Background()
	ts := a.store.Tenant(tenantID)
	c, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: phone, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.SaveMessage(ctx, &db.Message{ContactID: c.ID, WaID: fmt.Sprintf("seed%d", time.Now().UnixNano()), Direction: db.DirectionIn,
		Sender: db.SenderLead, ChatKind: db.ContactDirect, Type: "text", Body: text, Status: db.MessageReceived, SentAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestContactListSearchAndFilters(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "List Shop")
	ctx := context.Background()
	ts := a.store.Tenant(tenantID)
	maria := seedConversation(t, a, tenantID, "+15550101001", "Maria Lopez", "hola")
	john := seedConversation(t, a, tenantID, "+15550101002", "John Smith", "hi")
	seedConversation(t, a, tenantID, "+15550101003", "Ana", "oi")
	seedConversation(t, a, tenantID, "+15550101004", "Lucía", "hola")
	until := time.Now().Add(time.Hour)
	if _, err := ts.SetChatMode(ctx, john.ID, db.ModeHuman, &until, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.SetOptOut(ctx, maria.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := ts.SetContactTags(ctx, maria.ID, []string{"vip"}); err != nil {
		t.Fatal(err)
	}

	names := func(r *response) []string {
		return testid(r, "contact-name").Map(func(_ int, s *goquery.Selection) string { return s.Text() })
	}
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"Ana", "John Smith", "Lucía", "Maria Lopez"}},
		{"?q=mar", []string{"Maria Lopez"}},
		{"?q=lopéz", []string{"Maria Lopez"}},
		{"?q=LUCIA", []string{"Lucía"}},
		{"?q=0101002", []string{"John Smith"}},
		{"?mode=human", []string{"John Smith"}},
		{"?opted_out=yes", []string{"Maria Lopez"}},
		{"?tag=vip", []string{"Maria Lopez"}},
		{"?q=%25", nil}, // a literal %, not a wildcard
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := b.get("/contacts" + tt.query)
			wantStatus(t, r, http.StatusOK)
			got := names(r)
			if strings.Join(sorted(got), ",") != strings.Join(tt.want, ",") {
				t.Errorf("contacts = %v, want %v", got, tt.want)
			}
		})
	}
	r := b.get("/contacts?q=john", "HX-Request", "true")
	if strings.Contains(r.body, "<html") || testid(r, "contact-list").Length() != 1 {
		t.Errorf("htmx filter should return the list partial: %s", abbreviate(r.body))
	}
}

func TestContactPagesAreScoped(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	_, aliceID := a.tenantOf(t, "Alice Shop")
	c := seedConversation(t, a, aliceID, "+15550202001", "Secret Lead", "my order 123")
	mallory, _ := a.tenantOf(t, "Mallory Shop")
	tok := mallory.csrf("/contacts")
	for _, path := range []string{"", "/header", "/messages"} {
		r := mallory.get(fmt.Sprintf("/contacts/%d%s", c.ID, path))
		wantStatus(t, r, http.StatusNotFound)
		if strings.Contains(r.body, "Secret Lead") || strings.Contains(r.body, "order 123") {
			t.Errorf("%s leaked another tenant's data", path)
		}
	}
	for _, action := range []string{"reply", "mode", "tags"} {
		wantStatus(t, mallory.post(fmt.Sprintf("/contacts/%d/%s", c.ID, action),
			url.Values{"_csrf": {tok}, "body": {"hi"}, "mode": {"off"}, "tags": {"x"}}), http.StatusNotFound)
	}
	got, _ := a.store.Tenant(aliceID).Contact(context.Background(), c.ID)
	if got.AIMode != db.ModeAI || len(got.Tags) != 0 {
		t.Errorf("the other tenant changed the contact: %+v", got)
	}
	if r := mallory.get("/contacts"); strings.Contains(r.body, "Secret Lead") {
		t.Error("another tenant's contact is listed")
	}
}

func TestContactTagsAndMode(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Tag Shop")
	c := seedConversation(t, a, tenantID, "+15550303001", "Lee", "hi")
	page := fmt.Sprintf("/contacts/%d", c.ID)
	tok := b.csrf(page)
	r := b.post(page+"/tags", url.Values{"_csrf": {tok}, "tags": {"VIP, wholesale ,vip,,  "}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	got, _ := a.store.Tenant(tenantID).Contact(context.Background(), c.ID)
	if strings.Join(got.Tags, ",") != "vip,wholesale" {
		t.Errorf("tags = %v", got.Tags)
	}
	wantStatus(t, b.post(page+"/tags", url.Values{"_csrf": {tok}, "tags": {strings.Repeat("x", 41)}}), http.StatusBadRequest)

	r = b.post(page+"/mode", url.Values{"_csrf": {tok}, "mode": {"human"}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	if testid(r, "chat-mode").Text() != "You answer" {
		t.Errorf("mode badge = %q", testid(r, "chat-mode").Text())
	}
	got, _ = a.store.Tenant(tenantID).Contact(context.Background(), c.ID)
	if got.AIMode != db.ModeHuman || got.HumanUntil == nil || time.Until(*got.HumanUntil) < 100*time.Minute {
		t.Errorf("after take-over: %+v", got)
	}
	wantStatus(t, b.post(page+"/mode", url.Values{"_csrf": {tok}, "mode": {"robot"}}), http.StatusBadRequest)
	wantStatus(t, b.post(page+"/mode", url.Values{"_csrf": {tok}, "mode": {"ai"}}), http.StatusSeeOther)
	got, _ = a.store.Tenant(tenantID).Contact(context.Background(), c.ID)
	if got.AIMode != db.ModeAI {
		t.Errorf("mode after giving back = %s", got.AIMode)
	}
	// Without a connected number there is no reply box.
	if r := b.get(page); testid(r, "reply-body").Length() != 0 {
		t.Error("a reply box without a connected number")
	}
}

func TestManualReply(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Reply Shop")
	inst := a.connect(t, b, tenantID)
	ts := a.store.Tenant(tenantID)
	st, _ := ts.AISettings(context.Background())
	st.Enabled = false
	_ = ts.SaveAISettings(context.Background(), st)
	lead := newLead()
	if _, err := a.env.sim.LeadSays(inst.SessionName, lead, "Kim", "hello?"); err != nil {
		t.Fatal(err)
	}
	var c *db.Contact
	waitFor(t, 10*time.Second, "the contact", func() bool {
		var err error
		c, err = ts.ContactByPhone(context.Background(), "+"+lead)
		return err == nil
	})
	before, _ := ts.CreditBalance(context.Background())
	page := fmt.Sprintf("/contacts/%d", c.ID)
	tok := b.csrf(page)
	// The reply box says what a reply costs.
	if got := testid(b.get(page), "reply-cost").Text(); got != "1 credit per message sent." {
		t.Errorf("reply cost hint %q", got)
	}
	wantStatus(t, b.post(page+"/reply", url.Values{"_csrf": {tok}, "body": {"   "}}, "HX-Request", "true"), http.StatusUnprocessableEntity)
	wantStatus(t, b.post(page+"/reply", url.Values{"_csrf": {tok}, "body": {strings.Repeat("a", 4097)}}, "HX-Request", "true"), http.StatusUnprocessableEntity)
	r := b.post(page+"/reply", url.Values{"_csrf": {tok}, "body": {"Hi Kim, how can I help?"}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	waitFor(t, 10*time.Second, "the reply at the gateway", func() bool {
		for _, m := range a.env.sim.Sent(inst.SessionName) {
			if m.Text == "Hi Kim, how can I help?" {
				return true
			}
		}
		return false
	})
	if after, _ := ts.CreditBalance(context.Background()); after != before-costMessage {
		t.Errorf("balance %d, want %d", after, before-costMessage)
	}
	got, _ := ts.Contact(context.Background(), c.ID)
	if got.AIMode != db.ModeHuman {
		t.Errorf("replying in the app did not hand the chat over: %s", got.AIMode)
	}
	waitFor(t, 10*time.Second, "the delivery status", func() bool {
		ms, _ := ts.Messages(context.Background(), c.ID, 10)
		last := ms[len(ms)-1]
		return last.Sender == db.SenderApp && (last.Status == db.MessageDelivered || last.Status == db.MessageSent)
	})
	// Out of credits: nothing is sent, the tenant is told.
	bal, _ := ts.CreditBalance(context.Background())
	if _, err := ts.Charge(context.Background(), bal, "test", "drain-manual"); err != nil {
		t.Fatal(err)
	}
	r = b.post(page+"/reply", url.Values{"_csrf": {tok}, "body": {"one more"}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusPaymentRequired)
	if !strings.Contains(testid(r, "reply-error").Text(), "out of credits") {
		t.Errorf("error = %q", testid(r, "reply-error").Text())
	}
}

func TestSettingsAndKnowledge(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Settings Shop")
	ts := a.store.Tenant(tenantID)
	r := b.get("/settings")
	wantStatus(t, r, http.StatusOK)
	// Creativity takes any step of 0.1 from 0 to 2; the model is chosen
	// from the ones offered.
	temp := r.doc.Find(`input[name="temperature"]`)
	if lo, _ := temp.Attr("min"); lo != "0" {
		t.Errorf("temperature min %q", lo)
	}
	if hi, _ := temp.Attr("max"); hi != "2" {
		t.Errorf("temperature max %q", hi)
	}
	if step, _ := temp.Attr("step"); step != "0.1" {
		t.Errorf("temperature step %q", step)
	}
	if n := testid(r, "model-select").Find("option").Length(); n < 3 {
		t.Errorf("%d model choices", n)
	}
	tok := b.csrf("/settings")
	form := url.Values{"_csrf": {tok}, "enabled": {"on"}, "persona": {"You are Bo."}, "instructions": {"Be brief."}, "model": {""},
		"temperature": {"0.7"}, "hours_enabled": {"on"},
		"day0": {"on"}, "open0": {"09:00"}, "close0": {"13:30"}, "after_hours_reply": {"Closed."}, "handoff_keywords": {"humano, agente"},
		"burst_wait_seconds": {"2.5"}, "hourly_limit": {"5"}, "human_quiet_minutes": {"30"}, "opt_out_reply": {"Bye."}, "opt_in_reply": {"Hi again."}}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("temperature", "9")
	bad.Set("close0", "08:00")
	bad.Set("model", "gpt-4o")
	r = b.post("/settings", bad, "HX-Request", "true")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	for _, field := range []string{"temperature", "hours", "model"} {
		if testid(r, "error-"+field).Length() != 1 {
			t.Errorf("no error shown for %s", field)
		}
	}
	if st, _ := ts.AISettings(context.Background()); st.Persona == "You are Bo." {
		t.Error("invalid settings were saved")
	}
	r = b.post("/settings", form, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	if testid(r, "settings-saved").Length() != 1 {
		t.Errorf("no saved message: %s", abbreviate(r.body))
	}
	st, _ := ts.AISettings(context.Background())
	if st.Persona != "You are Bo." || st.BurstWaitMS != 2500 || st.HourlyLimit != 5 || st.HumanQuietMinutes != 30 ||
		!st.HoursEnabled || st.Hours[0] == nil || st.Hours[0].Close != 13*60+30 || st.Hours[1] != nil || strings.Join(st.HandoffKeywords, "|") != "humano|agente" {
		t.Errorf("saved settings = %+v", st)
	}
	// The hours are read in the tenant's time zone, set on the account page.
	if got := testid(b.get("/settings"), "hours-zone").Text(); !strings.Contains(got, "UTC") {
		t.Errorf("business hours say %q", got)
	}

	// Knowledge: add, refuse empty, edit, delete; another tenant cannot.
	r = b.post("/settings/knowledge", url.Values{"_csrf": {tok}, "title": {"Prices"}, "body": {""}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	r = b.post("/settings/knowledge", url.Values{"_csrf": {tok}, "title": {"Prices"}, "body": {"Coffee 2 EUR"}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	ks, _ := ts.Knowledge(context.Background())
	if len(ks) != 1 || ks[0].Body != "Coffee 2 EUR" {
		t.Fatalf("knowledge = %+v", ks)
	}
	other, _ := a.tenantOf(t, "Other Settings")
	otok := other.csrf("/settings")
	wantStatus(t, other.post(fmt.Sprintf("/settings/knowledge/%d/delete", ks[0].ID), url.Values{"_csrf": {otok}}), http.StatusNotFound)
	wantStatus(t, other.post(fmt.Sprintf("/settings/knowledge/%d/update", ks[0].ID), url.Values{"_csrf": {otok}, "title": {"x"}, "body": {"y"}}), http.StatusNotFound)
	r = b.post(fmt.Sprintf("/settings/knowledge/%d/update", ks[0].ID), url.Values{"_csrf": {tok}, "title": {"Prices"}, "body": {"Coffee 2.50 EUR"}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	if k, _ := ts.KnowledgeEntry(context.Background(), ks[0].ID); k.Body != "Coffee 2.50 EUR" {
		t.Errorf("updated body = %q", k.Body)
	}
	wantStatus(t, b.post(fmt.Sprintf("/settings/knowledge/%d/delete", ks[0].ID), url.Values{"_csrf": {tok}}), http.StatusSeeOther)
	if ks, _ := ts.Knowledge(context.Background()); len(ks) != 0 {
		t.Errorf("%d entries after delete", len(ks))
	}
}

func TestOwnerConsole(t *testing.T) {
	t.Parallel()
	owner := uniqueEmail("console")
	a := newTestApp(t, withAdmins(owner))
	b := a.newBrowser(t)
	wantRedirect(t, b.signUp("Platform", owner, "password123"), "/dashboard")
	u, _ := a.store.UserByEmail(context.Background(), owner)
	if err := a.store.Tenant(u.TenantID).RecordAIRun(context.Background(), &db.AIRun{Model: "gemini-2.5-flash", InputTokens: 1200, AudioInputTokens: 640, OutputTokens: 80, LatencyMS: 420, Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	r := b.get("/admin/ai")
	wantStatus(t, r, http.StatusOK)
	row := testid(r, "ai-usage-row").FilterFunction(func(_ int, s *goquery.Selection) bool {
		return strings.Contains(s.Text(), fmt.Sprintf("Platform #%d", u.TenantID))
	})
	if got := row.Find(`[data-label="Input tokens"]`).Text(); got != "1,200" {
		t.Errorf("usage table: input tokens %q in %q", got, testid(r, "ai-usage").Text())
	}
	if got := row.Find(`[data-label="Of which audio"]`).Text(); got != "640" {
		t.Errorf("usage table: audio tokens %q in %q", got, testid(r, "ai-usage").Text())
	}
	// The console's nav marks the section the owner is on; the app's nav
	// marks the console.
	for path, want := range map[string]string{"/admin": "Overview", "/admin/tenants": "Tenants", "/admin/audit": "Audit",
		"/admin/ai": "AI costs", "/admin/nodes": "Servers", "/admin/failures": "Failures"} {
		r := b.get(path)
		if got := strings.TrimSpace(r.doc.Find(`nav[aria-label="Console"] a[aria-current="page"]`).Text()); got != want {
			t.Errorf("%s: the console nav marks %q, want %q", path, got, want)
		}
		if got := strings.TrimSpace(r.doc.Find(`nav[aria-label="Main"] a[aria-current="page"]`).Text()); got != "Console" {
			t.Errorf("%s: the main nav marks %q, want Console", path, got)
		}
	}

	// Servers: add with validation, refuse duplicates, change capacity.
	tok := b.csrf("/admin/nodes")
	wantStatus(t, b.post("/admin/nodes", url.Values{"_csrf": {tok}, "name": {"N2"}, "url": {"ftp://x"}, "api_key": {""}, "capacity": {"-1"}}), http.StatusUnprocessableEntity)
	nodeURL := fmt.Sprintf("http://waha-%d.test.invalid:3000", time.Now().UnixNano())
	wantRedirect(t, b.post("/admin/nodes", url.Values{"_csrf": {tok}, "name": {"N2"}, "url": {nodeURL}, "api_key": {"k"}, "capacity": {"0"}}), "/admin/nodes")
	wantStatus(t, b.post("/admin/nodes", url.Values{"_csrf": {tok}, "name": {"N3"}, "url": {nodeURL}, "api_key": {"k"}, "capacity": {"5"}}), http.StatusUnprocessableEntity)
	r = b.get("/admin/nodes")
	if !strings.Contains(testid(r, "node-list").Text(), nodeURL) {
		t.Error("the new server is not listed")
	}
	if strings.Contains(r.body, simAPIKey) || strings.Contains(r.body, `value="k"`) {
		t.Error("the console shows API keys")
	}

	// Everyone else: the console does not exist.
	other, _ := a.tenantOf(t, "Not Owner")
	for _, path := range []string{"/admin/ai", "/admin/nodes"} {
		wantStatus(t, other.get(path), http.StatusNotFound)
	}
	otok := other.csrf("/dashboard")
	wantStatus(t, other.post("/admin/nodes", url.Values{"_csrf": {otok}, "name": {"evil"}, "url": {"http://evil.invalid"}, "api_key": {"k"}, "capacity": {"9"}}), http.StatusNotFound)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
