package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// stubStripePages answers the tab's requests to Stripe's hosted pages
// with a small page of its own (nothing here reaches the internet), so
// the browser lands there and the test can read where it went.
func stubStripePages(c *chrome) {
	c.t.Helper()
	paused := chromedp.Events(c.ctx, fetch.RequestPaused)
	c.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
			{URLPattern: "https://checkout.stripe.com/*"}, {URLPattern: "https://billing.stripe.com/*"},
		}})
		return err
	}))
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			_ = chromedp.Do(c.ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := cdp.Call(ctx, t, fetch.FulfillRequest, fetch.FulfillRequestParams{
					RequestID: ev.RequestID, ResponseCode: 200,
					ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/html"}},
					Body:            []byte(`<!doctype html><title>Stripe (test)</title><p id="stripe">Stripe stand-in</p>`),
				})
				return err
			}))
		}
	}()
}

// TestBrowserBillingCheckout: a tenant opens /billing on a phone, chooses
// Pro and is sent to Checkout (stripe-mock's session URL): the page's
// content security policy lets the form lead there.
func TestBrowserBillingCheckout(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, withStripe(t))
	owner := uniqueEmail("billingbrowser")
	wantRedirect(t, a.newBrowser(t).signUp("Checkout Shop", owner, "password123"), "/dashboard")
	c := newChrome(t, 390, 844)
	stubStripePages(c)
	c.do(
		chromedp.Navigate(a.URL+"/sign-in"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), owner),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
	)
	c.click(`[data-testid="sign-in-submit"]`)
	c.waitPath("/dashboard")
	c.do(chromedp.Navigate(a.URL+"/billing"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="choose-pro"]`)))
	c.noHorizontalScroll()
	c.click(`[data-testid="choose-pro"]`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
		href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
		cancel()
		if err == nil && strings.HasPrefix(href, "https://checkout.stripe.com/") {
			break
		}
		if time.Now().After(deadline) {
			c.shot("not-at-checkout")
			t.Fatalf("browser at %q, want Stripe Checkout", href)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
