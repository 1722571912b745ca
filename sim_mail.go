package main

import (
	"context"
	"flag"
	"log/slog"

	mailsim "github.com/myaibud/aibud/app/sim/mail"
)

// runMailSim runs the mailbox stand-in.
func runMailSim(ctx context.Context, fs *flag.FlagSet, args []string, log *slog.Logger) error {
	smtpAddr := fs.String("smtp", "127.0.0.1:1025", "SMTP listen address (keep it on loopback: no authentication)")
	httpAddr := fs.String("http", "127.0.0.1:8025", "web page and JSON API listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return mailsim.Run(ctx, *smtpAddr, *httpAddr, log)
}
