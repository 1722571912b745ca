package app_test

import (
	"context"
	"strings"

	"github.com/myaibud/aibud/app/sim"
	"github.com/myaibud/aibud/app/sim/delivery"
	"github.com/myaibud/aibud/app/sim/phone"
	"github.com/myaibud/aibud/app/whatsapp"
	"github.com/myaibud/aibud/db"
)

// gatewaySim is what the tests drive on either gateway stand-in: the other
// side of WhatsApp (scans, leads, the owner's phone) and the deliveries.
// The WAHA and Evolution API stand-ins have the same control methods.
type gatewaySim interface {
	Scan(session string) error
	RotateQR(session string) error
	LeadSays(session, fromPhone, pushName, text string) (string, error)
	LeadSaysAsLID(session, lid, phone, pushName, text string) (string, error)
	LeadSendsMedia(session, fromPhone, pushName string, media phone.Media) (string, error)
	OwnerSaysFromPhone(session, toPhone, text string) (string, error)
	LeadVotes(session, leadPhone, pollMessageID string, options ...string) (string, error)
	LeadVoteFails(session, leadPhone, pollMessageID string) (string, error)
	Read(session, messageID string) error
	DropSession(session string) error
	Events() []delivery.Event
	Redeliver(eventID string) error
	Flush(ctx context.Context) error
	Calls() []sim.Call
}

// simFor is the stand-in a number lives on.
func (a *testApp) simFor(inst *db.Instance) gatewaySim {
	if inst.Provider == whatsapp.ProviderEvolution {
		return a.env.evo
	}
	return a.env.sim
}

// sentMessage is a message the app sent through a stand-in, in the fields
// both stand-ins have.
type sentMessage struct {
	ID, ChatID, Type, Text string
	PollName               string
}

// to reports whether the message went to phone (digits, with or without
// "+"): WAHA writes …@c.us, Evolution …@s.whatsapp.net.
func (m sentMessage) to(phone string) bool {
	user, _, _ := strings.Cut(m.ChatID, "@")
	return user == strings.TrimPrefix(phone, "+")
}

// sentBy lists what the app sent through a number's stand-in.
func (a *testApp) sentBy(inst *db.Instance) []sentMessage {
	var out []sentMessage
	if inst.Provider == whatsapp.ProviderEvolution {
		for _, m := range a.env.evo.Sent(inst.SessionName) {
			s := sentMessage{ID: m.ID, ChatID: m.ChatID, Type: m.Type, Text: m.Text}
			if m.Poll != nil {
				s.PollName = m.Poll.Name
			}
			out = append(out, s)
		}
		return out
	}
	for _, m := range a.env.sim.Sent(inst.SessionName) {
		s := sentMessage{ID: m.ID, ChatID: m.ChatID, Type: m.Type, Text: m.Text}
		if m.Poll != nil {
			s.PollName = m.Poll.Name
		}
		out = append(out, s)
	}
	return out
}
