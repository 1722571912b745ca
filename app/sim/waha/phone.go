package waha

import (
	"fmt"
	"strings"

	"github.com/myaibud/aibud/app/sim"
	"github.com/myaibud/aibud/app/sim/phone"
)

// phoneLabels are the phone page's words for WAHA.
var phoneLabels = phone.Labels{
	Brand:      "WAHA stand-in",
	DropButton: "Drop the session silently",
	Drop:       "The status becomes FAILED with no webhook, as when the phone goes away.",
	VoteFails:  "WAHA cannot decrypt some votes: poll.vote.failed",
}

// phoneSide is the stand-in as the phone page (package phone) drives it.
type phoneSide struct{ s *Server }

// phaseOf is where a status is, for the phone page.
func phaseOf(status string) phone.Phase {
	switch status {
	case StatusStarting:
		return phone.Starting
	case StatusScanQR:
		return phone.ScanQR
	case StatusWorking:
		return phone.Working
	}
	return phone.Stopped
}

// pageSession is a session as the page shows it; s.mu is held.
func (p phoneSide) pageSession(ss *session, full bool) phone.Session {
	st := ss.state()
	out := phone.Session{
		Name: st.Name, Status: st.Status, Phase: phaseOf(st.Status),
		QR: st.QR, QRNumber: st.QRNumber, MaxQRs: p.s.timing.MaxQRs, QRExpires: st.QRExpires,
		PairingCode: st.PairingCode, PairingPhone: st.PairingPhone, Webhooks: st.Webhooks,
	}
	if st.Me != nil {
		out.Me = &phone.Account{Phone: st.Me.Phone, PushName: st.Me.PushName}
	}
	if !full {
		return out
	}
	a := p.s.accountLocked(ss)
	out.Account = phone.Account{Phone: a.Phone, PushName: a.PushName}
	out.Typing = make(map[string]bool, len(ss.typing))
	for chatID := range ss.typing {
		out.Typing[ss.leadKey(chatID)] = true
	}
	for _, m := range ss.messages {
		pm := phone.Message{
			ID: m.id, Chat: ss.leadKey(m.chatID), FromMe: m.fromMe, FromApp: m.source == "api",
			PushName: m.pushName, Body: m.body, Time: m.time,
			Delivered: m.ack >= ackDevice, Read: m.ack >= ackRead,
		}
		if !m.fromMe {
			pm.Read = m.seen
			if lid, ok := strings.CutSuffix(m.chatID, "@lid"); ok {
				pm.LID = lid
			}
		}
		if m.media != nil {
			pm.SetMedia(m.media, m.file)
		}
		if m.poll != nil {
			pm.Poll = &phone.Poll{Name: m.poll.Name, Options: m.poll.Options, Multiple: m.poll.MultipleAnswers, Votes: m.votes, Voter: m.chatID}
		}
		out.Messages = append(out.Messages, pm)
	}
	return out
}

// leadKey is the conversation a chat id belongs to: the phone digits for
// people (a …@lid mapped to a phone joins that phone's conversation), else
// the chat id.
func (ss *session) leadKey(chatID string) string {
	if pn := ss.lids[chatID]; pn != "" {
		chatID = pn
	}
	if user, ok := strings.CutSuffix(chatID, "@c.us"); ok {
		return user
	}
	return chatID
}

func (p phoneSide) Sessions() []phone.Session {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return sim.Each(p.s.sessions, func(ss *session) phone.Session { return p.pageSession(ss, false) })
}

func (p phoneSide) Session(name string) (phone.Session, bool) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	ss, ok := p.s.sessions[name]
	if !ok {
		return phone.Session{}, false
	}
	return p.pageSession(ss, true), true
}

func (p phoneSide) Changes() (int, <-chan struct{}) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.changes.Watch()
}

func (p phoneSide) Scan(session string) error     { return p.s.Scan(session) }
func (p phoneSide) RotateQR(session string) error { return p.s.RotateQR(session) }
func (p phoneSide) Drop(session string) error     { return p.s.DropSession(session) }
func (p phoneSide) SetAccount(session, phone, pushName string) {
	p.s.SetAccount(session, phone, pushName)
}

func (p phoneSide) LeadSays(session, phone, pushName, text string) (string, error) {
	_, err := p.s.LeadSays(session, phone, pushName, text)
	return "", err
}

func (p phoneSide) LeadSaysAsLID(session, lid, phone, pushName, text string) (string, error) {
	_, err := p.s.LeadSaysAsLID(session, lid, phone, pushName, text)
	return "", err
}

func (p phoneSide) LeadSendsMedia(session, phone, pushName string, m phone.Media) (string, error) {
	_, err := p.s.LeadSendsMedia(session, phone, pushName, m)
	return "", err
}

func (p phoneSide) OwnerSays(session, to, text string) (string, error) {
	if _, err := p.s.OwnerSaysFromPhone(session, to, text); err != nil {
		return "", err
	}
	return strings.TrimSuffix(chatFor(to), "@c.us"), nil
}

// Vote is the poll's lead voting: the options ticked, none to withdraw the
// vote, or a vote WAHA cannot decrypt.
func (p phoneSide) Vote(session, poll string, options []string, failed bool) error {
	var err error
	if failed {
		_, err = p.s.LeadVoteFails(session, "", poll)
	} else {
		_, err = p.s.LeadVotes(session, "", poll, options...)
	}
	return err
}

// ReadChat reads what the business sent in a conversation.
func (p phoneSide) ReadChat(session, chat string) error {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.workingLocked("read", session)
	if err != nil {
		return err
	}
	for _, m := range ss.messages {
		if m.fromMe && m.ack < ackRead && ss.leadKey(m.chatID) == chat {
			s.readLocked(ss, m)
		}
	}
	return nil
}

// Start starts a stopped or failed session, as the app's restart would.
func (p phoneSide) Start(session string) error {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[session]
	if !ok {
		return fmt.Errorf("start %q: %w", session, ErrUnknownSession)
	}
	s.startLocked(ss)
	return nil
}

var _ phone.Backend = phoneSide{}
