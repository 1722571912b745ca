package ai

import (
	"strings"
	"time"

	"github.com/myaibud/aibud/db"
)

// Incoming is a customer's message as the rules see it.
type Incoming struct {
	// Type is the message type: text, image, audio, video, document,
	// sticker, location, contact, poll, reaction, other.
	Type string
	// Body is the text, or a media message's caption.
	Body string
	// MediaMime is a media message's content type, when the gateway said.
	MediaMime string
}

// Decide is what a customer's message sets off, given the tenant's
// settings, the chat as it stands and what was answered lately. It has no
// side effects: the caller applies the decision (db.DecideInbound). In
// order: a STOP or START command; silence for status posts, channels,
// groups (unless enabled), opted-out contacts, the AI switched off, a chat a
// person handles (a takeover that expired ends first); a hand-off for media
// the AI cannot read yet and for handoff keywords; silence with nothing to
// answer and past the hourly limit; outside business hours, the after-hours
// reply (once per closed period); else an AI answer after the burst wait.
func Decide(s *db.AISettings, c *db.Contact, m Incoming, f db.InboundFacts, loc *time.Location, now time.Time) db.Inbound {
	if c.Kind == db.ContactDirect && !IsMedia(m.Type) {
		switch cmd, _ := ParseCommand(m.Body); cmd {
		case OptOut:
			return db.Inbound{Action: db.InboundOptOut}
		case OptIn:
			return db.Inbound{Action: db.InboundOptIn}
		}
	}
	why, returnToAI := chatSilence(s, c, now)
	if why != "" {
		return none(why)
	}
	d := decideAnswer(s, c, m, f, loc, now)
	d.ReturnToAI = returnToAI
	return d
}

// chatSilence says why the AI must not act in a chat at all, or "", and
// whether an expired takeover must end first.
func chatSilence(s *db.AISettings, c *db.Contact, now time.Time) (string, bool) {
	switch {
	case c.Kind == db.ContactStatus || c.Kind == db.ContactChannel:
		return "status or channel message", false
	case c.Kind == db.ContactGroup && !s.AnswerGroups:
		return "group chat", false
	}
	return StillWanted(s, c, now)
}

// decideAnswer decides for a chat the AI handles.
func decideAnswer(s *db.AISettings, c *db.Contact, m Incoming, f db.InboundFacts, loc *time.Location, now time.Time) db.Inbound {
	quiet := now.Add(time.Duration(s.HumanQuietMinutes) * time.Minute)
	switch {
	case IsMedia(m.Type) && !Readable(m.Type, m.MediaMime):
		return db.Inbound{Action: db.InboundHandoff, Until: quiet, Why: MediaHandoffReason(m.Type)}
	case strings.TrimSpace(m.Body) == "" && !IsMedia(m.Type):
		return none("nothing to answer")
	case HasKeyword(m.Body, s.HandoffKeywords):
		return db.Inbound{Action: db.InboundHandoff, Until: quiet, Why: "The customer asked for a person"}
	case f.AIRepliesLastHour != nil && f.AIRepliesLastHour() >= s.HourlyLimit:
		return none(WhyHourlyLimit)
	}
	if open, closedSince := BusinessOpen(s, loc, now); !open {
		if s.AfterHoursReply == "" {
			return none("outside business hours")
		}
		return db.Inbound{Action: db.InboundAfterHours, ClosedSince: closedSince}
	}
	return db.Inbound{Action: db.InboundAnswer, DueAt: now.Add(time.Duration(s.BurstWaitMS) * time.Millisecond)}
}

// WhyHourlyLimit is the reason the AI is silent past the per-contact limit.
const WhyHourlyLimit = "hourly limit"

func none(why string) db.Inbound { return db.Inbound{Action: db.InboundNone, Why: why} }

