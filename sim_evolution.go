package main

import (
	"context"
	"flag"
	"log/slog"

	evolutionsim "github.com/myaibud/aibud/app/sim/evolution"
)

// runEvolutionSim runs the Evolution API stand-in with its phone page.
func runEvolutionSim(ctx context.Context, fs *flag.FlagSet, args []string, log *slog.Logger) error {
	addr := fs.String("addr", "127.0.0.1:8089", "listen address (keep it on loopback: /phone needs no key)")
	key := fs.String("key", "", "global API key to require as apikey (empty: any)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return evolutionsim.Run(ctx, *addr, evolutionsim.Options{APIKey: *key}, log)
}
