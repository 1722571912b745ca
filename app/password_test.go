package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/app/reset"
	mailsim "github.com/myaibud/aibud/app/sim/mail"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
	"github.com/myaibud/aibud/jobs"
)

// syncBuffer is a log sink tests read while the app writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newLoggedTestApp is newTestApp with every log line, debug included, kept.
func newLoggedTestApp(t *testing.T, opts ...appOption) (*testApp, *syncBuffer) {
	t.Helper()
	e := sharedEnv(t)
	logs := new(syncBuffer)
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := &testApp{store: dbtest.Store(t), namespace: e.namespace, env: e}
	srv := httptest.NewServer(newAppHandler(t, e, log, t.Cleanup, &a.opts, opts...))
	t.Cleanup(srv.Close)
	a.Server = srv
	return a, logs
}

func (b *browser) forgot(email string, headers ...string) *response {
	b.t.Helper()
	tok := b.csrf("/password/forgot")
	return b.post("/password/forgot", url.Values{"_csrf": {tok}, "email": {email}}, headers...)
}

var resetLink = regexp.MustCompile(`https?://\S+/password/reset\?token=[A-Za-z0-9_-]+`)

// resetEmail waits for the reset email to arrive in the mailbox stand-in,
// read through its JSON API, and returns its link.
func resetEmail(t *testing.T, a *testApp, to string) (mailsim.Message, string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(a.env.mailboxURL + "/api/messages?to=" + url.QueryEscape(to))
		if err != nil {
			t.Fatal(err)
		}
		var ms []mailsim.Message
		err = json.NewDecoder(res.Body).Decode(&ms)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) > 0 {
			m := ms[len(ms)-1]
			link := resetLink.FindString(m.Text)
			if link == "" {
				t.Fatalf("no reset link in %q", m.Text)
			}
			return m, link
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email to %s arrived", to)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// localPart is the path and query of a link, to follow it on the test app.
func localPart(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

func TestPasswordResetSameAnswerForEveryAddress(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	known := uniqueEmail("known")
	wantRedirect(t, a.newBrowser(t).signUp("Known Co", known, "password123"), "/dashboard")
	r := a.newBrowser(t).get("/sign-in")
	if href, _ := testid(r, "forgot-password").Attr("href"); href != "/password/forgot" {
		t.Errorf("sign-in links to %q for a forgotten password", href)
	}

	for _, headers := range [][]string{nil, {"HX-Request", "true"}} {
		b := a.newBrowser(t)
		first := b.forgot(known, headers...)
		second := b.forgot(uniqueEmail("unknown"), headers...)
		wantStatus(t, first, http.StatusOK)
		if first.StatusCode != second.StatusCode || first.body != second.body {
			t.Errorf("answers differ (htmx %v):\n%s\n---\n%s", headers != nil, abbreviate(first.body), abbreviate(second.body))
		}
		if !strings.Contains(testid(first, "forgot-sent").Text(), "If an account exists for that address, we sent a link") {
			t.Errorf("answer: %s", abbreviate(first.body))
		}
	}
	r = a.newBrowser(t).forgot("not an email")
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if testid(r, "error-email").Text() == "" {
		t.Error("a malformed address got no field error")
	}
}

// TestPasswordResetByEmail follows the emailed link: it sets the password
// once, signs the user in and every other session out, and never shows up
// in the request log.
func TestPasswordResetByEmail(t *testing.T) {
	t.Parallel()
	a, logs := newLoggedTestApp(t)
	email := uniqueEmail("reset")
	wantRedirect(t, a.newBrowser(t).signUp("Reset Co", email, "old password 1"), "/dashboard")
	phone := a.newBrowser(t)
	wantRedirect(t, phone.signIn(email, "old password 1", ""), "/dashboard")

	b := a.newBrowser(t)
	wantStatus(t, b.forgot(strings.ToUpper(email)), http.StatusOK)
	msg, link := resetEmail(t, a, email)
	if !strings.HasPrefix(link, resetLinkBase+"/password/reset?token=") || !strings.Contains(msg.HTML, link) || msg.Subject == "" {
		t.Errorf("email %q with link %q", msg.Subject, link)
	}
	token := strings.TrimPrefix(link, resetLinkBase+"/password/reset?token=")

	r := b.get(localPart(t, link))
	wantStatus(t, r, http.StatusOK)
	if r.Header.Get("Referrer-Policy") != "no-referrer" || testid(r, "reset-form").Length() != 1 {
		t.Fatalf("reset page: %s", abbreviate(r.body))
	}
	tok, _ := r.doc.Find(`input[name="_csrf"]`).Attr("value")
	r = b.post("/password/reset", url.Values{"_csrf": {tok}, "token": {token}, "new_password": {"short"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if v, _ := r.doc.Find(`input[name="token"]`).Attr("value"); v != token || testid(r, "error-new_password").Text() == "" {
		t.Error("a refused password lost the token or its message")
	}
	r = b.post("/password/reset", url.Values{"_csrf": {tok}, "token": {token}, "new_password": {"new password 2"}})
	wantRedirect(t, r, "/dashboard")
	r = b.get("/dashboard")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(testid(r, "flash").Text(), "password is changed") {
		t.Errorf("flash %q", testid(r, "flash").Text())
	}
	wantRedirect(t, phone.get("/dashboard"), "/sign-in")
	wantStatus(t, a.newBrowser(t).signIn(email, "old password 1", ""), http.StatusUnprocessableEntity)
	wantRedirect(t, a.newBrowser(t).signIn(email, "new password 2", ""), "/dashboard")

	// The link works once.
	other := a.newBrowser(t)
	r = other.get(localPart(t, link))
	wantStatus(t, r, http.StatusGone)
	if href, _ := testid(r, "reset-ask-again").Attr("href"); href != "/password/forgot" || !strings.Contains(r.body, "expired or was already used") {
		t.Errorf("used link page: %s", abbreviate(r.body))
	}
	r = other.post("/password/reset", url.Values{"_csrf": {other.csrf("/sign-in")}, "token": {token}, "new_password": {"third password 3"}})
	wantStatus(t, r, http.StatusGone)
	wantRedirect(t, a.newBrowser(t).signIn(email, "new password 2", ""), "/dashboard")

	if strings.Contains(logs.String(), token) {
		t.Error("the token is in the log")
	}
	if !strings.Contains(logs.String(), "path=/password/reset") {
		t.Errorf("the requests were not logged at all:\n%s", logs.String())
	}
}

// newResetToken stores a link for the user directly, as the job does.
func newResetToken(t *testing.T, a *testApp, email string, expires time.Time) string {
	t.Helper()
	u, err := a.store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	token, hash := reset.NewToken()
	if err := a.store.CreatePasswordReset(context.Background(), &db.PasswordReset{UserID: u.ID, TokenHash: hash, ExpiresAt: expires}); err != nil {
		t.Fatal(err)
	}
	return token
}

func TestPasswordResetExpiredOrForgedLink(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	email := uniqueEmail("expired")
	wantRedirect(t, a.newBrowser(t).signUp("Expired Co", email, "password123"), "/dashboard")
	expired := newResetToken(t, a, email, time.Now().Add(-time.Minute))
	forged, _ := reset.NewToken()
	for _, tt := range []struct{ name, token string }{
		{"expired", expired}, {"never issued", forged}, {"malformed", "abc"}, {"empty", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := a.newBrowser(t)
			r := b.get("/password/reset?token=" + url.QueryEscape(tt.token))
			wantStatus(t, r, http.StatusGone)
			if testid(r, "reset-invalid").Length() != 1 {
				t.Errorf("page: %s", abbreviate(r.body))
			}
			r = b.post("/password/reset", url.Values{"_csrf": {b.csrf("/sign-in")}, "token": {tt.token}, "new_password": {"new password 2"}})
			wantStatus(t, r, http.StatusGone)
			if b.cookie("aibud_session") != nil {
				t.Error("a refused link signed someone in")
			}
		})
	}
	wantRedirect(t, a.newBrowser(t).signIn(email, "password123", ""), "/dashboard")
}

// TestPasswordResetConcurrentUse: the same link posted from ten browsers
// at once sets the password exactly once.
func TestPasswordResetConcurrentUse(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	email := uniqueEmail("race")
	wantRedirect(t, a.newBrowser(t).signUp("Race Co", email, "password123"), "/dashboard")
	token := newResetToken(t, a, email, time.Now().Add(time.Hour))

	type attempt struct {
		b   *browser
		tok string
	}
	var attempts []attempt
	for range 10 {
		b := a.newBrowser(t)
		attempts = append(attempts, attempt{b, b.csrf("/sign-in")})
	}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		winner   string
	)
	for i, at := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pw := "winner password " + strconv.Itoa(i)
			r := at.b.post("/password/reset", url.Values{"_csrf": {at.tok}, "token": {token}, "new_password": {pw}})
			mu.Lock()
			defer mu.Unlock()
			statuses[r.StatusCode]++
			if r.StatusCode == http.StatusSeeOther {
				winner = pw
			}
		}()
	}
	wg.Wait()
	if statuses[http.StatusSeeOther] != 1 || statuses[http.StatusGone] != 9 {
		t.Fatalf("statuses %v, want one 303 and nine 410", statuses)
	}
	wantRedirect(t, a.newBrowser(t).signIn(email, winner, ""), "/dashboard")
}

func TestPasswordResetRateLimits(t *testing.T) {
	t.Parallel()
	limits := unlimited()
	limits.ResetPerEmail = redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Hour}
	limits.ResetPerIP = redis_rate.Limit{Rate: 6, Burst: 6, Period: time.Hour}
	a := newTestApp(t, withLimits(limits))
	known := uniqueEmail("limited")
	wantRedirect(t, a.newBrowser(t).signUp("Limited Co", known, "password123"), "/dashboard")
	unknown := uniqueEmail("nobody")

	b := a.newBrowser(t)
	var last [2]*response
	for i, email := range []string{known, unknown} {
		for range 2 {
			wantStatus(t, b.forgot(email), http.StatusOK)
		}
		last[i] = b.forgot(email)
		wantStatus(t, last[i], http.StatusTooManyRequests)
		ra, _ := strconv.Atoi(last[i].Header.Get("Retry-After"))
		if ra < 60 || !strings.Contains(testid(last[i], "form-error").Text(), "Too many reset requests for this address") {
			t.Errorf("429 with Retry-After %q and message %q", last[i].Header.Get("Retry-After"), testid(last[i], "form-error").Text())
		}
	}
	if strings.ReplaceAll(last[0].body, known, "X") != strings.ReplaceAll(last[1].body, unknown, "X") {
		t.Error("the limit answers differently for an existing account")
	}
	// Six requests from this address so far, refused ones included: the
	// network's limit.
	r := b.forgot(uniqueEmail("fresh"))
	wantStatus(t, r, http.StatusTooManyRequests)
	if !strings.Contains(testid(r, "form-error").Text(), "from your network") || r.Header.Get("Retry-After") == "" {
		t.Errorf("IP limit: %q", testid(r, "form-error").Text())
	}
}

// TestPasswordResetWithoutEmail: with no SMTP_URL the job sends nothing,
// says so at WARN, and never logs a link.
func TestPasswordResetWithoutEmail(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	store := dbtest.Store(t)
	_, u := dbtest.NewTenant(t, store)
	logs := new(syncBuffer)
	w := jobs.NewWorker(jobs.Deps{Store: store, Queue: e.queue, Metrics: e.metrics,
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, jobs.Options{})
	mux := asynq.NewServeMux()
	jobs.Register(mux, w)
	task, err := jobs.NewSendPasswordResetTask(jobs.SendPasswordResetPayload{Email: u.Email, IP: "192.0.2.9"})
	if err != nil {
		t.Fatal(err)
	}
	if err := mux.ProcessTask(context.Background(), task); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "email is not configured") || strings.Contains(out, "token=") {
		t.Errorf("log: %s", out)
	}
	var n int
	if err := dbtest.DB(t).NewRaw("SELECT count(*) FROM password_resets WHERE user_id = ?", u.ID).Scan(context.Background(), &n); err != nil || n != 0 {
		t.Errorf("%d links stored without a way to send them (err %v)", n, err)
	}
}
