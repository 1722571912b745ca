package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/myaibud/aibud/app/live"
)

// heartbeatEvery keeps proxies from closing an idle stream and lets us notice
// browsers that went away.
const heartbeatEvery = 20 * time.Second

// streamLimits bound the live streams of one web process: a browser session
// rarely has more than a few tabs open, and every stream holds a goroutine
// and buffers. Beyond them the oldest stream closes.
var streamLimits = live.Limits{PerKey: 10, PerTenant: 200}

// signOutGrace is how long a signed-out session's stream stays open,
// silent, before it is closed.
const signOutGrace = 2 * time.Second

// streamKey names a browser session in live events without revealing its
// token.
func streamKey(sessionToken string) string {
	sum := sha256.Sum256([]byte("stream\x00" + sessionToken))
	return hex.EncodeToString(sum[:12])
}

// streamSince is when the page behind a stream last knew its data: the
// Last-Event-ID of a stream that reconnects, else the page's own stamp
// (views.EventsPath).
func streamSince(r *http.Request) (time.Time, bool) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("since")
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms <= 0 {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}

// endsStream reports whether a session-ended event is for the stream's
// session.
func endsStream(data []byte, key string) bool {
	var d struct {
		Session string `json:"session"`
	}
	return json.Unmarshal(data, &d) == nil && d.Session == key
}

// events streams the signed-in tenant's live updates as Server-Sent Events.
// Each event only names what changed; elements re-fetch their partial with
// hx-trigger="sse:<name>", through the normal tenant-scoped handlers.
func (h *handler) events(c echo.Context) error {
	p := mustPrincipal(c)
	ctx := c.Request().Context()
	key := streamKey(h.sessions.Token(ctx))
	sub, err := h.hub.SubscribeStream(ctx, p.tenant.ID, key, streamLimits)
	if err != nil {
		return err
	}
	defer sub.Close()

	w := c.Response()
	// The server's write timeout would cut the stream; lift it for this one.
	if err := http.NewResponseController(w).SetWriteDeadline(time.Time{}); err != nil {
		return fmt.Errorf("events: clear write deadline: %w", err)
	}
	hd := w.Header()
	hd.Set(echo.HeaderContentType, "text/event-stream")
	hd.Set("Cache-Control", "no-cache, no-transform")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 3000\n: connected\n\n"); err != nil {
		return nil
	}
	// What changed since the page was rendered (or since the last message
	// of a stream that reconnects) is told at once, so only the regions
	// that may have missed an update re-fetch.
	var buf bytes.Buffer
	if since, ok := streamSince(c.Request()); ok {
		names, known, err := h.publisher.ChangedSince(ctx, p.tenant.ID, since)
		if err != nil || !known {
			names = []string{live.Resync}
		}
		for _, name := range names {
			fmt.Fprintf(&buf, "event: %s\ndata: {}\n\n", name)
		}
	}
	fmt.Fprintf(&buf, "id: %d\n\n", time.Now().UnixMilli())
	if _, err := w.Write(buf.Bytes()); err != nil {
		return nil
	}
	w.Flush()

	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	var ending <-chan time.Time // set once the session signed out
	for {
		buf.Reset()
		select {
		case <-ctx.Done():
			return nil
		case <-ending:
			return nil
		case e, ok := <-sub.Events():
			if !ok {
				// Closed by the hub: it is shutting down (the browser
				// reconnects elsewhere) or this stream was the oldest of too
				// many.
				return nil
			}
			if e.Name == live.SessionEnded {
				if ending == nil && endsStream(e.Data, key) {
					// Signed out, in this or another process: nothing more
					// is delivered, and the stream closes shortly, once the
					// page has had the time to leave by itself (a stream cut
					// under a page that is leaving shows as a connection
					// error in the browser).
					ending = time.After(signOutGrace)
				}
				continue
			}
			if ending != nil {
				continue
			}
			data := e.Data
			if len(data) == 0 {
				data = []byte("{}") // an event without data is never dispatched
			}
			fmt.Fprintf(&buf, "event: %s\ndata: %s\nid: %d\n\n", e.Name, data, time.Now().UnixMilli())
		case <-heartbeat.C:
			fmt.Fprintf(&buf, ": ping\nid: %d\n\n", time.Now().UnixMilli())
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return nil
		}
		w.Flush()
	}
}
