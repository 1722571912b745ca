package evolution

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/myaibud/aibud/app/sim"
)

// Account is a WhatsApp account: the number an instance is linked to; its
// ID is the JID (wuid), e.g. 5511911112222@s.whatsapp.net.
type Account = sim.Account

// SessionState is what the stand-in knows of an instance. Its fields are
// named as the WAHA stand-in's, where they mean the same.
type SessionState struct {
	// InstanceID is the instance's UUID; Token its apikey (hash).
	InstanceID string
	Token      string
	// DisconnectionReasonCode is the statusReason of the last terminal
	// close (401 after a logout).
	DisconnectionReasonCode int
	Name                    string
	// Status is the connection state: close, connecting or open.
	Status string
	// Me is the linked account while open.
	Me *Account
	// QR is the current code while connecting with a code shown; QRNumber
	// counts the codes of this attempt (Evolution's count) and QRExpires
	// is when the code is replaced.
	QR        string
	QRNumber  int
	QRExpires time.Time
	// PairingCode is the pairing code of this attempt, for PairingPhone.
	PairingCode  string
	PairingPhone string
	// Webhooks holds the webhook URL, when one is enabled; WebhookHeaders
	// and WebhookEvents are its headers and events list.
	Webhooks       []string
	WebhookHeaders map[string]string
	WebhookEvents  []string
}

// hookConfig is an instance's webhook (Evolution's Webhook row).
type hookConfig struct {
	ID        string
	Enabled   bool
	URL       string
	Headers   map[string]string
	Events    []string
	ByEvents  bool
	Base64    bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// wants tells whether the webhook takes the event (dotted name): an empty
// list takes all, names are UPPER_SNAKE.
func (h hookConfig) wants(event string) bool {
	if !h.Enabled || h.URL == "" {
		return false
	}
	if len(h.Events) == 0 {
		return true
	}
	name := configName(event)
	for _, e := range h.Events {
		if e == name {
			return true
		}
	}
	return false
}

// configName is an event's UPPER_SNAKE name: messages.upsert →
// MESSAGES_UPSERT.
func configName(event string) string {
	return strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(event))
}

// instance is one Evolution instance. All fields are guarded by Server.mu.
type instance struct {
	name        string
	id          string
	token       string
	integration string
	settings    map[string]any
	state       string
	hook        hookConfig
	createdAt   time.Time
	updatedAt   time.Time

	// paired: a phone is linked; an attempt then goes straight to open.
	paired bool
	me     *Account
	// wuid is the last linked account's JID, the envelopes' sender.
	wuid string

	qr        string
	qrCount   int
	qrExpires time.Time
	// pairPhone is the number a pairing code was asked for (digits).
	pairPhone   string
	pairingCode string
	// disconnection is the last terminal close.
	disconnectionCode int
	disconnectionAt   time.Time

	// timer drives the changes that happen by themselves.
	timer sim.Timer
	// changed is closed and replaced on every state or QR change.
	changed chan struct{}

	messages []*message
	byID     map[string]*message
	// lids maps …@lid to the phone JID behind it ("" when unknown).
	lids map[string]string
	sent []*SentMessage
	// muted are event types recorded but not delivered (Mute).
	muted map[string]bool
}

func newInstance(name string) *instance {
	now := time.Now()
	return &instance{
		name: name, id: newUUID(), state: StateClose, createdAt: now, updatedAt: now,
		changed: make(chan struct{}), byID: make(map[string]*message),
		lids: make(map[string]string), muted: make(map[string]bool),
	}
}

// state is the exported view of the instance.
func (in *instance) view() SessionState {
	st := SessionState{
		Name: in.name, Status: in.state, InstanceID: in.id, Token: in.token,
		PairingCode: in.pairingCode, DisconnectionReasonCode: in.disconnectionCode,
	}
	if in.pairPhone != "" {
		st.PairingPhone = "+" + in.pairPhone
	}
	if in.state == StateOpen && in.me != nil {
		me := *in.me
		st.Me = &me
	}
	if in.state == StateConnecting && in.qr != "" {
		st.QR, st.QRNumber, st.QRExpires = in.qr, in.qrCount, in.qrExpires
	}
	if in.hook.Enabled {
		st.Webhooks = []string{in.hook.URL}
		st.WebhookHeaders = make(map[string]string, len(in.hook.Headers))
		for k, v := range in.hook.Headers {
			st.WebhookHeaders[k] = v
		}
		st.WebhookEvents = append([]string(nil), in.hook.Events...)
	}
	return st
}

// Sessions returns every instance, by name.
func (s *Server) Sessions() []SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sim.Each(s.instances, (*instance).view)
}

// Session returns one instance.
func (s *Server) Session(name string) (SessionState, error) {
	var st SessionState
	err := s.control("instance", name, func(in *instance) error {
		st = in.view()
		return nil
	})
	return st, err
}

