package app_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/live"
	wahasim "github.com/myaibud/aibud/app/sim/waha"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
	"github.com/myaibud/aibud/jobs"
)

// waitFor polls cond until it holds or the time is up.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tenantOf signs a new account up and returns its browser and tenant id.
func (a *testApp) tenantOf(t testing.TB, business string) (*browser, int64) {
	t.Helper()
	b := a.newBrowser(t)
	email := uniqueEmail("wa")
	wantRedirect(t, b.signUp(business, email, "password123"), "/dashboard")
	u, err := a.store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return b, u.TenantID
}

// instanceRow creates an instance in the database only (no gateway
// session), for webhook tests that sign events themselves.
func instanceRow(t testing.TB, s *db.Store, tenantID int64) *db.Instance {
	t.Helper()
	inst, err := s.Tenant(tenantID).CreateInstance(context.Background(), db.NewInstance{
		Name: "Shop", Providers: []string{"waha"}, Limit: 10, SessionName: whatsapp.SessionName,
	})
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// connect creates a number through the pages, lets the worker set it up on
// the simulator, scans the QR code and waits until it is connected.
func (a *testApp) connect(t testing.TB, b *browser, tenantID int64) *db.Instance {
	t.Helper()
	tok := b.csrf("/instances")
	r := b.post("/instances", url.Values{"_csrf": {tok}, "name": {"Main number"}})
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/instances/") {
		t.Fatalf("create instance: %d %s", r.StatusCode, abbreviate(r.body))
	}
	insts, err := a.store.Tenant(tenantID).Instances(context.Background())
	if err != nil || len(insts) == 0 {
		t.Fatalf("instances: %v %v", insts, err)
	}
	inst := insts[len(insts)-1]
	ts := a.store.Tenant(tenantID)
	waitFor(t, 10*time.Second, "a QR code", func() bool {
		i, err := ts.Instance(context.Background(), inst.ID)
		return err == nil && i.Status == db.InstanceScanQR && len(i.QRPNG) > 0
	})
	if err := a.simFor(&inst).Scan(inst.SessionName); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the number to connect", func() bool {
		i, err := ts.Instance(context.Background(), inst.ID)
		return err == nil && i.Status == db.InstanceConnected
	})
	got, _ := ts.Instance(context.Background(), inst.ID)
	return got
}

