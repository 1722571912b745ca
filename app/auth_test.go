package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/go-redis/redis_rate/v10"

	"github.com/myaibud/aibud/app"
	"github.com/myaibud/aibud/db"
)

func TestSignUpSignInSignOut(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.newBrowser(t)
	email := uniqueEmail("flow")

	r := b.signUp("Sunrise Bakery", email, "correct horse battery")
	wantRedirect(t, r, "/dashboard")
	session := b.cookie("aibud_session")
	if session == nil {
		t.Fatal("no session cookie after sign-up")
	}
	setCookie := r.Header.Values("Set-Cookie")
	if !strings.Contains(strings.Join(setCookie, "\n"), "HttpOnly") || !strings.Contains(strings.Join(setCookie, "\n"), "SameSite=Lax") {
		t.Errorf("session cookie flags: %v", setCookie)
	}

	r = b.get("/dashboard")
	wantStatus(t, r, http.StatusOK)
	if got := strings.TrimSpace(testid(r, "credit-balance").Text()); got != "400" {
		t.Errorf("dashboard balance = %q, want 400", got)
	}
	if got := testid(r, "account-tenant").Text(); got != "Sunrise Bakery" {
		t.Errorf("tenant name = %q", got)
	}
	if !strings.Contains(testid(r, "flash").Text(), "Welcome") {
		t.Errorf("no welcome flash: %q", testid(r, "flash").Text())
	}
	// The flash shows once.
	if r := b.get("/dashboard"); testid(r, "flash").Length() != 0 {
		t.Error("the welcome flash showed twice")
	}

	u, err := a.store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(u.PasswordHash, "correct horse") || !strings.HasPrefix(u.PasswordHash, "$2") {
		t.Errorf("password not stored as a bcrypt hash: %q", u.PasswordHash)
	}
	tenant, err := a.store.TenantByID(context.Background(), u.TenantID)
	if err != nil || tenant.Plan != db.PlanStarter || tenant.CreditBalance != 400 {
		t.Errorf("tenant = %+v, err %v", tenant, err)
	}

	// Sign out: the session is gone and pages send us to sign in.
	tok := b.csrf("/dashboard")
	wantRedirect(t, b.post("/sign-out", url.Values{"_csrf": {tok}}), "/sign-in")
	wantRedirect(t, b.get("/dashboard"), "/sign-in")
	wantRedirect(t, b.get("/credits?page=2"), "/sign-in?next=%2Fcredits%3Fpage%3D2")

	// Sign in again and land where we were going.
	r = b.signIn(strings.ToUpper(email), "correct horse battery", "/credits?page=2")
	wantRedirect(t, r, "/credits?page=2")
	if b.cookie("aibud_session").Value == session.Value {
		t.Error("the session token was not rotated at sign-in")
	}
	wantStatus(t, b.get("/credits"), http.StatusOK)
}

func TestSignInRotatesSession(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.newBrowser(t)
	email := uniqueEmail("rotate")
	wantRedirect(t, b.signUp("Rotate Co", email, "password123"), "/dashboard")
	first := b.cookie("aibud_session").Value
	// Signing in again from a signed-in browser (the form is on every
	// page's CSRF token) must still hand out a new token.
	tok := b.csrf("/dashboard")
	wantRedirect(t, b.post("/sign-in", url.Values{"_csrf": {tok}, "email": {email}, "password": {"password123"}}), "/dashboard")
	second := b.cookie("aibud_session").Value
	if first == second {
		t.Fatal("sign-in kept the old session token")
	}
	// The old token no longer signs anyone in.
	other := a.newBrowser(t)
	u, _ := url.Parse(a.URL)
	other.http.Jar.SetCookies(u, []*http.Cookie{{Name: "aibud_session", Value: first}})
	wantRedirect(t, other.get("/dashboard"), "/sign-in")
}

