package app_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/myaibud/aibud/app/sim/samples"
	"github.com/myaibud/aibud/db"
)

// axeSource is axe-core, vendored from npm (see testdata/axe-core/README.md).
// It is a test asset: the app never serves it. The test evaluates it
// through DevTools, which the pages' Content-Security-Policy (our scripts
// only) does not govern.
//
//go:embed testdata/axe-core/axe.min.js
var axeSource string

// axeRun audits the document against WCAG 2.1 A and AA and returns the
// violations, each with the elements it found them on.
const axeRun = `axe.run(document, {
	runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
	resultTypes: ["violations"]
}).then(function (r) {
	return JSON.stringify(r.violations.map(function (v) {
		return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(function (n) {
			return {target: n.target.join(" "), html: n.html.slice(0, 160), summary: n.failureSummary};
		})};
	}));
})`

type axeViolation struct {
	ID     string    `json:"id"`
	Impact string    `json:"impact"`
	Help   string    `json:"help"`
	Nodes  []axeNode `json:"nodes"`
}

type axeNode struct {
	Target  string `json:"target"`
	HTML    string `json:"html"`
	Summary string `json:"summary"`
}

// axe audits the page the browser is on, after its live regions settled.
func (c *chrome) axe() []axeViolation {
	c.t.Helper()
	if eval[bool](c, `document.body.hasAttribute("sse-connect")`) {
		c.waitLive()
	} else {
		c.settle()
	}
	if !eval[bool](c, `typeof window.axe === "object"`) {
		ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
		_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axeSource))
		cancel()
		if err != nil {
			c.t.Fatalf("load axe-core: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		c.t.Fatalf("axe on %s: %v", c.location(), err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		c.t.Fatalf("axe result: %v", err)
	}
	if found := eval[[]string](c, ownChecks); len(found) > 0 {
		v := axeViolation{ID: "ids-and-labels", Impact: "serious", Help: "Ids must be unique and a label must name its own field (WCAG 1.3.1, 4.1.2)"}
		for _, f := range found {
			v.Nodes = append(v.Nodes, axeNode{Target: f})
		}
		vs = append(vs, v)
	}
	return vs
}

// ownChecks finds what axe 4.x no longer reports under WCAG 2.1 (its
// duplicate-id rules went with WCAG 2.2's removal of 4.1.1) but users
// still meet: an id used twice, whose label then names and focuses the
// first field of that id, not its own.
const ownChecks = `(function () {
	var out = [], seen = {};
	document.querySelectorAll("[id]").forEach(function (e) {
		if (seen[e.id] === 1) out.push("#" + e.id + " is used more than once");
		seen[e.id] = (seen[e.id] || 0) + 1;
	});
	document.querySelectorAll("label[for]").forEach(function (l) {
		var own = l.querySelector("input, select, textarea");
		if (own && l.control !== own) out.push("label for=" + l.htmlFor + " focuses another field than the one it holds");
	});
	return out;
})()`

// axeReport collects the violations of every page audited, to print them
// together.
type axeReport struct {
	mu    sync.Mutex
	pages int
	lines []string
	count int
}

func (r *axeReport) add(where string, vs []axeViolation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pages++
	for _, v := range vs {
		r.count += len(v.Nodes)
		r.lines = append(r.lines, fmt.Sprintf("%s: [%s, %s] %s (%d)", where, v.ID, v.Impact, v.Help, len(v.Nodes)))
		for _, n := range v.Nodes {
			r.lines = append(r.lines, fmt.Sprintf("    %s\n      %s\n      %s", n.Target, n.HTML,
				strings.ReplaceAll(strings.TrimSpace(n.Summary), "\n", "\n      ")))
		}
	}
}

// audit opens path (or, with an empty path, stays where the browser is) and
// records what axe finds there under a name.
func (r *axeReport) audit(c *chrome, who string, width int, path, name string) {
	c.t.Helper()
	if path != "" {
		c.do(chromedp.Navigate(c.base + path))
		c.waitPath(strings.SplitN(path, "#", 2)[0])
	}
	c.noHorizontalScroll()
	r.add(fmt.Sprintf("%s %dpx %s", who, width, name), c.axe())
	if width < 500 {
		c.shot(strings.Trim(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
				return r
			}
			return '_'
		}, strings.ToLower(name)), "_"))
	}
}

// axeSite is a tenant with something on every page and a platform owner.
type axeSite struct {
	a                    *testApp
	tenantEmail, owner   string
	tenantPages          []string
	ownerPages, contacts []string
}

