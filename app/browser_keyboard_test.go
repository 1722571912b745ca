package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// press sends keys (e.g. kb.Tab) to whatever has focus, as a keyboard does.
func (c *chrome) press(keys string, mods ...chromedp.Modifier) {
	c.t.Helper()
	c.do(chromedp.KeyEvent(keys, chromedp.KeyModifiers(mods...)))
}

// active describes the focused element: #id, its data-testid, or its tag.
func (c *chrome) active() string {
	c.t.Helper()
	return eval[string](c, `(function(){ var a = document.activeElement; if (!a) return "";
		return a.id ? "#" + a.id : a.dataset && a.dataset.testid ? a.dataset.testid : a.tagName.toLowerCase(); })()`)
}

// waitActive waits until the focused element is want (as active says).
func (c *chrome) waitActive(want, after string) {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for c.active() != want {
		if time.Now().After(deadline) {
			c.shot("focus")
			c.t.Fatalf("after %s focus is on %s, want %s", after, c.active(), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tabTo presses Tab until want has focus and returns how many presses it
// took; it fails past limit.
func (c *chrome) tabTo(want string, limit int) int {
	c.t.Helper()
	for n := 1; n <= limit; n++ {
		c.press(kb.Tab)
		if c.active() == want {
			return n
		}
	}
	c.shot("tab")
	c.t.Fatalf("%s not reached in %d tab stops (focus on %s)", want, limit, c.active())
	return 0
}

// announced waits until the page's announcer reads text containing want.
func (c *chrome) announced(want string) {
	c.t.Helper()
	c.waitText(`[data-testid="announce"]`, 5*time.Second, func(s string) bool { return strings.Contains(s, want) })
}

// TestBrowserKeyboard walks the main paths with the keyboard only: sign up
// with mistakes, sign in, the skip link and the account menu, a reply in a
// conversation and saving the settings. After every htmx swap focus is
// where the user works, not on <body>, and what the swap says is read out.
func TestBrowserKeyboard(t *testing.T) {
	t.Parallel()
	s := newAxeSite(t)
	c := newChrome(t, 1280, 900)
	c.base = s.a.URL

	// Sign-up with nothing filled in: focus on the first field in error,
	// and the form says what is wrong.
	c.do(chromedp.Navigate(c.base+"/sign-up"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-up-form"]`)))
	c.tabTo("#f-business_name", 4)
	c.press(kb.Enter)
	c.announced("need a fix")
	c.waitActive("#f-business_name", "a sign-up with errors")
	if !eval[bool](c, `document.activeElement.getAttribute("aria-invalid") === "true"`) {
		t.Error("the focused field is not the new one, marked invalid")
	}

	// Sign-in: a wrong password keeps focus in the password field.
	c.do(chromedp.Navigate(c.base+"/sign-in"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)))
	c.tabTo("#f-email", 4)
	c.press(s.tenantEmail + kb.Tab + "wrong password" + kb.Enter)
	c.announced("Email or password is wrong.")
	c.waitActive("#f-password", "a failed sign-in")
	c.press("password123" + kb.Enter)
	c.waitPath("/dashboard")
	c.waitLive()

	// The first stop skips the header.
	c.press(kb.Tab)
	c.waitActive("skip-link", "the first Tab")
	c.press(kb.Enter)
	c.waitActive("#main", "the skip link")

	// The account menu: named, closed by Escape and when focus leaves.
	c.do(chromedp.Focus(chromedp.CSS(`[data-testid="account-toggle"]`)))
	if name := eval[string](c, `document.activeElement.textContent.replace(/\s+/g, " ").trim()`); !strings.Contains(name, "Account: Axe Bakery") {
		t.Errorf("the account menu's toggle reads %q", name)
	}
	menuOpen := `document.querySelector(".account-menu").open`
	c.press(kb.Enter)
	if !eval[bool](c, menuOpen) {
		t.Fatal("Enter did not open the account menu")
	}
	c.press(kb.Escape)
	if eval[bool](c, menuOpen) {
		t.Error("Escape did not close the account menu")
	}
	c.waitActive("account-toggle", "Escape")
	c.press(kb.Enter)
	c.tabTo("sign-out", 2)
	c.press(kb.Tab)
	if eval[bool](c, menuOpen) {
		t.Errorf("the account menu stays open with focus on %s", c.active())
	}

	// A reply sent with Enter: focus stays in the reply box, and the
	// message is added to the conversation (a log) without replacing it.
	c.do(chromedp.Navigate(c.base + s.contacts[0]))
	c.waitLive()
	if got := eval[string](c, `(function(){ var m = document.getElementById("messages"); return [m.getAttribute("role"), m.getAttribute("aria-label"), m.tabIndex].join("|"); })()`); got != "log|Conversation with Rosa|0" {
		t.Errorf("conversation role|name|tabindex = %s", got)
	}
	eval[bool](c, `(window.__firstBubble = document.querySelector("#messages [data-id]")) !== null`)
	c.do(chromedp.Focus(chromedp.CSS(`[data-testid="reply-body"]`)))
	c.press("See you at eight" + kb.Enter)
	c.waitText(`[data-testid="messages"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "See you at eight") })
	c.waitActive("reply-body", "sending a reply")
	if !eval[bool](c, `document.querySelector("#messages [data-id]") === window.__firstBubble`) {
		t.Error("the conversation was replaced instead of added to: a screen reader reads nothing new")
	}

	// Settings: the save is a few stops from the top, Enter saves, focus
	// stays on the button and "Saved" is read out.
	c.do(chromedp.Navigate(c.base + "/settings"))
	c.waitLive()
	c.press(kb.Tab)
	c.press(kb.Enter) // skip link
	c.waitActive("#main", "the skip link")
	stops := c.tabTo("settings-save-top", 12)
	c.press(kb.Enter)
	c.announced("Saved")
	c.waitActive("settings-save-top", "saving the settings")
	if stops > 8 {
		t.Errorf("Save settings is %d tab stops into the page", stops)
	}

	// Tab and Shift+Tab keep the field in view below the sticky header.
	c.do(chromedp.Focus(chromedp.CSS(`textarea[name="instructions"]`)))
	eval[bool](c, `(function(){ var f = document.querySelector('textarea[name="instructions"]');
		window.scrollBy(0, f.getBoundingClientRect().top - document.querySelector(".app-header").getBoundingClientRect().bottom - 4); return true; })()`)
	c.press(kb.Tab, chromedp.ModifierShift)
	c.waitActive("#f-persona", "Shift+Tab")
	if gap := eval[float64](c, `document.activeElement.getBoundingClientRect().top - document.querySelector(".app-header").getBoundingClientRect().bottom`); gap < 0 {
		t.Errorf("the focused field is %vpx under the sticky header", -gap)
	}
	// Each time field is two or three stops (hours, minutes, AM/PM), not
	// four with the picker button.
	c.do(chromedp.Focus(chromedp.CSS(`input[name="open0"]`)))
	n := 0
	for c.active() != "#f-after_hours_reply" && n < 100 {
		c.press(kb.Tab)
		n++
	}
	if fields := 14; n > fields*3+7+3 {
		t.Errorf("the business hours take %d tab stops", n)
	}
	t.Log(fmt.Sprintf("business hours: %d tab stops", n))
}