func TestSignUpValidation(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	taken := uniqueEmail("taken")
	wantRedirect(t, a.newBrowser(t).signUp("First", taken, "password123"), "/dashboard")

	tests := []struct {
		name      string
		business  string
		email     string
		password  string
		field     string
		wantError string
	}{
		{"duplicate email", "Second", taken, "password123", "email", "already exists"},
		{"duplicate email in other case", "Second", strings.ToUpper(taken), "password123", "email", "already exists"},
		{"bad email", "Shop", "not-an-email", "password123", "email", "valid email"},
		{"email without domain dot", "Shop", "a@localhost", "password123", "email", "valid email"},
		{"short password", "Shop", uniqueEmail("short"), "short", "password", "at least 8"},
		{"password over bcrypt's 72 bytes", "Shop", uniqueEmail("long"), strings.Repeat("p", 73), "password", "at most 72"},
		{"missing business name", "   ", uniqueEmail("nobiz"), "password123", "business_name", "name of your business"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := a.newBrowser(t)
			r := b.signUp(tt.business, tt.email, tt.password)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if got := testid(r, "error-"+tt.field).Text(); !strings.Contains(got, tt.wantError) {
				t.Errorf("error on %s = %q, want it to mention %q", tt.field, got, tt.wantError)
			}
			if r.doc.Find("html").Length() == 0 {
				t.Error("a plain form post should get the full page back")
			}
			if b.cookie("aibud_session") != nil {
				t.Error("a failed sign-up started a session")
			}
		})
	}

	t.Run("htmx gets the form partial", func(t *testing.T) {
		b := a.newBrowser(t)
		tok := b.csrf("/sign-up")
		r := b.post("/sign-up", url.Values{"_csrf": {tok}, "business_name": {"X"}, "email": {"nope"}, "password": {"password123"}}, "HX-Request", "true")
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if strings.Contains(r.body, "<html") || testid(r, "sign-up-form").Length() != 1 {
			t.Errorf("want only the form partial, got %s", abbreviate(r.body))
		}
		if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "HX-Request") {
			t.Errorf("Vary = %v, want HX-Request", r.Header.Values("Vary"))
		}
		// The typed values survive the re-render; the password does not.
		if v, _ := r.doc.Find(`input[name="business_name"]`).Attr("value"); v != "X" {
			t.Errorf("business name not kept: %q", v)
		}
		if v, _ := r.doc.Find(`input[name="password"]`).Attr("value"); v != "" {
			t.Error("the password was echoed back")
		}
	})

	t.Run("htmx success redirects with HX-Redirect", func(t *testing.T) {
		b := a.newBrowser(t)
		tok := b.csrf("/sign-up")
		r := b.post("/sign-up", url.Values{"_csrf": {tok}, "business_name": {"Htmx Co"}, "email": {uniqueEmail("htmx")}, "password": {"password123"}}, "HX-Request", "true")
		wantStatus(t, r, http.StatusOK)
		if r.Header.Get("HX-Redirect") != "/dashboard" {
			t.Errorf("HX-Redirect = %q", r.Header.Get("HX-Redirect"))
		}
	})
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	email := uniqueEmail("csrf")
	form := url.Values{"business_name": {"Forged"}, "email": {email}, "password": {"password123"}}

	tests := []struct {
		name    string
		token   string
		headers []string
	}{
		{"no token", "", nil},
		{"wrong token", "not-the-token", nil},
		{"cross-site browser request", "", []string{"Sec-Fetch-Site", "cross-site"}},
		{"cross-site even with a token", "use-real", []string{"Sec-Fetch-Site", "cross-site"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := a.newBrowser(t)
			real := b.csrf("/sign-up")
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			switch tt.token {
			case "":
			case "use-real":
				f.Set("_csrf", real)
			default:
				f.Set("_csrf", tt.token)
			}
			r := b.post("/sign-up", f, tt.headers...)
			wantStatus(t, r, http.StatusForbidden)
			if !strings.Contains(r.body, "expired or came from another site") {
				t.Errorf("unclear CSRF error: %s", abbreviate(r.body))
			}
		})
	}
	if _, err := a.store.UserByEmail(context.Background(), email); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("a forged sign-up created the account (err %v)", err)
	}

	// Sign-out is protected too: a forged post leaves the session alone.
	b := a.newBrowser(t)
	wantRedirect(t, b.signUp("Victim", uniqueEmail("victim"), "password123"), "/dashboard")
	wantStatus(t, b.post("/sign-out", url.Values{}), http.StatusForbidden)
	wantStatus(t, b.get("/dashboard"), http.StatusOK)

	// A same-origin browser request passes on Sec-Fetch-Site alone.
	b2 := a.newBrowser(t)
	r := b2.post("/sign-up", url.Values{"business_name": {"Same Origin"}, "email": {uniqueEmail("same")}, "password": {"password123"}}, "Sec-Fetch-Site", "same-origin")
	wantRedirect(t, r, "/dashboard")
}