// StillWanted says why the AI must no longer answer in a chat, or "": the
// AI switched off, the contact opted out, the chat taken by a person. A
// takeover whose time is over no longer counts; returnToAI then says the
// chat goes back to the AI.
func StillWanted(s *db.AISettings, c *db.Contact, now time.Time) (why string, returnToAI bool) {
	switch {
	case !s.Enabled:
		return "the AI is off", false
	case c.OptedOutAt != nil:
		return "the contact opted out", false
	case c.AIMode == db.ModeOff:
		return "the AI is off for this chat", false
	case c.AIMode == db.ModeHuman:
		if c.HumanUntil != nil && !c.HumanUntil.After(now) {
			return "", true
		}
		return "a person handles this chat", false
	}
	return "", false
}

// IsMedia reports whether a message type carries something beyond text
// (stickers and reactions need no answer and are not media here).
func IsMedia(typ string) bool {
	switch typ {
	case "image", "audio", "video", "document", "location", "contact":
		return true
	}
	return false
}

// Readable reports whether the model reads a media message itself: a voice
// note or other audio, a photo, or a PDF (a document of unknown type is
// tried; its real type is checked once downloaded, see ReadableMime).
// Videos, locations and contact cards go to a person.
func Readable(typ, mime string) bool {
	switch typ {
	case "audio", "image":
		return mime == "" || ReadableMime(typ, mime)
	case "document":
		return mime == "" || ReadableMime(typ, mime)
	}
	return false
}

// ReadableMime reports whether the model takes a file of this type for a
// message of this kind (Gemini's inline audio, image and PDF types).
func ReadableMime(typ, mime string) bool {
	mime = strings.ToLower(strings.TrimSpace(strings.SplitN(mime, ";", 2)[0]))
	switch typ {
	case "audio":
		switch mime {
		case "audio/ogg", "audio/opus", "audio/mpeg", "audio/mp3", "audio/mp4", "audio/aac", "audio/wav", "audio/x-wav",
			"audio/webm", "audio/flac", "audio/amr":
			return true
		}
	case "image":
		switch mime {
		case "image/jpeg", "image/png", "image/webp", "image/heic", "image/heif":
			return true
		}
	case "document":
		return mime == "application/pdf"
	}
	return false
}

// MediaHandoffReason is what the tenant reads when media hands a chat over.
func MediaHandoffReason(typ string) string {
	return "The customer sent " + mediaName(typ) + ", which the AI cannot read"
}

// mediaName is how the tenant reads a kind of media.
func mediaName(typ string) string {
	what := map[string]string{
		"image": "a photo", "audio": "a voice message", "video": "a video", "document": "a document",
		"location": "a location", "contact": "a contact card",
	}[typ]
	if what == "" {
		what = "media"
	}
	return what
}

// MediaRefusal is what the tenant reads when a readable kind of media was
// refused once downloaded: too large, of another type than it claimed, or
// not downloadable.
func MediaRefusal(typ, why string) string {
	return "The customer sent " + mediaName(typ) + " the AI could not read (" + why + ")"
}

// BusinessOpen reports whether the business is open at now, and when the
// current closed period began (for "once per closed period" replies).
func BusinessOpen(s *db.AISettings, loc *time.Location, now time.Time) (bool, time.Time) {
	if !s.HoursEnabled || len(s.Hours) != 7 {
		return true, time.Time{}
	}
	local := now.In(loc)
	day := func(t time.Time) *db.DayHours { return s.Hours[(int(t.Weekday())+6)%7] }
	at := func(t time.Time, minute int) time.Time {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc).Add(time.Duration(minute) * time.Minute)
	}
	if h := day(local); h != nil && !local.Before(at(local, h.Open)) && local.Before(at(local, h.Close)) {
		return true, time.Time{}
	}
	for d := 0; d <= 7; d++ {
		t := local.AddDate(0, 0, -d)
		if h := day(t); h != nil {
			if closed := at(t, h.Close); !closed.After(local) {
				return false, closed
			}
		}
	}
	return false, local.AddDate(0, 0, -7)
}
