package waha

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/myaibud/aibud/app/sim"
)

// Account is a WhatsApp account: the number a session is linked to; its ID
// is the chat id, e.g. 15551234567@c.us.
type Account = sim.Account

// SessionState is what the stand-in knows of a session.
type SessionState struct {
	Name   string
	Status string
	// Me is the linked account while the session is WORKING.
	Me *Account
	// QR is the value of the current QR code while the status is
	// SCAN_QR_CODE; QRNumber counts the codes of this start (1 to
	// Timing.MaxQRs) and QRExpires is when the code is replaced.
	QR        string
	QRNumber  int
	QRExpires time.Time
	// PairingCode is the last code given by auth/request-code, for
	// PairingPhone.
	PairingCode  string
	PairingPhone string
	// Metadata is the session's config.metadata.
	Metadata map[string]string
	// Webhooks are the URLs of the session's webhooks.
	Webhooks []string
}

// statusPoint is one status change, as session.status events list them.
type statusPoint struct {
	Status    string `json:"status"`
	Timestamp int64  `json:"timestamp"`
}

// session is one WAHA session. All fields are guarded by Server.mu.
type session struct {
	name   string
	status string
	// points are the last three status changes.
	points []statusPoint
	// config is the session's config as sent (nil when none); metadata and
	// hooks are the parts the stand-in uses.
	config   json.RawMessage
	metadata json.RawMessage
	hooks    []webhookConfig

	// paired: a phone is linked; a start then goes straight to WORKING.
	paired bool
	me     *Account

	qr        string
	qrNumber  int
	qrExpires time.Time
	// pairPhone is the number a pairing code was asked for (digits).
	pairPhone   string
	pairingCode string

	// timer drives the status changes that happen by themselves.
	timer sim.Timer
	// changed is closed and replaced on every status change.
	changed chan struct{}

	activity time.Time
	messages []*message
	byKey    map[string]*message
	// lids maps …@lid to the …@c.us phone chat id ("" when unknown).
	lids     map[string]string
	sent     []*SentMessage
	sentByID map[string]*SentMessage
	// typing holds the chats where the app shows "typing…".
	typing map[string]bool
	// muted are event types this session records but does not deliver, as
	// when deliveries are lost (see Mute).
	muted map[string]bool
}

func newSession(name string) *session {
	return &session{
		name:     name,
		status:   StatusStopped,
		points:   []statusPoint{{Status: StatusStopped, Timestamp: time.Now().UnixMilli()}},
		changed:  make(chan struct{}),
		byKey:    make(map[string]*message),
		lids:     make(map[string]string),
		sentByID: make(map[string]*SentMessage),
		muted:    make(map[string]bool),
		typing:   make(map[string]bool),
	}
}

// running tells a started session.
func (ss *session) running() bool {
	switch ss.status {
	case StatusStarting, StatusScanQR, StatusWorking:
		return true
	}
	return false
}

// state is the exported view of the session.
func (ss *session) state() SessionState {
	st := SessionState{Name: ss.name, Status: ss.status, PairingCode: ss.pairingCode}
	if ss.pairPhone != "" {
		st.PairingPhone = "+" + ss.pairPhone
	}
	if ss.status == StatusWorking && ss.me != nil {
		me := *ss.me
		st.Me = &me
	}
	if ss.status == StatusScanQR {
		st.QR, st.QRNumber, st.QRExpires = ss.qr, ss.qrNumber, ss.qrExpires
	}
	if len(ss.metadata) > 0 {
		var m map[string]any
		if json.Unmarshal(ss.metadata, &m) == nil {
			st.Metadata = make(map[string]string, len(m))
			for k, v := range m {
				if s, ok := v.(string); ok {
					st.Metadata[k] = s
				} else {
					b, _ := json.Marshal(v) // decoded from JSON: encodes
					st.Metadata[k] = string(b)
				}
			}
		}
	}
	for _, h := range ss.hooks {
		st.Webhooks = append(st.Webhooks, h.URL)
	}
	return st
}

// Sessions returns every session, by name.
func (s *Server) Sessions() []SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sim.Each(s.sessions, (*session).state)
}

// Session returns one session.
func (s *Server) Session(name string) (SessionState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[name]
	if !ok {
		return SessionState{}, fmt.Errorf("session %q: %w", name, ErrUnknownSession)
	}
	return ss.state(), nil
}

// SetAccount sets the WhatsApp account (phone digits, a leading + allowed,
// and push name) that links to the session when it is scanned. It may be
// called before the app creates the session. A WORKING session takes it at
// once. Without it, a session gets a number derived from its name.
func (s *Server) SetAccount(session, phone, pushName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts.Set(session, phone, pushName)
	if ss, ok := s.sessions[session]; ok && ss.paired {
		ss.me = &a
		s.notifyLocked()
	}
}

// accountLocked is the account a scan of ss links.
func (s *Server) accountLocked(ss *session) Account {
	return s.accounts.For(ss.name, ss.pairPhone)
}

// setStatusLocked changes the status and emits session.status, as WAHA
// does on every change (a new QR code re-issues SCAN_QR_CODE).
func (s *Server) setStatusLocked(ss *session, status string) {
	s.changeStatusLocked(ss, status)
	s.log.Info("waha stand-in: session status", "session", ss.name, "status", status)
	s.emitLocked(ss, "session.status", statusPayload{Name: ss.name, Status: status, Statuses: slices.Clone(ss.points)})
}