func TestSignInFailures(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	email := uniqueEmail("fail")
	wantRedirect(t, a.newBrowser(t).signUp("Fail Co", email, "password123"), "/dashboard")

	for _, tt := range []struct{ name, email, password string }{
		{"wrong password", email, "password124"},
		{"unknown email", uniqueEmail("ghost"), "password123"},
		{"empty", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := a.newBrowser(t)
			r := b.signIn(tt.email, tt.password, "")
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if got := testid(r, "form-error").Text(); got != "Email or password is wrong." {
				t.Errorf("message = %q", got)
			}
			if b.cookie("aibud_session") != nil {
				t.Error("a failed sign-in started a session")
			}
		})
	}

	t.Run("a longer password than the one set", func(t *testing.T) {
		// bcrypt reads 72 bytes: the exact 72-byte password signs in, the
		// same with anything after it must not.
		long := strings.Repeat("p", 72)
		longEmail := uniqueEmail("long")
		wantRedirect(t, a.newBrowser(t).signUp("Long Co", longEmail, long), "/dashboard")
		wantStatus(t, a.newBrowser(t).signIn(longEmail, long+"anything", ""), http.StatusUnprocessableEntity)
		wantStatus(t, a.newBrowser(t).signIn(longEmail, long+"p", ""), http.StatusUnprocessableEntity)
		wantRedirect(t, a.newBrowser(t).signIn(longEmail, long, ""), "/dashboard")
	})
	t.Run("password limits stated truthfully", func(t *testing.T) {
		for _, tt := range []struct{ password, want string }{
			{strings.Repeat("a", 73), "Use at most 72 characters."},
			{strings.Repeat("é", 40), "accented letters and emoji count double"},
		} {
			r := a.newBrowser(t).signUp("Limits Co", uniqueEmail("limits"), tt.password)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if got := r.doc.Find(`[data-testid="error-password"]`).Text(); !strings.Contains(got, tt.want) {
				t.Errorf("%d-character password: message %q, want %q", len([]rune(tt.password)), got, tt.want)
			}
		}
	})

	t.Run("open redirect refused", func(t *testing.T) {
		for _, next := range []string{"//evil.example/x", "https://evil.example", "/\\evil.example", "/events"} {
			b := a.newBrowser(t)
			wantRedirect(t, b.signIn(email, "password123", next), "/dashboard")
		}
	})
}

func TestRateLimitPerAccountAndIP(t *testing.T) {
	t.Parallel()
	limits := unlimited()
	limits.SignInPerAccount = redis_rate.Limit{Rate: 3, Burst: 3, Period: 15 * time.Minute}
	limits.SignInPerIP = redis_rate.Limit{Rate: 8, Burst: 8, Period: time.Minute}
	a := newTestApp(t, withLimits(limits))
	email := uniqueEmail("limited")
	wantRedirect(t, a.newBrowser(t).signUp("Limited Co", email, "password123"), "/dashboard") // sign-up does not count

	b := a.newBrowser(t)
	for range 3 {
		wantStatus(t, b.signIn(email, "wrong-password", ""), http.StatusUnprocessableEntity)
	}
	// The account is locked for now, even with the right password.
	r := b.signIn(email, "password123", "")
	wantStatus(t, r, http.StatusTooManyRequests)
	if !strings.Contains(testid(r, "form-error").Text(), "Too many failed attempts") || r.Header.Get("Retry-After") == "" {
		t.Errorf("429 without a clear message or Retry-After: %q %q", testid(r, "form-error").Text(), r.Header.Get("Retry-After"))
	}
	// Another account from the same address still works until the IP limit.
	other := uniqueEmail("other")
	wantRedirect(t, a.newBrowser(t).signUp("Other Co", other, "password123"), "/dashboard")
	wantRedirect(t, a.newBrowser(t).signIn(other, "password123", ""), "/dashboard")
	// Attempts so far from this IP: 3 + 1 + 1 = 5; three more reach 8.
	for range 3 {
		a.newBrowser(t).signIn(uniqueEmail("spray"), "x", "")
	}
	r = a.newBrowser(t).signIn(other, "password123", "")
	wantStatus(t, r, http.StatusTooManyRequests)
	if !strings.Contains(testid(r, "form-error").Text(), "Too many sign-in attempts") {
		t.Errorf("IP limit message = %q", testid(r, "form-error").Text())
	}
}

