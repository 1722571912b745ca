package app

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// heartbeatEvery keeps proxies from closing an idle stream and lets us notice
// browsers that went away.
const heartbeatEvery = 20 * time.Second

// events streams the signed-in tenant's live updates as Server-Sent Events.
// Each event only names what changed; elements re-fetch their partial with
// hx-trigger="sse:<name>", through the normal tenant-scoped handlers.
func (h *handler) events(c echo.Context) error {
	p := mustPrincipal(c)
	ctx := c.Request().Context()
	sub, err := h.hub.SubscribeTenant(ctx, p.tenant.ID)
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
	w.Flush()

	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	var buf bytes.Buffer
	for {
		buf.Reset()
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-sub.Events():
			if !ok {
				return nil // the hub is shutting down; the browser reconnects elsewhere
			}
			data := e.Data
			if len(data) == 0 {
				data = []byte("{}") // an event without data is never dispatched
			}
			fmt.Fprintf(&buf, "event: %s\ndata: %s\n\n", e.Name, data)
		case <-heartbeat.C:
			buf.WriteString(": ping\n\n")
		}
		if _, err := w.Write(buf.Bytes()); err != nil {
			return nil
		}
		w.Flush()
	}
}
