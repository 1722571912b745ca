package main

import (
	"context"
	"flag"
	"log/slog"

	wahasim "github.com/myaibud/aibud/app/sim/waha"
)

// runWAHASim runs the WAHA stand-in with its phone page.
func runWAHASim(ctx context.Context, fs *flag.FlagSet, args []string, log *slog.Logger) error {
	addr := fs.String("addr", "127.0.0.1:3000", "listen address (keep it on loopback: /phone needs no key)")
	key := fs.String("key", "", "API key to require as X-Api-Key (empty: any)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return wahasim.Run(ctx, *addr, wahasim.Options{APIKey: *key}, log)
}