func TestSignUpRateLimit(t *testing.T) {
	t.Parallel()
	limits := unlimited()
	limits.SignUpPerIP = redis_rate.Limit{Rate: 2, Burst: 2, Period: time.Hour}
	a := newTestApp(t, withLimits(limits))
	for range 2 {
		wantRedirect(t, a.newBrowser(t).signUp("Spam", uniqueEmail("spam"), "password123"), "/dashboard")
	}
	email := uniqueEmail("spam")
	r := a.newBrowser(t).signUp("Spam", email, "password123")
	wantStatus(t, r, http.StatusTooManyRequests)
	if _, err := a.store.UserByEmail(context.Background(), email); !errors.Is(err, db.ErrNotFound) {
		t.Error("a rate-limited sign-up created the account")
	}
}

func TestSignedOutRedirects(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.newBrowser(t)
	// The first page says what the product is and leads to sign-up.
	r := b.get("/")
	wantStatus(t, r, http.StatusOK)
	if href, _ := testid(r, "landing-sign-up").Attr("href"); href != "/sign-up" {
		t.Errorf("the landing page does not lead to sign-up: %s", abbreviate(r.body))
	}
	wantRedirect(t, b.get("/dashboard"), "/sign-in")
	wantRedirect(t, b.get("/credits"), "/sign-in?next=%2Fcredits")
	wantRedirect(t, b.get("/events"), "/sign-in")
	r = b.get("/credits", "HX-Request", "true")
	if r.Header.Get("HX-Redirect") != "/sign-in" {
		t.Errorf("htmx request signed out: HX-Redirect = %q", r.Header.Get("HX-Redirect"))
	}
	// Owners' pages do not exist for others.
	wantRedirect(t, b.signUp("Not Owner", uniqueEmail("notowner"), "password123"), "/dashboard")
	wantStatus(t, b.get("/admin/queues"), http.StatusNotFound)
}

func TestOwnerSeesQueues(t *testing.T) {
	t.Parallel()
	owner := uniqueEmail("owner")
	a := newTestApp(t, withAdmins(strings.ToUpper(owner)))
	b := a.newBrowser(t)
	wantRedirect(t, b.signUp("Platform", owner, "password123"), "/dashboard")
	r := b.get("/admin/queues")
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(r.body, "Asynq") {
		t.Errorf("queues console: %s", abbreviate(r.body))
	}
	if href, _ := testid(r, "back-to-app").Attr("href"); href != "/admin" {
		t.Errorf("the queues console has no way back to the console: %s", abbreviate(r.body))
	}
	if href, _ := testid(b.get("/dashboard"), "console-link").Attr("href"); href != "/admin" {
		t.Error("the owner's navigation lacks the console link")
	}
	if r := b.get("/admin"); !strings.Contains(testid(r, "console-nav").Text(), "Queues") || !strings.Contains(r.body, `href="/admin/queues"`) {
		t.Error("the console's navigation lacks the queues link")
	}
}

// TestSignInLimitsHoldUnderConcurrency: 20 wrong passwords for one account
// from one address at once get at most the limit of password checks, the
// wait they are told is the true one, and the owner signing in from
// elsewhere is not locked out.
func TestSignInLimitsHoldUnderConcurrency(t *testing.T) {
	t.Parallel()
	limits := unlimited()
	limits.SignInPerAccountIP = redis_rate.Limit{Rate: 5, Burst: 5, Period: 15 * time.Minute}
	limits.SignInPerAccount = redis_rate.Limit{Rate: 12, Burst: 12, Period: time.Hour}
	a := newTestApp(t, withLimits(limits), func(o *app.Options) { o.TrustProxy = true })
	email := uniqueEmail("target")
	wantRedirect(t, a.newBrowser(t).signUp("Target Co", email, "password123"), "/dashboard")

	attempt := func(password, ip string) *response {
		b := a.newBrowser(t)
		tok := b.csrf("/sign-in")
		return b.post("/sign-in", url.Values{"_csrf": {tok}, "email": {email}, "password": {password}}, "X-Forwarded-For", ip)
	}
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		last     *response
		wg       sync.WaitGroup
	)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := attempt("wrong-password", "203.0.113.7")
			mu.Lock()
			statuses[r.StatusCode]++
			if r.StatusCode == http.StatusTooManyRequests {
				last = r
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if statuses[http.StatusUnprocessableEntity] != 5 || statuses[http.StatusTooManyRequests] != 15 {
		t.Fatalf("statuses %v, want 5 checked (422) and 15 refused (429)", statuses)
	}
	// One attempt frees up every 3 minutes: that is what they are told.
	ra, _ := strconv.Atoi(last.Header.Get("Retry-After"))
	if msg := testid(last, "form-error").Text(); ra < 170 || ra > 181 || !strings.Contains(msg, "3 minutes") {
		t.Errorf("Retry-After %q, message %q: want about 180 s and \"3 minutes\"", last.Header.Get("Retry-After"), msg)
	}
	// The right password from that address waits too…
	wantStatus(t, attempt("password123", "203.0.113.7"), http.StatusTooManyRequests)
	// …but the owner, elsewhere, is not locked out.
	r := attempt("password123", "198.51.100.20")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the owner from another address: %d %s", r.StatusCode, testid(r, "form-error").Text())
	}
	// Guessing from many addresses meets the account's own limit: 12 in all,
	// counting from the owner's sign-in, which cleared it.
	for i := range 12 {
		wantStatus(t, attempt("wrong-password", fmt.Sprintf("192.0.2.%d", i)), http.StatusUnprocessableEntity)
	}
	r = attempt("wrong-password", "192.0.2.200")
	wantStatus(t, r, http.StatusTooManyRequests)
	if !strings.Contains(testid(r, "form-error").Text(), "Too many failed attempts for this account.") {
		t.Errorf("account limit message %q", testid(r, "form-error").Text())
	}
}