// newAxeSite seeds a tenant with a connected number, a conversation (the
// AI's, the tenant's and a campaign's messages, read and failed), business
// knowledge, a draft campaign at every step, a launched one, an owner's
// grant in the ledger; and a platform owner.
func newAxeSite(t *testing.T) *axeSite {
	t.Helper()
	ctx := context.Background()
	s := &axeSite{owner: uniqueEmail("axe-owner")}
	s.a = newTestApp(t, withAdmins(s.owner))
	a := s.a
	signedInOwner(t, a, s.owner)

	b, tenantID := wizardTenant(t, a, "Axe Bakery")
	ts := a.store.Tenant(tenantID)
	users, err := ts.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.tenantEmail = users[0].Email
	inst := a.connect(t, b, tenantID)
	ct, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+34600123456", Name: "Rosa"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	for i, m := range []struct{ dir, sender, status, body string }{
		{db.DirectionIn, db.SenderLead, db.MessageDelivered, "Hello, do you have gluten-free bread?"},
		{db.DirectionOut, db.SenderAI, db.MessageRead, "Yes, every day from 8:00. Shall I keep a loaf for you?"},
		{db.DirectionIn, db.SenderLead, db.MessageDelivered, "Yes please, two."},
		{db.DirectionOut, db.SenderApp, db.MessageDelivered, "Done, see you tomorrow!"},
		{db.DirectionOut, db.SenderCampaign, db.MessageFailed, "Our spring sale starts today"},
	} {
		if _, err := ts.SaveMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: ct.ID, WaID: fmt.Sprintf("axe-%d", i),
			Direction: m.dir, Sender: m.sender, ChatKind: db.ContactDirect, Type: "text", Body: m.body,
			Status: m.status, SentAt: start.Add(time.Duration(i) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	// A voice note, a photo and a PDF the AI read, with what it heard or
	// saw; questions it could not answer; a chat handed over.
	for i, f := range []struct{ typ, mime, name, note string }{
		{"audio", "audio/ogg", "voice.ogg", "Do you deliver on Sundays?"},
		{"image", "image/jpeg", "photo.jpg", "A round sourdough loaf on a wooden board."},
		{"document", "application/pdf", "order.pdf", "An order form for two loaves."},
	} {
		m, err := ts.SaveMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: ct.ID, WaID: fmt.Sprintf("axe-media-%d", i),
			Direction: db.DirectionIn, Sender: db.SenderLead, ChatKind: db.ContactDirect, Type: f.typ, MediaType: f.mime,
			Status: db.MessageReceived, SentAt: start.Add(time.Duration(10+i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		data := samples.Photo()
		switch f.typ {
		case "audio":
			data = samples.VoiceNote()
		case "document":
			data = samples.PriceList()
		}
		if _, err := ts.SaveReceivedMedia(ctx, m.ID, f.mime, f.name, data, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := ts.SetTranscript(ctx, m.ID, f.note); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := ts.RecordGap(ctx, "Do you sell gift cards?", ct.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.SetChatMode(ctx, ct.ID, db.ModeHuman, nil, "The customer asked for a person"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []db.KnowledgeEntry{
		{Title: "Opening hours", Body: "Monday to Friday 8:00–18:00, Saturday 9:00–14:00."},
		{Title: "Delivery", Body: "We deliver within 5 km for 2 EUR."},
	} {
		if err := ts.SaveKnowledgeEntry(ctx, &k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ts.Grant(ctx, 25, "Sorry for Tuesday", "axe-grant"); err != nil {
		t.Fatal(err)
	}
	draft, base := draftToSend(t, b)
	launched, launchedBase := draftToSend(t, b)
	tok := b.csrf(launchedBase + "/send")
	wantRedirect(t, b.post(launchedBase+"/send", sendForm(tok, []string{fmt.Sprint(inst.ID)}, "when", "later",
		"at", time.Now().Add(48*time.Hour).Format("2006-01-02T15:04"))), fmt.Sprintf("/campaigns/%d", launched))
	_ = draft
	s.contacts = []string{fmt.Sprintf("/contacts/%d", ct.ID)}
	s.tenantPages = []string{
		"/dashboard", "/instances", fmt.Sprintf("/instances/%d", inst.ID), "/contacts", s.contacts[0], "/settings",
		"/campaigns", base + "/upload", base + "/map", base + "/review", base + "/message", base + "/send",
		fmt.Sprintf("/campaigns/%d", launched), "/credits", "/billing", "/account", "/questions",
	}

	ob := a.newBrowser(t)
	wantRedirect(t, ob.signIn(s.owner, "password123", ""), "/dashboard")
	s.ownerPages = []string{"/admin", "/admin/tenants", fmt.Sprintf("/admin/tenants/%d", tenantID), "/admin/audit",
		"/admin/plans", "/admin/plans/new", "/admin/credit-packs/new", "/admin/nodes", "/admin/ai", "/admin/economics", "/admin/failures"}
	plans := ob.get("/admin/plans")
	for _, prefix := range []string{"/admin/plans/", "/admin/credit-packs/"} {
		href, ok := plans.doc.Find(`a[href^="` + prefix + `"]:not([href$="/new"])`).First().Attr("href")
		if !ok {
			t.Fatalf("no %s… link on /admin/plans", prefix)
		}
		s.ownerPages = append(s.ownerPages, href)
	}
	return s
}

// signInAs signs the browser in through the form, from a clean slate.
func (c *chrome) signInAs(email string) {
	c.t.Helper()
	c.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
		return err
	}), chromedp.Navigate(c.base+"/sign-in"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
	)
	c.click(`[data-testid="sign-in-submit"]`)
	c.waitPath("/dashboard")
}

// TestBrowserAxe audits every page with axe-core against WCAG 2.1 A and AA
// at a desktop's and a phone's width: the signed-out pages, every page of a
// tenant with content, the states users reach by hand (an open account
// menu, a sign-up with errors), and the owner's console. Any violation
// fails, with what and where.
//
// The queues console (/admin/queues) is asynqmon's, a third-party app
// mounted as it is: its unlabelled icon buttons are not ours to fix, so it
// is not audited here (its caching is tested in TestQueuesConsoleCaching).
func TestBrowserAxe(t *testing.T) {
	t.Parallel()
	s := newAxeSite(t)
	report := &axeReport{}
	// The group returns once both widths, run side by side, are done.
	t.Run("widths", func(t *testing.T) {
		for _, width := range []int{1280, 390} {
			t.Run(fmt.Sprint(width), func(t *testing.T) {
				t.Parallel()
				auditWidth(t, s, report, width)
			})
		}
	})
	t.Logf("axe audited %d page states", report.pages)
	if report.count > 0 {
		t.Errorf("axe-core found %d WCAG 2.1 A/AA violations:\n%s", report.count, strings.Join(report.lines, "\n"))
	}
}

// auditWidth audits every page and state at one window width.
func auditWidth(t *testing.T, s *axeSite, report *axeReport, width int) {
	c := newChrome(t, width, 900)
	c.base = s.a.URL
	for _, p := range []string{"/", "/sign-up", "/sign-in", "/password/forgot", "/password/reset?token=nope"} {
		report.audit(c, "visitor", width, p, p)
	}
	c.do(chromedp.Navigate(s.a.URL+"/sign-up"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-up-form"]`)))
	c.click(`[data-testid="sign-up-submit"]`)
	c.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-up-form"] .field-error`)))
	report.audit(c, "visitor", width, "", "/sign-up with errors")

	c.signInAs(s.tenantEmail)
	for _, p := range s.tenantPages {
		report.audit(c, "tenant", width, p, p)
	}
	c.do(chromedp.Navigate(s.a.URL + "/dashboard"))
	c.waitLive()
	c.click(`.account-menu summary`)
	report.audit(c, "tenant", width, "", "/dashboard with the account menu open")
	report.audit(c, "tenant", width, "/no-such-page", "a missing page")
	c.do(chromedp.Navigate(s.a.URL + "/settings"))
	c.waitLive()
	c.click(`[data-testid="knowledge-entry"] summary`)
	eval[bool](c, `(document.querySelector('[name="burst_wait_seconds"]').value = "900", true)`)
	c.click(`[data-testid="settings-save-top"]`)
	c.do(chromedp.WaitVisible(chromedp.CSS(`[data-testid="settings-errors"]`)))
	report.audit(c, "tenant", width, "", "/settings with errors and an entry open")
	c.do(chromedp.Navigate(s.a.URL + s.contacts[0]))
	c.waitLive()
	c.do(chromedp.SendKeys(chromedp.CSS(`[data-testid="reply-body"]`), fmt.Sprintf("Sent at %d px", width)))
	c.click(`[data-testid="reply-send"]`)
	c.waitText(`[data-testid="messages"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, fmt.Sprintf("Sent at %d px", width)) })
	report.audit(c, "tenant", width, "", "/contacts/… after a reply")

	c.signInAs(s.owner)
	for _, p := range s.ownerPages {
		report.audit(c, "owner", width, p, p)
	}
}
