package app_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/myaibud/aibud/app/live"
	"github.com/myaibud/aibud/db/dbtest"
)

// sseEvent is one event read off a stream.
type sseEvent struct{ name, data string }

// stream is an open /events connection.
type stream struct {
	events chan sseEvent
	cancel context.CancelFunc
	header http.Header
}

// openStream connects to /events and returns once the server has said it is
// subscribed.
func (b *browser) openStream(t *testing.T) *stream {
	t.Helper()
	return b.openStreamAt(t, "/events")
}

// openStreamAt is openStream at path (with a query).
func (b *browser) openStreamAt(t *testing.T, path string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.app.URL+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Accept-Encoding", "gzip")
	client := &http.Client{Jar: b.http.Jar, CheckRedirect: b.http.CheckRedirect}
	res, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("/events: status %d", res.StatusCode)
	}
	s := &stream{events: make(chan sseEvent, 16), cancel: cancel, header: res.Header}
	connected := make(chan struct{})
	go func() {
		defer res.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == ": connected":
				close(connected)
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			case line == "" && ev.name != "":
				s.events <- ev
				ev = sseEvent{}
			}
		}
	}()
	select {
	case <-connected:
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("the stream never said it was connected")
	}
	t.Cleanup(cancel)
	return s
}

func (s *stream) next(t *testing.T, within time.Duration) (sseEvent, bool) {
	t.Helper()
	select {
	case e, ok := <-s.events:
		return e, ok
	case <-time.After(within):
		return sseEvent{}, false
	}
}

// until waits for an event named name, passing over the others.
func (s *stream) until(t *testing.T, name string, within time.Duration) bool {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				return false
			}
			if e.name == name {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

func TestEventsReachOnlyTheirTenant(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	alice, bob := a.newBrowser(t), a.newBrowser(t)
	aliceEmail := uniqueEmail("alice")
	wantRedirect(t, alice.signUp("Alice Shop", aliceEmail, "password123"), "/dashboard")
	wantRedirect(t, bob.signUp("Bob Shop", uniqueEmail("bob"), "password123"), "/dashboard")
	u, err := a.store.UserByEmail(context.Background(), aliceEmail)
	if err != nil {
		t.Fatal(err)
	}

	aliceTab1, aliceTab2, bobTab := alice.openStream(t), alice.openStream(t), bob.openStream(t)
	if ct := aliceTab1.header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type = %q", ct)
	}
	if ce := aliceTab1.header.Get("Content-Encoding"); ce != "" {
		t.Errorf("the stream is compressed (%q): events would be buffered", ce)
	}

	// A separate Redis connection stands for a worker process.
	worker := redis.NewClient(mustParseRedis(t, dbtest.RedisURL(t)))
	defer worker.Close()
	ctx := context.Background()
	if _, err := a.store.Tenant(u.TenantID).Grant(ctx, 50, "Top-up", "topup:1"); err != nil {
		t.Fatal(err)
	}
	if err := live.NewPublisher(worker, a.namespace).Publish(ctx, u.TenantID, live.CreditsUpdated, map[string]int64{"balance": 450}); err != nil {
		t.Fatal(err)
	}

	for i, tab := range []*stream{aliceTab1, aliceTab2} {
		e, ok := tab.next(t, 5*time.Second)
		if !ok || e.name != "credits-updated" || e.data != `{"balance":450}` {
			t.Errorf("alice's tab %d got %+v (ok %v)", i+1, e, ok)
		}
	}
	if e, ok := bobTab.next(t, time.Second); ok {
		t.Errorf("bob received alice's event: %+v", e)
	}

	// Closing one tab leaves the other subscribed.
	aliceTab1.cancel()
	time.Sleep(200 * time.Millisecond)
	if err := live.NewPublisher(worker, a.namespace).Publish(ctx, u.TenantID, live.CreditsUpdated, nil); err != nil {
		t.Fatal(err)
	}
	if e, ok := aliceTab2.next(t, 5*time.Second); !ok || e.name != "credits-updated" || e.data != "{}" {
		t.Errorf("alice's remaining tab got %+v (ok %v)", e, ok)
	}

	// What the event makes the page re-fetch shows the new balance.
	r := alice.get("/dashboard/credits", "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	if got := strings.TrimSpace(testid(r, "credit-balance").Text()); got != "450" {
		t.Errorf("balance partial = %q, want 450", got)
	}
	r = alice.get("/partials/credit-badge", "HX-Request", "true")
	if got := strings.TrimSpace(testid(r, "credit-badge").Text()); got != "450 credits" {
		t.Errorf("badge partial = %q", got)
	}
}