// TestCSRFTokenIsBoundToTheSession: the token changes at sign-in, and a
// valid token taken from another browser (with its cookie planted in the
// victim's browser, as double-submit checks allowed) is refused.
func TestCSRFTokenIsBoundToTheSession(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	victim := a.newBrowser(t)
	before := victim.csrf("/sign-in")
	wantRedirect(t, victim.signUp("Victim Co", uniqueEmail("bound"), "password123"), "/dashboard")
	after := victim.csrf("/settings")
	if before == after {
		t.Error("the CSRF token did not change at sign-in")
	}

	attacker := a.newBrowser(t)
	wantRedirect(t, attacker.signUp("Attacker Co", uniqueEmail("attacker"), "password123"), "/dashboard")
	stolen := attacker.csrf("/settings")
	anonymous := a.newBrowser(t)
	anonToken := anonymous.csrf("/sign-in")
	u, _ := url.Parse(a.URL)
	for _, tt := range []struct {
		name  string
		token string
		plant *http.Cookie
	}{
		{"another session's token", stolen, nil},
		{"a visitor's token with its cookie planted", anonToken, anonymous.cookie("aibud_csrf")},
		{"the victim's token from before sign-in", before, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.plant != nil {
				victim.http.Jar.SetCookies(u, []*http.Cookie{{Name: tt.plant.Name, Value: tt.plant.Value, Path: "/"}})
			}
			wantStatus(t, victim.post("/sign-out", url.Values{"_csrf": {tt.token}}), http.StatusForbidden)
			wantStatus(t, victim.get("/dashboard"), http.StatusOK) // still signed in
		})
	}
	wantRedirect(t, victim.post("/sign-out", url.Values{"_csrf": {victim.csrf("/dashboard")}}), "/sign-in")
}

// TestQueuesConsoleCaching: the queues console's hashed JavaScript (1.3 MB)
// is kept by the browser for a year instead of downloaded on every visit;
// its page, and a hashed name that does not exist, are not.
func TestQueuesConsoleCaching(t *testing.T) {
	t.Parallel()
	owner := uniqueEmail("owner-cache")
	a := newTestApp(t, withAdmins(owner))
	b := a.newBrowser(t)
	wantRedirect(t, b.signUp("Platform", owner, "password123"), "/dashboard")
	page := b.get("/admin/queues")
	wantStatus(t, page, http.StatusOK)
	if cc := page.Header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Errorf("the console's page is cached for good: %q", cc)
	}
	var scripts []string
	page.doc.Find(`script[src]`).Each(func(_ int, s *goquery.Selection) { scripts = append(scripts, s.AttrOr("src", "")) })
	if len(scripts) == 0 {
		t.Fatalf("no scripts on the console's page: %s", abbreviate(page.body))
	}
	for _, src := range scripts {
		r := b.get(src)
		wantStatus(t, r, http.StatusOK)
		if cc := r.Header.Get("Cache-Control"); cc != "private, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", src, cc)
		}
		if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
			t.Errorf("%s: Content-Type %q", src, ct)
		}
	}
	if cc := b.get("/admin/queues/static/js/main.00000000.chunk.js").Header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Errorf("a missing asset (answered with the console's page) is cached for good: %q", cc)
	}
}
