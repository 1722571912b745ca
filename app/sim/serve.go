// Package sim holds what the stand-ins for outside services share: serving
// (Serve), the API plumbing of the WhatsApp gateway stand-ins
// (app/sim/waha, app/sim/evolution) with its fault injection (API), and
// the pieces of WhatsApp they both play: accounts, phone numbers, QR and
// pairing codes, polls, session timers and the phone page's change
// counter. Webhook delivery is in app/sim/delivery, the phone page in
// app/sim/phone.
package sim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Serve serves h on addr until ctx is cancelled, then shuts the server down.
// name prefixes errors and log lines ("waha stand-in"); started, when not
// nil, is called with the listening address before serving.
func Serve(ctx context.Context, name, addr string, h http.Handler, log *slog.Logger, started func(addr string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: listen on %s: %w", name, addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// Requests end with ctx, so a delayed or waiting call does not hold
		// shutdown.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if started != nil {
		started(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("%s: serve: %w", name, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("%s: shut down: %w", name, err)
	}
	log.Info(name + " stopped")
	return nil
}
