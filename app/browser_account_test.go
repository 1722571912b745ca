package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// emulateLocale makes the tab report a time zone and a language, as a
// visitor's browser would: Intl's zone and locale, and navigator.languages
// (which follow Accept-Language).
func emulateLocale(c *chrome, tz, lang string) {
	c.t.Helper()
	ua := eval[string](c, `navigator.userAgent`)
	c.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: lang}); err != nil {
			return err
		}
		if _, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: tz}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: lang})
		return err
	}))
}

// TestBrowserSignUpPrefillsLocale: the sign-up form chooses the browser's
// time zone and the region of its language, and the account is created
// with them.
func TestBrowserSignUpPrefillsLocale(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	c := newChrome(t, 390, 844)
	emulateLocale(c, "America/Sao_Paulo", "pt-BR")
	c.do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(a.URL+"/sign-up"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-up-form"]`)))
	if got := eval[string](c, `Intl.DateTimeFormat().resolvedOptions().timeZone`); got != "America/Sao_Paulo" {
		t.Fatalf("the emulated time zone did not take: %q", got)
	}
	if got := c.waitText(`#f-timezone`, 5*time.Second, func(string) bool {
		return eval[string](c, `document.querySelector("#f-timezone").value`) == "America/Sao_Paulo"
	}); got == "" {
		t.Error("no time zone chosen")
	}
	if got := eval[string](c, `document.querySelector("#f-country").value`); got != "BR" {
		t.Errorf("country = %q, want BR", got)
	}
	c.noHorizontalScroll()
	c.shot("sign-up-phone")

	email := uniqueEmail("prefill")
	c.do(
		chromedp.SendKeys(chromedp.CSS(`#f-business_name`), "Padaria Central"),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "uma senha comprida"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-up-submit"]`)),
	)
	c.waitPath("/dashboard")
	if got := a.tenantByEmail(t, email); got.Timezone != "America/Sao_Paulo" || got.DefaultCountry != "BR" {
		t.Errorf("stored %q/%q", got.Timezone, got.DefaultCountry)
	}

	// The account page fits the phone too, and saves in place.
	c.do(chromedp.Navigate(a.URL+"/account"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="profile-form"]`)))
	c.waitLive()
	c.noHorizontalScroll()
	c.shot("account-phone")
	c.do(chromedp.SetValue(chromedp.CSS(`#f-country`), "PT"))
	c.click(`[data-testid="profile-submit"]`)
	if got := c.waitText(`[data-testid="profile-saved"]`, 10*time.Second, func(s string) bool { return s != "" }); !strings.Contains(got, "Saved") {
		t.Errorf("saved message %q", got)
	}
	if got := a.tenantByEmail(t, email); got.DefaultCountry != "PT" {
		t.Errorf("country stored %q, want PT", got.DefaultCountry)
	}
	c.noHorizontalScroll()
	c.shot("account-saved-phone")
}

// TestBrowserLanguageWithoutRegion: a language with no region ("en") leaves
// the country to the time zone's.
func TestBrowserLanguageWithoutRegion(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	c := newChrome(t, 1280, 900)
	emulateLocale(c, "Europe/Madrid", "en")
	c.do(chromedp.Navigate(a.URL+"/sign-up"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-up-form"]`)))
	tz := eval[string](c, `document.querySelector("#f-timezone").value`)
	country := eval[string](c, `document.querySelector("#f-country").value`)
	if tz != "Europe/Madrid" || country != "ES" {
		t.Errorf("prefilled %q/%q, want Europe/Madrid/ES", tz, country)
	}
}

// TestBrowserPasswordResetPhone walks the forgotten-password pages on a
// phone screen: the link from the email, the new password, the dashboard.
func TestBrowserPasswordResetPhone(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	email := uniqueEmail("phone-reset")
	wantRedirect(t, a.newBrowser(t).signUp("Phone Reset Co", email, "password123"), "/dashboard")
	c := newChrome(t, 390, 844)
	c.do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(a.URL+"/sign-in"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)))
	c.click(`[data-testid="forgot-password"]`)
	c.waitPath("/password/forgot")
	c.noHorizontalScroll()
	c.shot("forgot-phone")
	c.do(chromedp.SendKeys(chromedp.CSS(`#f-email`), email))
	c.click(`[data-testid="forgot-submit"]`)
	if got := c.waitText(`[data-testid="forgot-sent"]`, 10*time.Second, func(s string) bool { return s != "" }); !strings.Contains(got, "If an account exists") {
		t.Errorf("answer %q", got)
	}
	c.noHorizontalScroll()
	c.shot("forgot-sent-phone")

	_, link := resetEmail(t, a, email)
	c.do(chromedp.Navigate(a.URL+localPart(t, link)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="reset-form"]`)))
	c.noHorizontalScroll()
	c.shot("reset-phone")
	c.do(chromedp.SendKeys(chromedp.CSS(`#f-new_password`), "a new phone password"))
	c.click(`[data-testid="reset-submit"]`)
	c.waitPath("/dashboard")
	if got := c.waitText(`[data-testid="flash"]`, 10*time.Second, func(s string) bool { return s != "" }); !strings.Contains(got, "password is changed") {
		t.Errorf("flash %q", got)
	}
	c.do(chromedp.Navigate(a.URL+localPart(t, link)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="reset-invalid"]`)))
	c.noHorizontalScroll()
	c.shot("reset-used-phone")
}
