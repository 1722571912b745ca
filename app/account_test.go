package app_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// signUpAt signs up through the form with a time zone and country.
func (b *browser) signUpAt(business, email, password, tz, country string) *response {
	b.t.Helper()
	tok := b.csrf("/sign-up")
	return b.post("/sign-up", url.Values{"_csrf": {tok}, "business_name": {business}, "email": {email}, "password": {password},
		"timezone": {tz}, "country": {country}})
}

func (a *testApp) tenantByEmail(t *testing.T, email string) *db.Tenant {
	t.Helper()
	u, err := a.store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	tenant, err := a.store.TenantByID(context.Background(), u.TenantID)
	if err != nil {
		t.Fatal(err)
	}
	return tenant
}

func TestSignUpStoresTimezoneAndCountry(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	tests := []struct {
		name, tz, country     string
		wantTZ, wantCountry   string
		wantStatus, wantField string
	}{
		{"chosen", "Europe/Madrid", "ES", "Europe/Madrid", "ES", "", ""},
		{"old browser name", "Asia/Calcutta", "in", "Asia/Kolkata", "IN", "", ""},
		{"nothing chosen (no JavaScript)", "", "", "UTC", "", "", ""},
		{"unknown zone", "Mars/Base", "ES", "", "", "422", "timezone"},
		{"unknown country", "UTC", "ZZ", "", "", "422", "country"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			email := uniqueEmail("locale")
			r := a.newBrowser(t).signUpAt("Locale Co", email, "password123", tt.tz, tt.country)
			if tt.wantStatus != "" {
				wantStatus(t, r, http.StatusUnprocessableEntity)
				if testid(r, "error-"+tt.wantField).Text() == "" {
					t.Errorf("no error on %s", tt.wantField)
				}
				return
			}
			wantRedirect(t, r, "/dashboard")
			if got := a.tenantByEmail(t, email); got.Timezone != tt.wantTZ || got.DefaultCountry != tt.wantCountry {
				t.Errorf("stored %q/%q, want %q/%q", got.Timezone, got.DefaultCountry, tt.wantTZ, tt.wantCountry)
			}
		})
	}
	t.Run("the form offers the lists with server defaults", func(t *testing.T) {
		r := a.newBrowser(t).get("/sign-up")
		zone := r.doc.Find(`select[name="timezone"]`)
		if v, _ := zone.Find("option[selected]").Attr("value"); v != "UTC" {
			t.Errorf("time zone preselected %q, want UTC", v)
		}
		if n := zone.Find("option").Length(); n < 400 {
			t.Errorf("%d time zones offered", n)
		}
		country := r.doc.Find(`select[name="country"]`)
		if v, _ := country.Find("option[selected]").Attr("value"); v != "" {
			t.Errorf("country preselected %q, want none", v)
		}
		if country.Find(`option[value="ES"]`).Text() != "Spain" {
			t.Error("Spain is not offered by name")
		}
		if p, _ := zone.Attr("data-prefill"); p != "timezone" {
			t.Error("the time zone is not marked for the browser to fill")
		}
	})
}

func TestAccountProfile(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.newBrowser(t)
	email, otherEmail := uniqueEmail("profile"), uniqueEmail("bystander")
	wantRedirect(t, b.signUp("Old Name", email, "password123"), "/dashboard")
	wantRedirect(t, a.newBrowser(t).signUpAt("Bystander", otherEmail, "password123", "Asia/Tokyo", "JP"), "/dashboard")

	r := b.get("/account")
	wantStatus(t, r, http.StatusOK)
	if testid(r, "profile-form").Length() != 1 || testid(r, "login-form").Length() != 1 {
		t.Fatalf("account page lacks its forms: %s", abbreviate(r.body))
	}
	if cur, _ := r.doc.Find(`.app-nav a[aria-current="page"]`).Attr("href"); cur != "/account" {
		t.Errorf("nav marks %q", cur)
	}
	tok := b.csrf("/account")
	r = b.post("/account/profile", url.Values{"_csrf": {tok}, "business_name": {"  New Name  "}, "timezone": {"America/Sao_Paulo"}, "country": {"BR"}})
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(testid(r, "profile-saved").Text(), "Saved") {
		t.Errorf("no Saved message: %s", abbreviate(r.body))
	}
	if got := testid(r, "account-tenant").Text(); got != "New Name" {
		t.Errorf("the page around shows %q", got)
	}
	if got := a.tenantByEmail(t, email); got.Name != "New Name" || got.Timezone != "America/Sao_Paulo" || got.DefaultCountry != "BR" {
		t.Errorf("stored %+v", got)
	}
	if got := a.tenantByEmail(t, otherEmail); got.Name != "Bystander" || got.Timezone != "Asia/Tokyo" || got.DefaultCountry != "JP" {
		t.Errorf("another tenant changed: %+v", got)
	}

	for _, tt := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"empty name", url.Values{"business_name": {" "}, "timezone": {"UTC"}}, "business_name"},
		{"unknown zone", url.Values{"business_name": {"X"}, "timezone": {"Europe/Atlantis"}}, "timezone"},
		{"unknown country", url.Values{"business_name": {"X"}, "timezone": {"UTC"}, "country": {"QQ"}}, "country"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("_csrf", tok)
			r := b.post("/account/profile", tt.form, "HX-Request", "true")
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if testid(r, "error-"+tt.field).Text() == "" || strings.Contains(r.body, "<html") {
				t.Errorf("want the form partial with an error on %s: %s", tt.field, abbreviate(r.body))
			}
		})
	}
	if got := a.tenantByEmail(t, email); got.Name != "New Name" {
		t.Errorf("a refused change was stored: %+v", got)
	}
}

