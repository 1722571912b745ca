package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// TestBrowserConversationFollowsAndKeepsDraft opens a long conversation at
// its newest message, follows new ones while the reader is at the bottom,
// stays put (with a way down) when they scrolled up, and keeps a reply
// typed when the session ended in another tab through sign-in.
func TestBrowserConversationFollowsAndKeepsDraft(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	b, tenantID := a.tenantOf(t, "Long Talks Bakery")
	ts := a.store.Tenant(tenantID)
	inst := a.connect(t, b, tenantID)
	ct, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+15557770001", Name: "Rosa"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	say := func(i int, body string, at time.Time) {
		t.Helper()
		if _, err := ts.SaveMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: ct.ID, WaID: fmt.Sprintf("conv-%d", i),
			Direction: db.DirectionIn, Sender: db.SenderLead, ChatKind: db.ContactDirect, Type: "text", Body: body,
			Status: db.MessageDelivered, SentAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 60 {
		say(i, fmt.Sprintf("message number %d", i), start.Add(time.Duration(i)*time.Second))
	}
	worker := redis.NewClient(mustParseRedis(t, dbtest.RedisURL(t)))
	defer worker.Close()
	arrives := func(i int, body string) {
		t.Helper()
		say(i, body, time.Now())
		if err := live.NewPublisher(worker, a.namespace).Publish(ctx, tenantID, live.MessageCreated, map[string]int64{"contact_id": ct.ID}); err != nil {
			t.Fatal(err)
		}
	}

	c := newChrome(t, 1280, 800)
	users, _ := ts.Users(ctx)
	page := fmt.Sprintf("/contacts/%d", ct.ID)
	signIn := func() {
		t.Helper()
		c.do(
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="sign-in-form"]`)),
			chromedp.SendKeys(chromedp.CSS(`#f-email`), users[0].Email),
			chromedp.SendKeys(chromedp.CSS(`#f-password`), "password123"),
			chromedp.Click(chromedp.CSS(`[data-testid="sign-in-submit"]`)),
		)
		c.waitPath(page)
	}
	c.do(chromedp.Navigate(a.URL + page))
	signIn()
	c.waitText(`[data-testid="messages"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "message number 59") })
	atBottom := `(function(){ var el = document.getElementById("messages"); return el.scrollHeight - el.scrollTop - el.clientHeight < 4; })()`
	if !eval[bool](c, `document.getElementById("messages").scrollHeight > document.getElementById("messages").clientHeight`) {
		t.Fatal("the conversation is not long enough to scroll")
	}
	if !eval[bool](c, atBottom) {
		t.Error("the conversation opened away from its newest message")
	}
	c.waitLive()

	// At the bottom, a new message scrolls into view.
	arrives(60, "a new question at the bottom")
	c.waitText(`[data-testid="messages"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "a new question at the bottom") })
	waitFor(t, 5*time.Second, "the new message scrolled into view", func() bool { return eval[bool](c, atBottom) })

	// Scrolled up to read, a new message leaves the view where it is and
	// offers the way down.
	eval[bool](c, `(function(){ var el = document.getElementById("messages"); el.scrollTop = 0; el.dispatchEvent(new Event("scroll")); return true; })()`)
	arrives(61, "another one while reading old ones")
	c.waitText(`[data-testid="messages"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "another one while reading") })
	c.waitText(`[data-testid="new-below"]`, 5*time.Second, func(s string) bool { return strings.Contains(s, "New messages") })
	if top := eval[float64](c, `document.getElementById("messages").scrollTop`); top > 4 {
		t.Errorf("the conversation jumped to %vpx while the reader was at the top", top)
	}
	c.shot("scrolled-up-new-message")
	c.click(`[data-testid="new-below"]`)
	waitFor(t, 5*time.Second, "the way down", func() bool { return eval[bool](c, atBottom) })

	// A reply is being typed when the session ends in another tab.
	c.do(chromedp.SendKeys(chromedp.CSS(`[data-testid="reply-body"]`), "Half of a long answer"))
	other := c.newTab(t)
	other.do(chromedp.Navigate(a.URL + "/dashboard"))
	other.click(`.account-menu summary`)
	other.click(`[data-testid="sign-out"]`)
	other.waitPath("/sign-in")

	// Sending leads to sign-in, which leads back to the conversation with
	// the text still there.
	c.click(`[data-testid="reply-send"]`)
	c.waitPath("/sign-in?next=" + strings.ReplaceAll(page, "/", "%2F"))
	signIn()
	waitFor(t, 5*time.Second, "the reply typed before signing in again", func() bool {
		return eval[string](c, `((document.querySelector('[data-testid="reply-body"]') || {}).value || "")`) == "Half of a long answer"
	})
	c.click(`[data-testid="reply-send"]`)
	c.waitText(`[data-testid="messages"]`, 10*time.Second, func(s string) bool { return strings.Contains(s, "Half of a long answer") })
	waitFor(t, 5*time.Second, "the draft forgotten once sent", func() bool {
		return eval[bool](c, fmt.Sprintf(`localStorage.getItem("draft:%d") === null`, ct.ID))
	})
	if got := eval[string](c, `document.querySelector('[data-testid="reply-body"]').value`); got != "" {
		t.Errorf("the reply box still holds %q after sending", got)
	}
}