// control runs f with the lock held on the named instance; op names the
// call in errors.
func (s *Server) control(op, name string, f func(in *instance) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.instances[name]
	if !ok {
		return fmt.Errorf("%s %q: %w", op, name, ErrUnknownSession)
	}
	return f(in)
}

// wrongState is the error of a call in the wrong state.
func wrongState(op string, in *instance) error {
	return fmt.Errorf("%s %q in state %s: %w", op, in.name, in.state, ErrWrongStatus)
}

// showsQR tells an instance showing a QR code.
func (in *instance) showsQR() bool {
	return in.state == StateConnecting && in.qr != ""
}

// SetAccount sets the WhatsApp account (phone digits, a leading + allowed,
// and push name) that links to the instance when it is scanned. It may be
// called before the app creates the instance. An open instance takes it at
// once. Without it, an instance gets a number derived from its name.
func (s *Server) SetAccount(name, phone, pushName string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts.Set(name, phone, pushName)
	if in, ok := s.instances[name]; ok && in.paired {
		in.me, in.wuid = &a, a.ID
		s.notifyLocked()
	}
}

// accountLocked is the account a scan of in links.
func (s *Server) accountLocked(in *instance) Account {
	return s.accounts.For(in.name, in.pairPhone)
}

// setStateLocked changes the connection state, without an event.
func (s *Server) setStateLocked(in *instance, state string) {
	in.state = state
	in.updatedAt = time.Now()
	if state != StateConnecting {
		in.qr, in.qrCount, in.qrExpires = "", 0, time.Time{}
	}
	s.signalLocked(in)
}

// signalLocked wakes the waiters of the instance and of the phone page.
func (s *Server) signalLocked(in *instance) {
	close(in.changed)
	in.changed = make(chan struct{})
	s.notifyLocked()
}

// afterLocked runs f, with s.mu held, after d unless the instance's timer
// is stopped or replaced first.
func (s *Server) afterLocked(in *instance, d time.Duration, f func()) {
	in.timer.After(&s.mu, d, func() bool { return !s.closed && s.instances[in.name] == in }, f)
}

// connectionData is the data of connection.update.
type connectionData struct {
	Instance          string  `json:"instance"`
	WUID              string  `json:"wuid,omitempty"`
	ProfileName       string  `json:"profileName,omitempty"`
	ProfilePictureURL *string `json:"profilePictureUrl,omitempty"`
	State             string  `json:"state"`
	StatusReason      int     `json:"statusReason"`
}

// connectLocked opens the socket of a closed instance: connecting, then
// the first QR code (or open, for a paired instance). pairPhone asks for
// a pairing code as well.
func (s *Server) connectLocked(in *instance, pairPhone string) {
	if in.state != StateClose {
		return
	}
	if pairPhone != "" {
		in.pairPhone = pairPhone
	}
	in.pairingCode = ""
	s.setStateLocked(in, StateConnecting)
	s.log.Info("evolution stand-in: connecting", "instance", in.name)
	s.emitLocked(in, "connection.update", connectionData{Instance: in.name, State: StateConnecting, StatusReason: 200})
	first := s.timing.FirstQR
	if d, ok := s.slowQR[in.name]; ok && !in.paired {
		first = d
	}
	s.afterLocked(in, first, func() {
		if in.paired {
			s.openLocked(in)
			return
		}
		s.nextQRLocked(in)
	})
}

// nextQRLocked shows the next QR code, or refuses the attempt when
// Timing.QRLimit codes were shown.
func (s *Server) nextQRLocked(in *instance) {
	if in.qrCount >= s.timing.QRLimit {
		s.log.Info("evolution stand-in: nobody scanned the QR codes", "instance", in.name, "codes", in.qrCount)
		s.emitLocked(in, "qrcode.updated", map[string]any{"message": "QR code limit reached, please login again", "statusCode": 500})
		d := connectionData{Instance: in.name, State: "refused", StatusReason: 428}
		if in.wuid != "" {
			d.WUID = in.wuid
		}
		s.emitLocked(in, "connection.update", d)
		in.timer.Stop()
		s.setStateLocked(in, StateClose)
		return
	}
	s.showQRLocked(in, in.qrCount+1)
}

// showQRLocked shows a new QR code as code number count.
func (s *Server) showQRLocked(in *instance, count int) {
	in.qr, in.qrCount, in.qrExpires = sim.NewQRValue(), count, time.Now().Add(s.timing.NextQR)
	if in.pairPhone != "" && in.pairingCode == "" {
		in.pairingCode = sim.NewPairingCode()
	}
	s.signalLocked(in)
	qr := s.qrObject(in)
	s.emitLocked(in, "qrcode.updated", map[string]any{"qrcode": map[string]any{
		"instance": in.name, "pairingCode": qr.PairingCode, "code": qr.Code, "base64": qr.Base64,
	}})
	s.afterLocked(in, s.timing.NextQR, func() { s.nextQRLocked(in) })
}

