package whatsapp

import (
	"strings"
	"unicode/utf8"
)

// CleanText makes text from outside (a contact's name, a message, a caption,
// a poll option) storable: PostgreSQL refuses NUL characters and invalid
// UTF-8 in text, so NULs are dropped and invalid bytes become U+FFFD.
// Everything else is kept as it is.
func CleanText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// clean applies CleanText to every text of an event, so that nothing a
// gateway (or a customer) sends can make storing it fail.
func (e *Event) clean() {
	e.ID, e.Type, e.Session = CleanText(e.ID), CleanText(e.Type), CleanText(e.Session)
	for k, v := range e.Metadata {
		e.Metadata[k] = CleanText(v)
	}
	if e.Me != nil {
		e.Me.clean()
	}
	if m := e.Message; m != nil {
		m.ID, m.Key, m.ChatID, m.Body, m.Type = CleanText(m.ID), CleanText(m.Key), CleanText(m.ChatID), CleanText(m.Body), CleanText(m.Type)
		m.MediaURL, m.MediaType, m.MediaName, m.ReplyTo = CleanText(m.MediaURL), CleanText(m.MediaType), CleanText(m.MediaName), CleanText(m.ReplyTo)
		m.Sender.clean()
	}
	if a := e.Ack; a != nil {
		a.MessageID, a.Key, a.ChatID, a.Name = CleanText(a.MessageID), CleanText(a.Key), CleanText(a.ChatID), CleanText(a.Name)
	}
	if s := e.Status; s != nil {
		s.Status = CleanText(s.Status)
	}
	if v := e.Vote; v != nil {
		v.PollID, v.PollKey, v.VoteID, v.ChatID = CleanText(v.PollID), CleanText(v.PollKey), CleanText(v.VoteID), CleanText(v.ChatID)
		v.Voter.clean()
		for i := range v.Selected {
			v.Selected[i] = CleanText(v.Selected[i])
		}
	}
}

func (a *Account) clean() {
	a.ID, a.LID, a.Phone, a.PushName = CleanText(a.ID), CleanText(a.LID), CleanText(a.Phone), CleanText(a.PushName)
}

func (p *Party) clean() {
	p.ChatID, p.Phone, p.LID, p.PushName = CleanText(p.ChatID), CleanText(p.Phone), CleanText(p.LID), CleanText(p.PushName)
}