func mustParseRedis(t *testing.T, u string) *redis.Options {
	t.Helper()
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// ended waits for the server to end a stream.
func (s *stream) ended(within time.Duration) bool {
	deadline := time.After(within)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// TestStreamsAreBoundedAndEndAtSignOut: one session opening many streams
// keeps only the newest ten (the oldest close); signing out ends the
// session's streams, and another session of the tenant keeps its own.
func TestStreamsAreBoundedAndEndAtSignOut(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	email := uniqueEmail("streams")
	b := a.newBrowser(t)
	wantRedirect(t, b.signUp("Stream Shop", email, "password123"), "/dashboard")
	other := a.newBrowser(t)
	wantRedirect(t, other.signIn(email, "password123", ""), "/dashboard")
	otherTab := other.openStream(t)

	var tabs []*stream
	for range 60 {
		tabs = append(tabs, b.openStream(t))
	}
	for i, tab := range tabs[:50] {
		if !tab.ended(5 * time.Second) {
			t.Fatalf("stream %d of 60 is still open: one session keeps at most 10", i+1)
		}
	}
	u, _ := a.store.UserByEmail(context.Background(), email)
	pub := live.NewPublisher(redis.NewClient(mustParseRedis(t, dbtest.RedisURL(t))), a.namespace)
	if err := pub.Publish(context.Background(), u.TenantID, live.CreditsUpdated, nil); err != nil {
		t.Fatal(err)
	}
	for i, tab := range append(tabs[50:], otherTab) {
		if e, ok := tab.next(t, 5*time.Second); !ok || e.name != live.CreditsUpdated {
			t.Fatalf("open stream %d got %+v (ok %v)", i, e, ok)
		}
	}

	tok := b.csrf("/dashboard")
	wantRedirect(t, b.post("/sign-out", url.Values{"_csrf": {tok}}), "/sign-in")
	// Nothing more reaches the signed-out session's streams, which close.
	time.Sleep(300 * time.Millisecond) // the sign-out crossed Redis
	if err := pub.Publish(context.Background(), u.TenantID, live.CreditsUpdated, nil); err != nil {
		t.Fatal(err)
	}
	for i, tab := range tabs[50:] {
		for closed := false; !closed; {
			select {
			case e, ok := <-tab.events:
				if ok {
					t.Fatalf("stream %d received %+v after sign-out", i+1, e)
				}
				closed = true
			case <-time.After(5 * time.Second):
				t.Fatalf("stream %d stayed open after sign-out", i+1)
			}
		}
	}
	if e, ok := otherTab.next(t, 5*time.Second); !ok || e.name != live.CreditsUpdated {
		t.Errorf("the other session's stream got %+v (ok %v) after the first signed out", e, ok)
	}
}

// TestEventsTellWhatAPageMissed: a page's stream opens with the time its
// data was read; the stream names the events published since (so only
// those regions re-fetch), nothing when there were none, and "resync" when
// the time is older than it remembers.
func TestEventsTellWhatAPageMissed(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := a.tenantOf(t, "Late Stream Shop")
	at := func(d time.Duration) string {
		return fmt.Sprintf("/events?since=%d", time.Now().Add(d).UnixMilli())
	}
	if e, ok := b.openStreamAt(t, at(time.Minute)).next(t, 300*time.Millisecond); ok {
		t.Errorf("nothing was published since, yet the stream says %+v", e)
	}
	worker := redis.NewClient(mustParseRedis(t, dbtest.RedisURL(t)))
	defer worker.Close()
	if err := live.NewPublisher(worker, a.namespace).Publish(context.Background(), tenantID, live.CreditsUpdated, nil); err != nil {
		t.Fatal(err)
	}
	if e, ok := b.openStreamAt(t, at(-time.Second)).next(t, 2*time.Second); !ok || e.name != live.CreditsUpdated {
		t.Errorf("a page rendered before the grant: the stream first says %+v (ok %v), want %s", e, ok, live.CreditsUpdated)
	}
	if e, ok := b.openStreamAt(t, at(-time.Hour)).next(t, 2*time.Second); !ok || e.name != live.Resync {
		t.Errorf("a page an hour old: the stream first says %+v (ok %v), want %s", e, ok, live.Resync)
	}
}