func TestAccountLogin(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.newBrowser(t)
	email, taken := uniqueEmail("login"), uniqueEmail("taken")
	wantRedirect(t, b.signUp("Login Co", email, "password123"), "/dashboard")
	wantRedirect(t, a.newBrowser(t).signUp("Taken Co", taken, "password123"), "/dashboard")
	tok := b.csrf("/account")
	post := func(form url.Values) *response {
		form.Set("_csrf", tok)
		return b.post("/account/login", form)
	}

	for _, tt := range []struct {
		name  string
		form  url.Values
		field string
		want  string
	}{
		{"wrong current password", url.Values{"email": {email}, "new_password": {"new password 1"}, "current_password": {"password124"}}, "current_password", "not your current password"},
		{"no current password", url.Values{"email": {uniqueEmail("new")}, "current_password": {""}}, "current_password", "current password"},
		{"email taken", url.Values{"email": {strings.ToUpper(taken)}, "current_password": {"password123"}}, "email", "Another account uses this email"},
		{"short new password", url.Values{"email": {email}, "new_password": {"short"}, "current_password": {"password123"}}, "new_password", "at least 8"},
		{"nothing to change", url.Values{"email": {email}, "current_password": {"password123"}}, "new_password", "new email or a new password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := post(tt.form)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			if got := testid(r, "error-"+tt.field).Text(); !strings.Contains(got, tt.want) {
				t.Errorf("error on %s = %q, want %q", tt.field, got, tt.want)
			}
			if v, _ := r.doc.Find(`input[type="password"]`).Attr("value"); v != "" {
				t.Error("a password was echoed back")
			}
		})
	}
	if u, _ := a.store.UserByEmail(context.Background(), email); u == nil {
		t.Fatal("a refused change moved the email")
	}

	newEmail := uniqueEmail("moved")
	r := post(url.Values{"email": {newEmail}, "current_password": {"password123"}})
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(testid(r, "login-saved").Text(), "Saved") || testid(r, "account-email").Text() != newEmail {
		t.Errorf("after the email change: %q, menu %q", testid(r, "login-saved").Text(), testid(r, "account-email").Text())
	}
	wantStatus(t, a.newBrowser(t).signIn(email, "password123", ""), http.StatusUnprocessableEntity)
	wantRedirect(t, a.newBrowser(t).signIn(newEmail, "password123", ""), "/dashboard")
}

// TestAccountPasswordChangeSignsOutElsewhere: a new password ends the
// user's other sessions; this one goes on, on a new token.
func TestAccountPasswordChangeSignsOutElsewhere(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b := a.newBrowser(t)
	email := uniqueEmail("pwchange")
	wantRedirect(t, b.signUp("Password Co", email, "password123"), "/dashboard")
	phone := a.newBrowser(t)
	wantRedirect(t, phone.signIn(email, "password123", ""), "/dashboard")
	bystander := a.newBrowser(t)
	wantRedirect(t, bystander.signUp("Bystander Co", uniqueEmail("bystander"), "password123"), "/dashboard")
	before := b.cookie("aibud_session").Value

	tok := b.csrf("/account")
	r := b.post("/account/login", url.Values{"_csrf": {tok}, "email": {email}, "new_password": {"a brand new password"}, "current_password": {"password123"}},
		"HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	if got := testid(r, "login-saved").Text(); !strings.Contains(got, "Saved") || !strings.Contains(got, "signed out everywhere else") {
		t.Errorf("saved message %q", got)
	}
	if after := b.cookie("aibud_session"); after == nil || after.Value == before {
		t.Error("the session token was not rotated")
	}
	wantStatus(t, b.get("/dashboard"), http.StatusOK)
	wantRedirect(t, phone.get("/dashboard"), "/sign-in")
	wantStatus(t, bystander.get("/dashboard"), http.StatusOK)
	// The old token is worth nothing either.
	old := a.newBrowser(t)
	u, _ := url.Parse(a.URL)
	old.http.Jar.SetCookies(u, []*http.Cookie{{Name: "aibud_session", Value: before}})
	wantRedirect(t, old.get("/dashboard"), "/sign-in")

	wantStatus(t, a.newBrowser(t).signIn(email, "password123", ""), http.StatusUnprocessableEntity)
	wantRedirect(t, a.newBrowser(t).signIn(email, "a brand new password", ""), "/dashboard")
}

// TestOlderSessionsEndOnPasswordChange: a session saved before sessions
// recorded their user gets its user recorded at start, so a password change
// ends it like the others.
func TestOlderSessionsEndOnPasswordChange(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	b := a.newBrowser(t)
	email := uniqueEmail("oldsession")
	wantRedirect(t, b.signUp("Old Session Co", email, "password123"), "/dashboard")
	old := a.newBrowser(t)
	wantRedirect(t, old.signIn(email, "password123", ""), "/dashboard")
	u, err := a.store.UserByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	// As saved before the upgrade: no user recorded.
	if _, err := dbtest.DB(t).ExecContext(ctx, "UPDATE sessions SET user_id = NULL WHERE user_id = ?", u.ID); err != nil {
		t.Fatal(err)
	}
	n, err := app.AttributeSessions(ctx, a.store, app.NewSessions(a.store, false, time.Hour))
	if err != nil || n < 2 {
		t.Fatalf("attributed %d sessions (%v), want at least 2", n, err)
	}
	tok := b.csrf("/account")
	r := b.post("/account/login", url.Values{"_csrf": {tok}, "email": {email}, "new_password": {"another new password"}, "current_password": {"password123"}},
		"HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	wantRedirect(t, old.get("/dashboard"), "/sign-in")
	wantStatus(t, b.get("/dashboard"), http.StatusOK)
}
