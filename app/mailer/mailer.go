// Package mailer sends email over SMTP with github.com/wneessen/go-mail.
//
// Jobs send through the Sender interface; SMTP is the implementation for
// production and for tests, which run it against the mailbox stand-in
// (app/sim/mail) on loopback. Message bodies are never logged: they carry
// sign-in links.
package mailer

import (
	"context"
	"errors"
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one email with a plain-text body and an HTML alternative.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender sends email.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// TLS modes.
const (
	// TLSImplicit speaks TLS from the first byte (smtps://, port 465).
	TLSImplicit = "implicit"
	// TLSStartTLS requires STARTTLS (submission, port 587).
	TLSStartTLS = "starttls"
	// TLSOpportunistic uses STARTTLS when the server offers it.
	TLSOpportunistic = "opportunistic"
	// TLSOff sends in the clear (a local stand-in).
	TLSOff = "off"
)

// Config is where and how to send.
type Config struct {
	Host     string
	Port     int
	Username string
	Password string
	TLS      string
	// From is the sender, e.g. "My Aibud <no-reply@example.com>".
	From string
	// Timeout bounds connecting and each SMTP command (default 30 s).
	Timeout time.Duration
}

// SMTP sends each message on a new connection (reset emails are rare).
type SMTP struct {
	cfg Config
}

// NewSMTP returns an SMTP sender, or an error naming what is wrong with cfg.
func NewSMTP(cfg Config) (*SMTP, error) {
	if cfg.Host == "" {
		return nil, errors.New("mailer: no SMTP host")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if err := gomail.NewMsg().From(cfg.From); err != nil {
		return nil, fmt.Errorf("mailer: sender %q: %w", cfg.From, err)
	}
	if _, err := gomail.NewClient(cfg.Host, clientOptions(cfg)...); err != nil {
		return nil, fmt.Errorf("mailer: %w", err)
	}
	return &SMTP{cfg: cfg}, nil
}

func clientOptions(cfg Config) []gomail.Option {
	opts := []gomail.Option{gomail.WithPort(cfg.Port), gomail.WithTimeout(cfg.Timeout)}
	switch cfg.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case TLSOff:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(cfg.Username), gomail.WithPassword(cfg.Password))
	}
	return opts
}

// Send delivers m to the SMTP server.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("send mail: sender: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("send mail: recipient: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	client, err := gomail.NewClient(s.cfg.Host, clientOptions(s.cfg)...)
	if err != nil {
		return fmt.Errorf("send mail: %w", err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send mail to %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}