// qrCode is Evolution's QR object (wa.QrCode).
type qrCode struct {
	PairingCode *string `json:"pairingCode"`
	Code        string  `json:"code"`
	Base64      string  `json:"base64"`
	Count       int     `json:"count"`
}

// qrObject is the current QR object; nil when no code is shown.
func (s *Server) qrObject(in *instance) *qrCode {
	if in.state != StateConnecting || in.qr == "" {
		return nil
	}
	q := &qrCode{Code: in.qr, Count: in.qrCount}
	if in.pairingCode != "" {
		code := in.pairingCode
		q.PairingCode = &code
	}
	png, err := sim.QRPNG(in.qr)
	if err != nil {
		s.log.Error("evolution stand-in: render QR", "instance", in.name, "err", err)
		return q
	}
	q.Base64 = "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)
	return q
}

// openLocked links the account: open, with connection.update open.
func (s *Server) openLocked(in *instance) {
	in.timer.Stop()
	if in.me == nil {
		a := s.accountLocked(in)
		in.me = &a
	}
	in.paired, in.wuid, in.pairingCode = true, in.me.ID, ""
	s.setStateLocked(in, StateOpen)
	s.log.Info("evolution stand-in: open", "instance", in.name)
	s.emitLocked(in, "connection.update", connectionData{
		Instance: in.name, WUID: in.me.ID, ProfileName: in.me.PushName,
		State: StateOpen, StatusReason: 200,
	})
}

// logoutLocked is a terminal close with reason code: status.instance,
// connection.update close and logout.instance; the pairing is wiped and
// the instance stays.
func (s *Server) logoutLocked(in *instance, code int) {
	in.timer.Stop()
	in.paired, in.me, in.pairPhone, in.pairingCode = false, nil, "", ""
	in.disconnectionCode, in.disconnectionAt = code, time.Now()
	s.setStateLocked(in, StateClose)
	s.log.Info("evolution stand-in: logged out", "instance", in.name, "code", code)
	object, _ := json.Marshal(map[string]any{"error": map[string]any{"output": map[string]any{"statusCode": code}}}) // maps encode
	s.emitLocked(in, "status.instance", map[string]any{
		"instance": in.name, "status": "closed", "disconnectionAt": in.disconnectionAt.UTC().Format(time.RFC3339Nano),
		"disconnectionReasonCode": code, "disconnectionObject": string(object),
	})
	s.emitLocked(in, "connection.update", connectionData{Instance: in.name, State: StateClose, StatusReason: code})
	s.emitLocked(in, "logout.instance", nil)
}

// reconnectLocked closes the socket of an open instance and opens it again
// with the stored credentials: connecting, then open, with no close event.
func (s *Server) reconnectLocked(in *instance, reason int) {
	s.setStateLocked(in, StateConnecting)
	s.emitLocked(in, "connection.update", connectionData{Instance: in.name, State: StateConnecting, StatusReason: reason})
	s.afterLocked(in, s.timing.Reconnect, func() { s.openLocked(in) })
}

// Scan is the phone scanning the instance's current QR code (or typing its
// pairing code): the instance becomes open, linked to the account set with
// SetAccount (or the number the pairing code was asked for, or one derived
// from the name). It returns ErrWrongStatus unless a code is shown.
func (s *Server) Scan(name string) error {
	return s.control("scan", name, func(in *instance) error {
		if !in.showsQR() {
			return wrongState("scan", in)
		}
		a := s.accountLocked(in)
		in.me = &a
		s.openLocked(in)
		return nil
	})
}

// RotateQR replaces the current QR code now, as Baileys does when a code
// expires: qrcode.updated with a new code and count one up. It returns
// ErrWrongStatus unless a code is shown.
func (s *Server) RotateQR(name string) error {
	return s.control("rotate QR of", name, func(in *instance) error {
		if !in.showsQR() {
			return wrongState("rotate QR of", in)
		}
		s.nextQRLocked(in)
		return nil
	})
}

// DropSession ends the instance's session for good, as when the phone
// unlinks the device: a terminal close 401 (status.instance,
// connection.update close, logout.instance). The pairing is gone; connect
// gives a new QR code.
func (s *Server) DropSession(name string) error {
	return s.control("drop", name, func(in *instance) error {
		if in.state == StateClose {
			return wrongState("drop", in)
		}
		s.logoutLocked(in, 401)
		return nil
	})
}

// DropConnection breaks the open instance's connection without ending the
// session (statusReason 408, connection lost): Evolution reconnects by
// itself, so the webhook sees connecting and then open, and no close. It
// returns ErrWrongStatus unless the instance is open.
func (s *Server) DropConnection(name string) error {
	return s.control("drop connection of", name, func(in *instance) error {
		if in.state != StateOpen {
			return wrongState("drop connection of", in)
		}
		s.reconnectLocked(in, 408)
		return nil
	})
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
