package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/myaibud/aibud/db"
)

// TestBrowserEveryPageFitsAPhone opens every page, signed out, as a tenant
// and as the platform owner, on a 390×844 phone screen with real content
// (a connected number, a conversation with long words, knowledge, ledger
// entries) and fails when one is wider than the screen. The screenshots are
// in testdata/artifacts.
func TestBrowserEveryPageFitsAPhone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner := uniqueEmail("phoneowner")
	a := newTestApp(t, withAdmins(owner), withStripe(t)) // the billing page with its buttons
	b := a.newBrowser(t)
	wantRedirect(t, b.signUp("Floricultura Pétalas & Companhia Limitada", owner, "password123"), "/dashboard")
	u, err := a.store.UserByEmail(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	ts := a.store.Tenant(u.TenantID)
	inst := a.connect(t, b, u.TenantID)
	if _, err := ts.CreateCampaign(ctx, "Promoção de Dia das Mães para clientes antigos e novos"); err != nil {
		t.Fatal(err)
	}
	ct, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+5511987654321", Name: "Maria Aparecida dos Santos Oliveira"})
	if err != nil {
		t.Fatal(err)
	}
	for i, body := range []string{
		"Olá! Vocês entregam em https://www.example.com/um/endereco/muito/comprido/que/nao/tem/espacos/nenhum?x=1",
		"Supercalifragilisticexpialidocious-antidisestablishmentarianism-pneumonoultramicroscopic",
		"Quanto custa um buquê de rosas vermelhas para entrega amanhã de manhã?",
	} {
		if _, err := ts.SaveMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: ct.ID, WaID: fmt.Sprintf("phone-%d", i),
			Direction: db.DirectionIn, Sender: db.SenderLead, ChatKind: db.ContactDirect, Type: "text", Body: body,
			Status: db.MessageDelivered, SentAt: time.Now().Add(time.Duration(i-3) * time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []db.KnowledgeEntry{
		{Title: "Horário de funcionamento", Body: "Segunda a sábado, das 8h às 19h. Domingos e feriados fechado."},
		{Title: "Entregas", Body: "Entregamos em toda a cidade de São Paulo; taxa de entrega de R$ 15,00."},
	} {
		if err := ts.SaveKnowledgeEntry(ctx, &k); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if _, err := ts.Charge(ctx, 1, "AI reply", fmt.Sprintf("phone-charge-%d", i)); err != nil {
			t.Fatal(err)
		}
	}

	c := newChrome(t, 390, 844)
	check := func(path, ready string) {
		t.Helper()
		c.do(chromedp.Navigate(a.URL+path), chromedp.WaitVisible(chromedp.CSS(ready)))
		c.settle()
		if over := eval[float64](c, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
			t.Errorf("%s is %vpx wider than a 390px phone", path, over)
		}
		c.shot(strings.Trim(strings.NewReplacer("/", "-", "?", "-").Replace(path), "-") + "-phone")
	}

	// Signed out.
	check("/", `[data-testid="landing-sign-up"]`)
	check("/sign-up", `[data-testid="sign-up-form"]`)
	check("/sign-in", `[data-testid="sign-in-form"]`)
	check("/password/forgot", `[data-testid="forgot-form"]`)
	check("/no-such-page", `body`)

	c.do(
		chromedp.Navigate(a.URL+"/sign-in"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), owner),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
	)
	c.click(`[data-testid="sign-in-submit"]`)
	c.waitPath("/dashboard")

	// Every destination of the navigation is on the screen, none hidden
	// off its edge.
	if hidden := eval[[]string](c, `Array.from(document.querySelectorAll(".app-nav a")).filter(a => { const r = a.getBoundingClientRect(); return r.right > window.innerWidth || r.left < 0; }).map(a => a.textContent)`); len(hidden) > 0 {
		t.Errorf("navigation links off the screen: %v", hidden)
	}

	// A tenant's pages.
	check("/dashboard", `[data-testid="credit-balance"]`)
	check("/credits", `[data-testid="usage-chart"]`)
	check("/billing", `[data-testid="billing-plans"]`)
	check("/contacts", `[data-testid="contact-list"]`)
	check(fmt.Sprintf("/contacts/%d", ct.ID), `[data-testid="messages"]`)
	check("/instances", `[data-testid="instance-form"], [data-testid="instance-limit"]`)
	check(fmt.Sprintf("/instances/%d", inst.ID), `[data-testid="instance-connected"]`)
	check("/settings", `[data-testid="knowledge-form"]`)
	check("/account", `[data-testid="profile-form"]`)
	check("/campaigns", `[data-testid="campaign-list"]`)
	poll := phonePoll(t, ts)
	check(fmt.Sprintf("/campaigns/%d/send", poll.ID), `[data-testid="send-form"]`)
	tomorrow := time.Now().Add(24 * time.Hour)
	if _, err := ts.LaunchCampaign(ctx, poll.ID, db.Launch{InstanceIDs: []int64{inst.ID}, Pace: []byte("{}"), Price: 1, At: &tomorrow, Tag: "enquete"}); err != nil {
		t.Fatal(err)
	}
	check(fmt.Sprintf("/campaigns/%d", poll.ID), `[data-testid="campaign-tally"]`)

	// The owner's pages.
	check("/admin/nodes", `[data-testid="node-list"]`)
	check("/admin/ai", `main`)
	check("/admin/economics", `[data-testid="economics"]`)
	check("/admin/failures", `main`)
	check("/admin", `[data-testid="console-stats"]`)
	check("/admin/tenants", `[data-testid="tenant-list"]`)
	check("/admin/plans", `[data-testid="plan-list"]`)
	check("/admin/plans/pro", `[data-testid="plan-form"]`)
	check("/admin/credit-packs/new", `[data-testid="pack-form"]`)
	me := db.Actor{UserID: u.ID, Email: u.Email}
	if _, err := a.store.AdjustCredits(ctx, me, u.TenantID, 25, "Compensação pela instabilidade do servidor de mensagens na sexta-feira", "owner:PHONEPHONEPHONEPHONEPHONE2"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.SetSuspended(ctx, me, u.TenantID, true, "Fatura de novembro em aberto há mais de trinta dias; regularize para reativar"); err != nil {
		t.Fatal(err)
	}
	check(fmt.Sprintf("/admin/tenants/%d", u.TenantID), `[data-testid="tenant-actions"]`)
	check("/admin/audit", `[data-testid="audit-row"]`)
	check("/dashboard", `[data-testid="suspended-banner"]`)

	// Viewing as a tenant: the banner and its Stop fit the phone too.
	c.do(chromedp.Navigate(a.URL+fmt.Sprintf("/admin/tenants/%d", u.TenantID)), chromedp.WaitVisible(chromedp.CSS(`#view-reason`)),
		chromedp.SendKeys(chromedp.CSS(`#view-reason`), "Chamado de suporte 4521"))
	c.click(`[data-testid="view-as-form"] button`)
	c.waitPath("/dashboard")
	check("/dashboard", `[data-testid="view-as-banner"]`)
}

// phonePoll is a poll campaign with long words, ready for its sending step.
func phonePoll(t *testing.T, ts *db.TenantStore) *db.Campaign {
	t.Helper()
	ctx := context.Background()
	cp, err := ts.CreateCampaign(ctx, "Enquete: qual o melhor dia para a entrega das flores de Dia das Mães?")
	if err != nil {
		t.Fatal(err)
	}
	cp.Kind, cp.Step, cp.FileName, cp.Columns = db.CampaignPoll, "message", "clientes.xlsx", []string{"Telefone", "Nome"}
	cp.Poll = &db.CampaignPollSpec{Question: "Qual o melhor dia?", Options: []string{"Sexta-feira-de-manhã-bem-cedinho-antes-do-almoço", "Sábado"}}
	if err := ts.SaveCampaignDraft(ctx, cp); err != nil {
		t.Fatal(err)
	}
	rs := []db.Recipient{{RowNumber: 2, Phone: "+5511987654321", Name: "Maria Aparecida dos Santos Oliveira"}, {RowNumber: 3, Phone: "+5511912345678"}}
	if err := ts.ReplaceRecipients(ctx, cp.ID, rs, nil); err != nil {
		t.Fatal(err)
	}
	return cp
}