func sign(body []byte) string {
	m := hmac.New(sha512.New, []byte(webhookSecret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// postWebhook sends a body to the app's webhook as WAHA would.
func postWebhook(t testing.TB, baseURL string, body []byte, signature string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, baseURL+"/api/webhooks/whatsapp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Webhook-Hmac", signature)
		req.Header.Set("X-Webhook-Hmac-Algorithm", "sha512")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// messageEvent is an incoming "message" event in WAHA's envelope.
func messageEvent(eventID, session, messageID, fromPhone, text string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"timestamp":%d,"event":"message","session":%q,"me":{"id":"15550000000@c.us","pushName":"Shop"},`+
		`"payload":{"id":"false_%s@c.us_%s","timestamp":%d,"from":"%s@c.us","fromMe":false,"source":"app","to":"15550000000@c.us",`+
		`"participant":null,"body":%q,"hasMedia":false,"media":null,"ack":2,"ackName":"DEVICE","vCards":[],"replyTo":null,"_data":{"notifyName":"Lead %s"}},`+
		`"engine":"GOWS","environment":{"version":"2026.7.1","engine":"GOWS","tier":"CORE","browser":null,"platform":"linux/x64","worker":{"id":null}}}`,
		eventID, time.Now().UnixMilli(), session, fromPhone, messageID, time.Now().Unix(), fromPhone, text, fromPhone))
}

// liveCounter counts the live events of one tenant.
type liveCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (a *testApp) countLive(t *testing.T, tenantID int64) *liveCounter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	hub := live.NewHub(dbtest.Redis(t), a.namespace, dbtest.Logger(t))
	go hub.Run(ctx)
	sub, err := hub.SubscribeTenant(ctx, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	lc := &liveCounter{counts: map[string]int{}}
	go func() {
		for e := range sub.Events() {
			lc.mu.Lock()
			lc.counts[e.Name]++
			lc.mu.Unlock()
		}
	}()
	return lc
}

func (lc *liveCounter) count(name string) int {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.counts[name]
}

func countRows(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := dbtest.DB(t).QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWebhookRefusesBadRequests(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	_, tenantID := a.tenantOf(t, "Sig Shop")
	inst := instanceRow(t, a.store, tenantID)
	evt := fmt.Sprintf("evt_sig_%d", time.Now().UnixNano())
	body := messageEvent(evt, inst.SessionName, "SIG1", "15551110000", "hello")

	tests := []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"unsigned", body, "", http.StatusUnauthorized},
		{"wrong signature", body, sign([]byte("something else")), http.StatusUnauthorized},
		{"replayed signature on a changed body", bytes.Replace(body, []byte("hello"), []byte("HELLO"), 1), sign(body), http.StatusUnauthorized},
		{"malformed JSON", []byte(`{"id": "evt_x", "event": `), sign([]byte(`{"id": "evt_x", "event": `)), http.StatusBadRequest},
		{"unknown session", messageEvent(evt+"u", "no_such_session", "SIG2", "15551110000", "hi"),
			sign(messageEvent(evt+"u", "no_such_session", "SIG2", "15551110000", "hi")), http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := postWebhook(t, a.URL, tt.body, tt.sig); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
		})
	}
	if n := countRows(t, "SELECT count(*) FROM webhook_events WHERE tenant_id = ?", tenantID); n != 0 {
		t.Errorf("%d events stored from refused requests", n)
	}
	reaction := []byte(fmt.Sprintf(`{"id":"%s_r","timestamp":1,"event":"message.reaction","session":%q,"payload":{"id":"x","reaction":{"text":"👍","messageId":"y"}}}`, evt, inst.SessionName))
	if got := postWebhook(t, a.URL, reaction, sign(reaction)); got != http.StatusOK {
		t.Errorf("unused event type: %d", got)
	}
	if n := countRows(t, "SELECT count(*) FROM webhook_events WHERE tenant_id = ?", tenantID); n != 0 {
		t.Errorf("an unused event type was stored")
	}
	// The real one is accepted.
	if got := postWebhook(t, a.URL, body, sign(body)); got != http.StatusOK {
		t.Errorf("signed event: %d", got)
	}
}

func TestWebhookDeliveredFiveTimesIsOneMessage(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	_, tenantID := a.tenantOf(t, "Dup Shop")
	inst := instanceRow(t, a.store, tenantID)
	lc := a.countLive(t, tenantID)
	evt := fmt.Sprintf("evt_dup_%d", time.Now().UnixNano())
	body := messageEvent(evt, inst.SessionName, "DUP1", "15552220000", "is anyone there?")

	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := postWebhook(t, a.URL, body, sign(body)); got != http.StatusOK {
				t.Errorf("delivery: %d", got)
			}
		}()
	}
	wg.Wait()
	// A late retry after processing is a no-op too.
	waitFor(t, 10*time.Second, "the event to be processed", func() bool {
		return countRows(t, "SELECT count(*) FROM webhook_events WHERE event_id = ? AND processed_at IS NOT NULL", evt) == 1
	})
	if got := postWebhook(t, a.URL, body, sign(body)); got != http.StatusOK {
		t.Errorf("late redelivery: %d", got)
	}
	time.Sleep(500 * time.Millisecond)
	if n := countRows(t, "SELECT count(*) FROM webhook_events WHERE event_id = ?", evt); n != 1 {
		t.Errorf("%d stored events, want 1", n)
	}
	if n := countRows(t, "SELECT count(*) FROM messages WHERE tenant_id = ?", tenantID); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
	if n := countRows(t, "SELECT attempts FROM webhook_events WHERE event_id = ?", evt); n != 1 {
		t.Errorf("processed %d times, want once", n)
	}
	if n := lc.count(live.MessageCreated); n != 1 {
		t.Errorf("%d live updates, want 1", n)
	}
}

func TestTwentyEventsConcurrently(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	_, tenantID := a.tenantOf(t, "Busy Shop")
	inst := instanceRow(t, a.store, tenantID)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := messageEvent(fmt.Sprintf("evt_many_%d_%d", time.Now().UnixNano(), i), inst.SessionName,
				fmt.Sprintf("MANY%d", i), fmt.Sprintf("1555333%04d", i%7), fmt.Sprintf("message %d", i))
			if postWebhook(t, a.URL, body, sign(body)) != http.StatusOK {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d deliveries refused", failed.Load())
	}
	waitFor(t, 15*time.Second, "20 messages", func() bool {
		return countRows(t, "SELECT count(*) FROM messages WHERE tenant_id = ?", tenantID) == 20
	})
	if n := countRows(t, "SELECT count(*) FROM contacts WHERE tenant_id = ?", tenantID); n != 7 {
		t.Errorf("%d contacts for 7 senders", n)
	}
}

func TestConnectNumberFlow(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Flow Shop")
	lc := a.countLive(t, tenantID)
	inst := a.connect(t, b, tenantID)
	if inst.Phone == nil || !strings.HasPrefix(*inst.Phone, "+") {
		t.Errorf("connected without a phone: %+v", inst)
	}
	if lc.count(live.InstanceUpdated) == 0 {
		t.Error("no live update when the number connected")
	}
	r := b.get(fmt.Sprintf("/instances/%d", inst.ID))
	wantStatus(t, r, http.StatusOK)
	if testid(r, "instance-connected").Length() != 1 || testid(r, "instance-phone").Text() != *inst.Phone {
		t.Errorf("instance page: %s", abbreviate(r.body))
	}
	// The session on the simulator carries our webhook, metadata and key.
	st, err := a.env.sim.Session(inst.SessionName)
	if err != nil || st.Status != wahasim.StatusWorking {
		t.Errorf("sim session: %+v %v", st, err)
	}

	// A lead writes; the message reaches the store and the dashboard.
	if _, err := a.env.sim.LeadSays(inst.SessionName, "15554440000", "Maria", "do you deliver?"); err != nil {
		t.Fatal(err)
	}
	ts := a.store.Tenant(tenantID)
	waitFor(t, 10*time.Second, "the lead's message", func() bool {
		c, err := ts.ContactByPhone(context.Background(), "+15554440000")
		if err != nil {
			return false
		}
		ms, _ := ts.Messages(context.Background(), c.ID, 10)
		return len(ms) == 1 && ms[0].Body == "do you deliver?" && ms[0].Sender == db.SenderLead
	})
	r = b.get("/dashboard")
	if !strings.Contains(testid(r, "dash-activity").Text(), "do you deliver?") || testid(r, "messages-in").Text() != "1" {
		t.Errorf("dashboard activity: %q", testid(r, "dash-activity").Text())
	}

	// Unlink, then delete: both clean up on the gateway too.
	tok := b.csrf(fmt.Sprintf("/instances/%d", inst.ID))
	r = b.post(fmt.Sprintf("/instances/%d/logout", inst.ID), url.Values{"_csrf": {tok}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	if got, _ := ts.Instance(context.Background(), inst.ID); got.Status != db.InstanceLoggedOut {
		t.Errorf("after logout: %s", got.Status)
	}
	r = b.post(fmt.Sprintf("/instances/%d/delete", inst.ID), url.Values{"_csrf": {tok}})
	wantRedirect(t, r, "/instances")
	if _, err := a.env.sim.Session(inst.SessionName); err == nil {
		t.Error("the gateway session survived the delete")
	}
	if n, _ := ts.InstanceCount(context.Background()); n != 0 {
		t.Errorf("%d instances after delete", n)
	}
	if n := countRows(t, "SELECT count(*) FROM messages WHERE tenant_id = ?", tenantID); n != 1 {
		t.Errorf("the conversation was lost with the number: %d messages", n)
	}
}

func TestQRCodeRotatesAndServes(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "QR Shop")
	lc := a.countLive(t, tenantID)
	tok := b.csrf("/instances")
	wantStatus(t, b.post("/instances", url.Values{"_csrf": {tok}, "name": {"QR number"}}), http.StatusSeeOther)
	insts, _ := a.store.Tenant(tenantID).Instances(context.Background())
	inst := insts[0]
	ts := a.store.Tenant(tenantID)
	var first string
	waitFor(t, 10*time.Second, "a QR code", func() bool {
		i, _ := ts.Instance(context.Background(), inst.ID)
		if i.QRHash != nil {
			first = *i.QRHash
		}
		return first != ""
	})
	r := b.get(fmt.Sprintf("/instances/%d/qr.png", inst.ID))
	wantStatus(t, r, http.StatusOK)
	if _, err := png.Decode(strings.NewReader(r.body)); err != nil {
		t.Errorf("the QR is not a PNG: %v", err)
	}
	if err := a.env.sim.RotateQR(inst.SessionName); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the new QR code", func() bool {
		i, _ := ts.Instance(context.Background(), inst.ID)
		return i.QRHash != nil && *i.QRHash != first
	})
	waitFor(t, 5*time.Second, "the live QR update", func() bool { return lc.count(live.InstanceQR) >= 2 })
	r = b.get(fmt.Sprintf("/instances/%d/qr", inst.ID), "HX-Request", "true")
	if h, _ := testid(r, "qr").Attr("data-hash"); h == first || h == "" {
		t.Errorf("QR partial still shows hash %q", h)
	}
	// Pairing code instead of a scan.
	tok = b.csrf(fmt.Sprintf("/instances/%d", inst.ID))
	r = b.post(fmt.Sprintf("/instances/%d/pairing-code", inst.ID), url.Values{"_csrf": {tok}, "phone": {"not a number"}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	r = b.post(fmt.Sprintf("/instances/%d/pairing-code", inst.ID), url.Values{"_csrf": {tok}, "phone": {"+44 7700 900123"}}, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	if code := testid(r, "pairing-code").Text(); code == "" {
		t.Errorf("no pairing code: %s", abbreviate(r.body))
	}
}

func TestLIDThenPhoneIsOneContact(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "LID Shop")
	inst := a.connect(t, b, tenantID)
	// Answers off, to keep this about contacts.
	ts := a.store.Tenant(tenantID)
	st, _ := ts.AISettings(context.Background())
	st.Enabled = false
	if err := ts.SaveAISettings(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if _, err := a.env.sim.LeadSaysAsLID(inst.SessionName, "246810121416@lid", "15556660000", "Ana", "hola"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the first message", func() bool {
		return countRows(t, "SELECT count(*) FROM messages WHERE tenant_id = ?", tenantID) == 1
	})
	if _, err := a.env.sim.LeadSays(inst.SessionName, "15556660000", "Ana", "¿tienen envío?"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the second message", func() bool {
		return countRows(t, "SELECT count(*) FROM messages WHERE tenant_id = ?", tenantID) == 2
	})
	if n, _ := ts.ContactCount(context.Background()); n != 1 {
		t.Fatalf("%d contacts for one person", n)
	}
	c, err := ts.ContactByPhone(context.Background(), "+15556660000")
	if err != nil || c.LID == nil || *c.LID != "246810121416@lid" {
		t.Errorf("contact = %+v, %v", c, err)
	}
}

// TestHealthCheckRestartsDroppedSession: a session that fails silently is
// found by the health check and restarted, and the number is connected again.
func TestHealthCheckRestartsDroppedSession(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Health Shop")
	inst := a.connect(t, b, tenantID)
	if err := a.env.sim.DropSession(inst.SessionName); err != nil {
		t.Fatal(err)
	}
	task, _ := jobs.NewCheckInstancesTask()
	if _, err := a.env.queue.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the session to be restarted", func() bool {
		for _, c := range a.env.sim.Calls() {
			if c.Method == http.MethodPost && c.Path == "/api/sessions/"+inst.SessionName+"/restart" {
				return true
			}
		}
		return false
	})
	ts := a.store.Tenant(tenantID)
	waitFor(t, 15*time.Second, "the number to be connected again", func() bool {
		i, _ := ts.Instance(context.Background(), inst.ID)
		return i.Status == db.InstanceConnected
	})
}

// TestHealthCheckFindsMissingSession: a session gone from the gateway shows
// as disconnected, with the reason, on the dashboard.
func TestHealthCheckFindsMissingSession(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Gone Shop")
	inst := a.connect(t, b, tenantID)
	prov, err := whatsapp.ProviderFor(context.Background(), a.store, a.env.gateways, inst)
	if err != nil {
		t.Fatal(err)
	}
	if err := prov.DeleteSession(context.Background(), inst.SessionName); err != nil {
		t.Fatal(err)
	}
	task, _ := jobs.NewCheckInstancesTask()
	if _, err := a.env.queue.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	ts := a.store.Tenant(tenantID)
	waitFor(t, 30*time.Second, "the missing session to be noticed", func() bool {
		i, _ := ts.Instance(context.Background(), inst.ID)
		return i.Status == db.InstanceDisconnected && strings.Contains(i.LastError, "gone from the WhatsApp server")
	})
	r := b.get("/dashboard")
	if status, _ := testid(r, "instance-status").Attr("data-status"); status != db.InstanceDisconnected || testid(r, "dash-alert").Length() != 1 {
		t.Errorf("dashboard: status %q, alert %d", status, testid(r, "dash-alert").Length())
	}
	r = b.get(fmt.Sprintf("/instances/%d", inst.ID))
	if !strings.Contains(testid(r, "instance-error").Text(), "gone from the WhatsApp server") || testid(r, "instance-reconnect").Length() != 1 {
		t.Errorf("instance page: %s", abbreviate(testid(r, "instance-panel").Text()))
	}
}

func TestInstanceLimitsAndScoping(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Limit Shop")
	tok := b.csrf("/instances")
	wantStatus(t, b.post("/instances", url.Values{"_csrf": {tok}, "name": {"One"}}), http.StatusSeeOther)
	r := b.post("/instances", url.Values{"_csrf": {tok}, "name": {"Two"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if !strings.Contains(r.body, "Starter plan allows 1 number") || !strings.Contains(r.body, "upgrade your plan on the Billing page") {
		t.Errorf("limit message: %s", abbreviate(r.body))
	}
	// The page says how to get more numbers: the billing page.
	r = b.get("/instances")
	if href, _ := testid(r, "upgrade-link").Attr("href"); href != "/billing" {
		t.Errorf("upgrade link = %q", href)
	}

	r = b.post("/instances", url.Values{"_csrf": {tok}, "name": {"  "}})
	wantStatus(t, r, http.StatusUnprocessableEntity)

	insts, _ := a.store.Tenant(tenantID).Instances(context.Background())
	id := insts[0].ID
	other, _ := a.tenantOf(t, "Other Shop")
	otok := other.csrf("/instances")
	for _, path := range []string{"", "/panel", "/qr", "/qr.png"} {
		wantStatus(t, other.get(fmt.Sprintf("/instances/%d%s", id, path)), http.StatusNotFound)
	}
	for _, action := range []string{"logout", "delete", "reconnect", "rename", "pairing-code"} {
		wantStatus(t, other.post(fmt.Sprintf("/instances/%d/%s", id, action), url.Values{"_csrf": {otok}, "name": {"x"}, "phone": {"+447700900123"}}), http.StatusNotFound)
	}
	wantStatus(t, b.get("/instances/abc"), http.StatusNotFound)
	wantStatus(t, b.get("/instances/999999999"), http.StatusNotFound)
	if n, _ := a.store.Tenant(tenantID).InstanceCount(context.Background()); n != 1 {
		t.Errorf("the other tenant changed something: %d instances", n)
	}
}
