// Package mail is a mailbox stand-in for local development and tests: an
// SMTP server (github.com/emersion/go-smtp) that accepts every message and
// keeps it in memory, and a small web page that shows them.
//
//	GET    /               the messages, newest first, with their text
//	GET    /api/messages   the messages as JSON, oldest first (?to= filters)
//	DELETE /api/messages   forget every message
//
// It has no authentication and no TLS: keep both listeners on loopback.
package mail

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	netmail "net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/myaibud/aibud/app/sim"
)

// Message is one received email.
type Message struct {
	ID       int       `json:"id"`
	From     string    `json:"from"`
	To       []string  `json:"to"`
	Subject  string    `json:"subject"`
	Text     string    `json:"text"`
	HTML     string    `json:"html"`
	Received time.Time `json:"received"`
}

// maxMessages bounds the memory the mailbox uses; older messages go first.
const maxMessages = 500

// Server is the mailbox: an SMTP backend and an HTTP handler over the same
// messages.
type Server struct {
	mu       sync.Mutex
	messages []Message
	nextID   int
	smtp     *smtp.Server
	handler  http.Handler
	log      *slog.Logger
}

// New returns a mailbox; log may be nil.
func New(log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{log: log}
	s.smtp = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	s.smtp.Domain = "mail.sim.localhost"
	s.smtp.AllowInsecureAuth = true
	s.smtp.MaxMessageBytes = 10 << 20
	s.smtp.MaxRecipients = 50
	s.smtp.ReadTimeout = time.Minute
	s.smtp.WriteTimeout = time.Minute
	s.smtp.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /api/messages", s.listMessages)
	mux.HandleFunc("DELETE /api/messages", s.clearMessages)
	s.handler = mux
	return s
}

// ServeSMTP accepts SMTP connections on ln until Close.
func (s *Server) ServeSMTP(ln net.Listener) error {
	err := s.smtp.Serve(ln)
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the SMTP server.
func (s *Server) Close() error { return s.smtp.Close() }

// Handler serves the page and the JSON API.
func (s *Server) Handler() http.Handler { return s.handler }

// Messages returns the messages received so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// Run serves SMTP on smtpAddr and the web page on httpAddr until ctx ends.
func Run(ctx context.Context, smtpAddr, httpAddr string, log *slog.Logger) error {
	s := New(log)
	ln, err := net.Listen("tcp", smtpAddr)
	if err != nil {
		return fmt.Errorf("mail stand-in: listen on %s: %w", smtpAddr, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.ServeSMTP(ln) }()
	go func() {
		<-ctx.Done()
		_ = s.Close()
	}()
	err = sim.Serve(ctx, "mail stand-in", httpAddr, s.handler, s.log, func(addr string) {
		s.log.Info("mail stand-in listening", "smtp", ln.Addr().String(), "http", "http://"+addr)
	})
	_ = s.Close()
	if serr := <-errc; err == nil {
		err = serr
	}
	return err
}

// add stores a received message.
func (s *Server) add(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	m.ID = s.nextID
	s.messages = append(s.messages, m)
	if len(s.messages) > maxMessages {
		s.messages = slices.Delete(s.messages, 0, len(s.messages)-maxMessages)
	}
	s.log.Info("mail received", "id", m.ID, "to", strings.Join(m.To, ","), "subject", m.Subject)
}

// session is one SMTP transaction's envelope.
type session struct {
	s    *Server
	from string
	to   []string
}

func (se *session) Reset()        { se.from, se.to = "", nil }
func (se *session) Logout() error { return nil }

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "cannot read the message: " + err.Error()}
	}
	m.To, m.Received = slices.Clone(se.to), time.Now()
	if m.From == "" {
		m.From = se.from
	}
	se.s.add(m)
	return nil
}

// parse reads the subject, sender and the text and HTML bodies of a MIME
// message.
func parse(raw []byte) (Message, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		subject = msg.Header.Get("Subject")
	}
	from, _ := dec.DecodeHeader(msg.Header.Get("From"))
	m := Message{Subject: subject, From: from}
	err = readPart(&m, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
	return m, err
}

// readPart fills the text or HTML of m from one part, descending into
// multipart ones.
func readPart(m *Message, contentType, encoding string, body io.Reader) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mediaType = "text/plain"
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := readPart(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch mediaType {
	case "text/plain":
		m.Text += string(b)
	case "text/html":
		m.HTML += string(b)
	}
	return nil
}

// newlineStripper drops line breaks, which base64 bodies carry every 76
// characters.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	k, err := n.r.Read(p)
	out := p[:0]
	for _, c := range p[:k] {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return len(out), err
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	ms := s.Messages()
	if to := r.URL.Query().Get("to"); to != "" {
		ms = slices.DeleteFunc(ms, func(m Message) bool {
			return !slices.ContainsFunc(m.To, func(t string) bool { return strings.EqualFold(t, to) })
		})
	}
	if ms == nil {
		ms = []Message{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ms)
}

func (s *Server) clearMessages(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.messages = nil
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

var linkPattern = regexp.MustCompile(`https?://[^\s<>"]+`)

// linkify escapes text and makes its URLs clickable.
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, loc := range linkPattern.FindAllStringIndex(text, -1) {
		b.WriteString(template.HTMLEscapeString(text[last:loc[0]]))
		u := template.HTMLEscapeString(text[loc[0]:loc[1]])
		b.WriteString(`<a href="` + u + `">` + u + `</a>`)
		last = loc[1]
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String()) //nolint:gosec // every piece is escaped above
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{"linkify": linkify}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="5"><title>Mailbox (stand-in)</title>
<style>body{font-family:system-ui,sans-serif;max-width:50rem;margin:1rem auto;padding:0 1rem;color:#222}
article{border:1px solid #ddd;border-radius:.5rem;padding:.75rem 1rem;margin:1rem 0}
h2{font-size:1.05rem;margin:.2rem 0}small{color:#666}pre{white-space:pre-wrap;word-break:break-word;font:inherit}</style></head>
<body><h1>Mailbox <small>(stand-in: nothing leaves this machine)</small></h1>
{{if not .}}<p>No messages yet. This page reloads itself.</p>{{end}}
{{range .}}<article data-testid="message"><h2>{{.Subject}}</h2>
<small>To {{range $i, $t := .To}}{{if $i}}, {{end}}{{$t}}{{end}} · from {{.From}} · {{.Received.Format "15:04:05"}}</small>
<pre>{{linkify .Text}}</pre></article>{{end}}
</body></html>`))

func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	ms := s.Messages()
	slices.Reverse(ms)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTemplate.Execute(w, ms); err != nil {
		s.log.Warn("render mailbox", "err", err)
	}
}
