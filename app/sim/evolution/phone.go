package evolution

import (
	"strings"

	"github.com/myaibud/aibud/app/sim"
	"github.com/myaibud/aibud/app/sim/phone"
)

// phoneLabels are the phone page's words for Evolution.
var phoneLabels = phone.Labels{
	Brand:      "Evolution API stand-in",
	DropButton: "Unlink the device",
	Drop:       "A terminal close 401: status.instance, connection.update close and logout.instance; connect shows a new QR code.",
	VoteFails:  "Evolution cannot decrypt some votes: no pollUpdates, opaque selectedOptions",
}

// phoneSide is the stand-in as the phone page (package phone) drives it.
type phoneSide struct{ s *Server }

// phaseOf is where an instance is, for the phone page.
func phaseOf(in *instance) phone.Phase {
	switch {
	case in.state == StateOpen:
		return phone.Working
	case in.state == StateConnecting && in.qr != "":
		return phone.ScanQR
	case in.state == StateConnecting:
		return phone.Starting
	}
	return phone.Stopped
}

// chatOf is the conversation of a JID: the phone digits for people (a
// …@lid with a known phone joins that phone's conversation), else the JID.
func (in *instance) chatOf(jid string) string {
	if pn := in.lids[jid]; pn != "" {
		jid = pn
	}
	if user, ok := strings.CutSuffix(jid, "@s.whatsapp.net"); ok {
		return user
	}
	return jid
}

// pageSession is an instance as the page shows it; s.mu is held.
func (p phoneSide) pageSession(in *instance, full bool) phone.Session {
	st := in.view()
	out := phone.Session{
		Name: st.Name, Status: st.Status, Phase: phaseOf(in),
		QR: st.QR, QRNumber: st.QRNumber, MaxQRs: p.s.timing.QRLimit, QRExpires: st.QRExpires,
		PairingCode: st.PairingCode, PairingPhone: st.PairingPhone, Webhooks: st.Webhooks,
	}
	if st.Me != nil {
		out.Me = &phone.Account{Phone: st.Me.Phone, PushName: st.Me.PushName}
	}
	if !full {
		return out
	}
	a := p.s.accountLocked(in)
	out.Account = phone.Account{Phone: a.Phone, PushName: a.PushName}
	for _, m := range in.messages {
		pm := phone.Message{
			ID: m.id, Chat: in.chatOf(m.jid), FromMe: m.fromMe, FromApp: m.fromAPI,
			PushName: m.pushName, Body: m.body, Time: m.time,
			Delivered: statusRank[m.status] >= statusRank[statusDelivery], Read: m.status == statusRead,
		}
		if !m.fromMe {
			pm.Read = m.read
			for _, jid := range []string{m.jid, m.alt} {
				if lid, ok := strings.CutSuffix(jid, "@lid"); ok {
					pm.LID = lid
				}
			}
		}
		if m.media != nil {
			file := m.file
			if m.placeholder {
				file = nil
			}
			pm.SetMedia(m.media, file)
		}
		if m.poll != nil {
			pm.Poll = &phone.Poll{Name: m.poll.Name, Options: m.poll.Options, Multiple: m.poll.MultipleAnswers, Votes: m.votes, Voter: m.jid}
		}
		out.Messages = append(out.Messages, pm)
	}
	return out
}

func (p phoneSide) Sessions() []phone.Session {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return sim.Each(p.s.instances, func(in *instance) phone.Session { return p.pageSession(in, false) })
}

func (p phoneSide) Session(name string) (phone.Session, bool) {
	var ps phone.Session
	err := p.s.control("show", name, func(in *instance) error {
		ps = p.pageSession(in, true)
		return nil
	})
	return ps, err == nil
}

func (p phoneSide) Changes() (int, <-chan struct{}) {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.changes.Watch()
}

func (p phoneSide) Scan(instance string) error     { return p.s.Scan(instance) }
func (p phoneSide) RotateQR(instance string) error { return p.s.RotateQR(instance) }
func (p phoneSide) Drop(instance string) error     { return p.s.DropSession(instance) }
func (p phoneSide) SetAccount(name, phone, pushName string) {
	p.s.SetAccount(name, phone, pushName)
}

// chatOfMessage is the conversation of a message the lead just sent.
func (p phoneSide) chatOfMessage(name, id string, err error) (string, error) {
	if err != nil {
		return "", err
	}
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	if in, ok := p.s.instances[name]; ok {
		if m := in.byID[id]; m != nil {
			return in.chatOf(m.jid), nil
		}
	}
	return "", nil
}

func (p phoneSide) LeadSays(name, phone, pushName, text string) (string, error) {
	id, err := p.s.LeadSays(name, phone, pushName, text)
	return p.chatOfMessage(name, id, err)
}

func (p phoneSide) LeadSaysAsLID(name, lid, phone, pushName, text string) (string, error) {
	id, err := p.s.LeadSaysAsLID(name, lid, phone, pushName, text)
	return p.chatOfMessage(name, id, err)
}

func (p phoneSide) LeadSendsMedia(name, phone, pushName string, m phone.Media) (string, error) {
	id, err := p.s.LeadSendsMedia(name, phone, pushName, m)
	return p.chatOfMessage(name, id, err)
}

func (p phoneSide) OwnerSays(name, to, text string) (string, error) {
	id, err := p.s.OwnerSaysFromPhone(name, to, text)
	return p.chatOfMessage(name, id, err)
}

// Vote is the poll's lead voting: the options ticked, none to withdraw the
// vote, or a vote Evolution cannot decrypt.
func (p phoneSide) Vote(name, poll string, options []string, failed bool) error {
	var err error
	if failed {
		_, err = p.s.LeadVoteFails(name, "", poll)
	} else {
		_, err = p.s.LeadVotes(name, "", poll, options...)
	}
	return err
}

// ReadChat reads what the business sent in a conversation.
func (p phoneSide) ReadChat(name, chat string) error {
	if sim.ValidPhone(chat) {
		chat = userOf(jidOf(chat)) // a Brazilian number's chat lacks the ninth digit
	}
	return p.s.onOpen("read", name, func(in *instance) error {
		for _, m := range in.messages {
			if m.fromMe && m.status != statusRead && in.chatOf(m.jid) == chat {
				p.s.readLocked(in, m)
			}
		}
		return nil
	})
}

// Start connects a closed instance, as the app's connect would.
func (p phoneSide) Start(name string) error {
	return p.s.control("start", name, func(in *instance) error {
		p.s.connectLocked(in, "")
		return nil
	})
}

var _ phone.Backend = phoneSide{}
