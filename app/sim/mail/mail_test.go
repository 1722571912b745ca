package mail_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/mailer"
	mailsim "github.com/myaibud/aibud/app/sim/mail"
)

// start runs a mailbox on loopback and returns it with its SMTP port and
// its web server.
func start(t *testing.T) (*mailsim.Server, int, *httptest.Server) {
	t.Helper()
	s := mailsim.New(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.ServeSMTP(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	web := httptest.NewServer(s.Handler())
	t.Cleanup(web.Close)
	return s, ln.Addr().(*net.TCPAddr).Port, web
}

// TestGoMailToTheMailbox sends with the real go-mail client over SMTP and
// reads the message back from the JSON API and the page.
func TestGoMailToTheMailbox(t *testing.T) {
	_, port, web := start(t)
	m, err := mailer.NewSMTP(mailer.Config{Host: "127.0.0.1", Port: port, TLS: mailer.TLSOff, From: "My Aibud <no-reply@example.com>", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	link := "http://app.example.com/password/reset?token=abc_DEF-123"
	err = m.Send(context.Background(), mailer.Message{
		To: "ana@example.com", Subject: "Reset your password — My Aibud",
		Text: "Hola Ana,\n\nOpen this link: " + link + "\n\nÑandú " + strings.Repeat("long line ", 20),
		HTML: `<p>Open <a href="` + link + `">this link</a></p>`,
	})
	if err != nil {
		t.Fatal(err)
	}

	res, err := http.Get(web.URL + "/api/messages?to=ana@example.com")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got []mailsim.Message
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d messages, want 1", len(got))
	}
	msg := got[0]
	if msg.Subject != "Reset your password — My Aibud" || !strings.Contains(msg.From, "no-reply@example.com") || msg.To[0] != "ana@example.com" {
		t.Errorf("envelope/headers: %+v", msg)
	}
	if !strings.Contains(msg.Text, link) || !strings.Contains(msg.Text, "Ñandú") || !strings.Contains(msg.HTML, `href="`+link+`"`) {
		t.Errorf("bodies not decoded: text %q html %q", msg.Text, msg.HTML)
	}

	page, err := http.Get(web.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	var b strings.Builder
	buf := make([]byte, 64<<10)
	n, _ := page.Body.Read(buf)
	b.Write(buf[:n])
	if !strings.Contains(b.String(), `<a href="`+link+`">`) {
		t.Errorf("the page does not link the URL: %s", b.String())
	}

	other, err := http.Get(web.URL + "/api/messages?to=nobody@example.com")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Body.Close()
	var none []mailsim.Message
	_ = json.NewDecoder(other.Body).Decode(&none)
	if len(none) != 0 {
		t.Errorf("filter by recipient returned %d", len(none))
	}
}

func TestSendFailsWhenNoServer(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	m, err := mailer.NewSMTP(mailer.Config{Host: "127.0.0.1", Port: port, TLS: mailer.TLSOff, From: "a@example.com", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = m.Send(context.Background(), mailer.Message{To: "b@example.com", Subject: "x", Text: "secret-link"})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:"+strconv.Itoa(port)) || strings.Contains(err.Error(), "secret-link") {
		t.Errorf("err = %v", err)
	}
}

// TestStartTLSRequiredByDefault: without ?starttls=off the client refuses a
// server that offers no STARTTLS rather than send in the clear.
func TestStartTLSRequiredByDefault(t *testing.T) {
	s, port, _ := start(t)
	m, err := mailer.NewSMTP(mailer.Config{Host: "127.0.0.1", Port: port, TLS: mailer.TLSStartTLS, From: "a@example.com", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(context.Background(), mailer.Message{To: "b@example.com", Subject: "x", Text: "y"}); err == nil {
		t.Error("sent without TLS")
	}
	if len(s.Messages()) != 0 {
		t.Error("the message arrived in the clear")
	}
}