// changeStatusLocked changes the status without an event.
func (s *Server) changeStatusLocked(ss *session, status string) {
	ss.status = status
	ss.points = append(ss.points, statusPoint{Status: status, Timestamp: time.Now().UnixMilli()})
	if len(ss.points) > 3 {
		ss.points = slices.Clone(ss.points[len(ss.points)-3:])
	}
	if status != StatusScanQR {
		ss.qr, ss.qrNumber, ss.qrExpires = "", 0, time.Time{}
	}
	close(ss.changed)
	ss.changed = make(chan struct{})
	s.notifyLocked()
}

// statusPayload is the payload of session.status.
type statusPayload struct {
	Name     string        `json:"name"`
	Status   string        `json:"status"`
	Statuses []statusPoint `json:"statuses"`
	Data     any           `json:"data"`
}

// afterLocked runs f, with s.mu held, after d unless the session's timer is
// stopped or replaced first.
func (s *Server) afterLocked(ss *session, d time.Duration, f func()) {
	ss.timer.After(&s.mu, d, func() bool { return !s.closed && s.sessions[ss.name] == ss }, f)
}

// startLocked starts a stopped or failed session; a started one is left as
// it is.
func (s *Server) startLocked(ss *session) {
	if ss.running() {
		return
	}
	s.setStatusLocked(ss, StatusStarting)
	s.afterLocked(ss, s.timing.StartDelay, func() {
		if ss.paired {
			s.setStatusLocked(ss, StatusWorking)
			return
		}
		s.nextQRLocked(ss)
	})
}

// nextQRLocked shows the next QR code, or fails the session when all were
// shown.
func (s *Server) nextQRLocked(ss *session) {
	life := s.timing.NextQR
	if ss.qrNumber == 0 {
		life = s.timing.FirstQR
	}
	number := ss.qrNumber + 1
	s.showQRLocked(ss, number, life)
}

func (s *Server) showQRLocked(ss *session, number int, life time.Duration) {
	// The status change clears the QR fields, so it comes first.
	s.changeStatusLocked(ss, StatusScanQR)
	ss.qr, ss.qrNumber, ss.qrExpires = sim.NewQRValue(), number, time.Now().Add(life)
	s.log.Info("waha stand-in: session status", "session", ss.name, "status", StatusScanQR, "qr_number", number)
	s.emitLocked(ss, "session.status", statusPayload{Name: ss.name, Status: StatusScanQR, Statuses: slices.Clone(ss.points)})
	s.afterLocked(ss, life, func() {
		if ss.qrNumber >= s.timing.MaxQRs {
			s.log.Info("waha stand-in: nobody scanned the QR codes", "session", ss.name, "codes", ss.qrNumber)
			s.setStatusLocked(ss, StatusFailed)
			return
		}
		s.nextQRLocked(ss)
	})
}

// stopLocked stops a session (keeping its pairing).
func (s *Server) stopLocked(ss *session) {
	ss.timer.Stop()
	ss.typing = make(map[string]bool)
	if ss.status != StatusStopped {
		s.setStatusLocked(ss, StatusStopped)
	}
}

// Scan is the phone scanning the session's current QR code (or typing its
// pairing code): the session becomes WORKING, linked to the account set with
// SetAccount (or the number the pairing code was asked for, or one derived
// from the session name). It returns ErrWrongStatus unless the session is in
// SCAN_QR_CODE.
func (s *Server) Scan(session string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[session]
	if !ok {
		return fmt.Errorf("scan %q: %w", session, ErrUnknownSession)
	}
	if ss.status != StatusScanQR {
		return fmt.Errorf("scan %q in status %s: %w", session, ss.status, ErrWrongStatus)
	}
	ss.timer.Stop()
	a := s.accountLocked(ss)
	ss.paired, ss.me = true, &a
	ss.pairingCode = ""
	s.setStatusLocked(ss, StatusWorking)
	return nil
}

// RotateQR replaces the current QR code now, as WAHA does when a code
// expires. The new code lives Timing.NextQR and does not count toward
// Timing.MaxQRs. It returns ErrWrongStatus unless the session is in
// SCAN_QR_CODE.
func (s *Server) RotateQR(session string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[session]
	if !ok {
		return fmt.Errorf("rotate QR of %q: %w", session, ErrUnknownSession)
	}
	if ss.status != StatusScanQR {
		return fmt.Errorf("rotate QR of %q in status %s: %w", session, ss.status, ErrWrongStatus)
	}
	s.showQRLocked(ss, ss.qrNumber, s.timing.NextQR)
	return nil
}

// DropSession makes the session fail silently, as a session whose phone
// went away does: the status becomes FAILED with no webhook, so that only
// polling the session finds out. The pairing stays: a restart goes back to
// WORKING.
func (s *Server) DropSession(session string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[session]
	if !ok {
		return fmt.Errorf("drop %q: %w", session, ErrUnknownSession)
	}
	ss.timer.Stop()
	s.changeStatusLocked(ss, StatusFailed)
	s.log.Info("waha stand-in: session dropped silently", "session", session)
	return nil
}
