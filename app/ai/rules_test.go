package ai_test

import (
	"testing"
	"time"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/db"
)

func TestBusinessOpen(t *testing.T) {
	madrid, _ := time.LoadLocation("Europe/Madrid")
	nine := &db.DayHours{Open: 9 * 60, Close: 18 * 60}
	s := &db.AISettings{HoursEnabled: true, Hours: []*db.DayHours{nine, nine, nine, nine, nine, nil, nil}}
	at := func(day, hour, min int) time.Time { return time.Date(2026, 11, day, hour, min, 0, 0, madrid) } // 23 Nov 2026 is a Monday
	tests := []struct {
		name       string
		now        time.Time
		open       bool
		closedFrom time.Time
	}{
		{"monday morning", at(23, 10, 0), true, time.Time{}},
		{"monday at opening", at(23, 9, 0), true, time.Time{}},
		{"monday at closing", at(23, 18, 0), false, at(23, 18, 0)},
		{"monday night", at(23, 22, 30), false, at(23, 18, 0)},
		{"tuesday early", at(24, 7, 0), false, at(23, 18, 0)},
		{"saturday", at(28, 12, 0), false, at(27, 18, 0)},
		{"sunday", at(29, 12, 0), false, at(27, 18, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open, since := ai.BusinessOpen(s, madrid, tt.now.UTC())
			if open != tt.open || !since.Equal(tt.closedFrom) {
				t.Errorf("open %v since %v, want %v since %v", open, since, tt.open, tt.closedFrom)
			}
		})
	}
	if open, _ := ai.BusinessOpen(&db.AISettings{HoursEnabled: false}, madrid, at(29, 3, 0)); !open {
		t.Error("without business hours the AI must always answer")
	}
}

// TestDecide is the table of what a customer's message sets off. The rules
// are a pure function, so every case runs in microseconds.
func TestDecide(t *testing.T) {
	utc := time.UTC
	monday10 := time.Date(2026, 11, 23, 10, 0, 0, 0, utc)
	monday20 := time.Date(2026, 11, 23, 20, 0, 0, 0, utc)
	nine := &db.DayHours{Open: 9 * 60, Close: 18 * 60}
	base := func() *db.AISettings {
		s := db.DefaultAISettings(1, "Shop")
		s.BurstWaitMS = 3000
		s.HoursEnabled = true
		s.Hours = []*db.DayHours{nine, nine, nine, nine, nine, nil, nil}
		return s
	}
	direct := func() *db.Contact { return &db.Contact{Kind: db.ContactDirect, AIMode: db.ModeAI} }
	past, future := monday10.Add(-time.Minute), monday10.Add(time.Hour)
	text := ai.Incoming{Type: "text", Body: "do you deliver?"}

	tests := []struct {
		name    string
		s       func(*db.AISettings)
		c       func(*db.Contact)
		m       ai.Incoming
		replies int
		now     time.Time
		action  string
		why     string
		back    bool
	}{
		{name: "a question in opening hours", m: text, action: db.InboundAnswer},
		{name: "STOP", m: ai.Incoming{Type: "text", Body: "STOP"}, action: db.InboundOptOut},
		{name: "STOP even with the AI off", s: func(s *db.AISettings) { s.Enabled = false }, m: ai.Incoming{Type: "text", Body: "baja"}, action: db.InboundOptOut},
		{name: "START from an opted-out contact", c: func(c *db.Contact) { c.OptedOutAt = &past }, m: ai.Incoming{Type: "text", Body: "start"}, action: db.InboundOptIn},
		{name: "STOP as a photo caption is a photo", m: ai.Incoming{Type: "image", Body: "stop"}, action: db.InboundAnswer},
		{name: "a status post", c: func(c *db.Contact) { c.Kind = db.ContactStatus }, m: text, action: db.InboundNone, why: "status or channel message"},
		{name: "a channel post", c: func(c *db.Contact) { c.Kind = db.ContactChannel }, m: text, action: db.InboundNone, why: "status or channel message"},
		{name: "a group", c: func(c *db.Contact) { c.Kind = db.ContactGroup }, m: text, action: db.InboundNone, why: "group chat"},
		{name: "a group with groups on", s: func(s *db.AISettings) { s.AnswerGroups = true }, c: func(c *db.Contact) { c.Kind = db.ContactGroup }, m: text, action: db.InboundAnswer},
		{name: "STOP in a group is not a command", s: func(s *db.AISettings) { s.AnswerGroups = true }, c: func(c *db.Contact) { c.Kind = db.ContactGroup }, m: ai.Incoming{Type: "text", Body: "stop"}, action: db.InboundAnswer},
		{name: "opted out", c: func(c *db.Contact) { c.OptedOutAt = &past }, m: text, action: db.InboundNone, why: "the contact opted out"},
		{name: "AI off", s: func(s *db.AISettings) { s.Enabled = false }, m: text, action: db.InboundNone, why: "the AI is off"},
		{name: "AI off for the chat", c: func(c *db.Contact) { c.AIMode = db.ModeOff }, m: text, action: db.InboundNone, why: "the AI is off for this chat"},
		{name: "a person handles the chat", c: func(c *db.Contact) { c.AIMode, c.HumanUntil = db.ModeHuman, &future }, m: text, action: db.InboundNone, why: "a person handles this chat"},
		{name: "a photo while a person handles the chat", c: func(c *db.Contact) { c.AIMode, c.HumanUntil = db.ModeHuman, &future }, m: ai.Incoming{Type: "image"}, action: db.InboundNone, why: "a person handles this chat"},
		{name: "the takeover ended", c: func(c *db.Contact) { c.AIMode, c.HumanUntil = db.ModeHuman, &past }, m: text, action: db.InboundAnswer, back: true},
		{name: "a photo", m: ai.Incoming{Type: "image", Body: "how much is this?", MediaMime: "image/jpeg"}, action: db.InboundAnswer},
		{name: "a voice note", m: ai.Incoming{Type: "audio", MediaMime: "audio/ogg; codecs=opus"}, action: db.InboundAnswer},
		{name: "a PDF", m: ai.Incoming{Type: "document", MediaMime: "application/pdf"}, action: db.InboundAnswer},
		{name: "a document of unknown type is tried", m: ai.Incoming{Type: "document"}, action: db.InboundAnswer},
		{name: "a PDF at night", now: monday20, m: ai.Incoming{Type: "document", MediaMime: "application/pdf"}, action: db.InboundAfterHours},
		{name: "a Word document", m: ai.Incoming{Type: "document", MediaMime: "application/msword"}, action: db.InboundHandoff, why: "The customer sent a document, which the AI cannot read"},
		{name: "a video", m: ai.Incoming{Type: "video", MediaMime: "video/mp4"}, action: db.InboundHandoff, why: "The customer sent a video, which the AI cannot read"},
		{name: "a video at night", now: monday20, m: ai.Incoming{Type: "video"}, action: db.InboundHandoff, why: "The customer sent a video, which the AI cannot read"},
		{name: "a location", m: ai.Incoming{Type: "location"}, action: db.InboundHandoff, why: "The customer sent a location, which the AI cannot read"},
		{name: "a GIF as an image", m: ai.Incoming{Type: "image", MediaMime: "image/gif"}, action: db.InboundHandoff, why: "The customer sent a photo, which the AI cannot read"},
		{name: "a sticker", m: ai.Incoming{Type: "sticker"}, action: db.InboundNone, why: "nothing to answer"},
		{name: "a reaction", m: ai.Incoming{Type: "reaction"}, action: db.InboundNone, why: "nothing to answer"},
		{name: "blank text", m: ai.Incoming{Type: "text", Body: "  "}, action: db.InboundNone, why: "nothing to answer"},
		{name: "asks for a person", m: ai.Incoming{Type: "text", Body: "can I talk to a human please"}, action: db.InboundHandoff, why: "The customer asked for a person"},
		{name: "at the hourly limit", m: text, replies: 12, action: db.InboundNone, why: ai.WhyHourlyLimit},
		{name: "below the hourly limit", m: text, replies: 11, action: db.InboundAnswer},
		{name: "closed, with an after-hours reply", now: monday20, m: text, action: db.InboundAfterHours},
		{name: "closed, without one", s: func(s *db.AISettings) { s.AfterHoursReply = "" }, now: monday20, m: text, action: db.InboundNone, why: "outside business hours"},
		{name: "closed, but hours are off", s: func(s *db.AISettings) { s.HoursEnabled = false }, now: monday20, m: text, action: db.InboundAnswer},
		{name: "limit before hours", now: monday20, replies: 12, m: text, action: db.InboundNone, why: ai.WhyHourlyLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := base(), direct()
			if tt.s != nil {
				tt.s(s)
			}
			if tt.c != nil {
				tt.c(c)
			}
			now := tt.now
			if now.IsZero() {
				now = monday10
			}
			d := ai.Decide(s, c, tt.m, db.InboundFacts{AIRepliesLastHour: func() int { return tt.replies }}, utc, now)
			if d.Action != tt.action || d.Why != tt.why || d.ReturnToAI != tt.back {
				t.Fatalf("Decide = %+v, want action %q why %q back %v", d, tt.action, tt.why, tt.back)
			}
			switch d.Action {
			case db.InboundAnswer:
				if want := now.Add(3 * time.Second); !d.DueAt.Equal(want) {
					t.Errorf("answer due %v, want after the burst wait, %v", d.DueAt, want)
				}
			case db.InboundHandoff:
				if want := now.Add(120 * time.Minute); !d.Until.Equal(want) {
					t.Errorf("handoff until %v, want %v", d.Until, want)
				}
			case db.InboundAfterHours:
				if want := time.Date(2026, 11, 23, 18, 0, 0, 0, utc); !d.ClosedSince.Equal(want) {
					t.Errorf("closed since %v, want %v", d.ClosedSince, want)
				}
			}
		})
	}
}

func BenchmarkDecide(b *testing.B) {
	s := db.DefaultAISettings(1, "Shop")
	c := &db.Contact{Kind: db.ContactDirect, AIMode: db.ModeAI}
	now := time.Now()
	for b.Loop() {
		ai.Decide(s, c, ai.Incoming{Type: "text", Body: "what are your opening hours?"}, db.InboundFacts{AIRepliesLastHour: func() int { return 0 }}, time.UTC, now)
	}
}

func TestSniffMime(t *testing.T) {
	ogg := append([]byte("OggS\x00\x02"), make([]byte, 40)...)
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 40)...)
	pdf := []byte("%PDF-1.4\n1 0 obj\n")
	html := []byte("<html><script>alert(1)</script></html>")
	for _, tc := range []struct {
		name, typ, claimed string
		data               []byte
		want               string
		ok                 bool
	}{
		{"a voice note", "audio", "audio/ogg; codecs=opus", ogg, "audio/ogg", true},
		{"a photo", "image", "image/jpeg", png, "image/png", true},
		{"a PDF", "document", "application/pdf", pdf, "application/pdf", true},
		{"HTML claiming to be a photo", "image", "image/jpeg", html, "text/html", false},
		{"HTML claiming to be a PDF", "document", "application/pdf", html, "text/html", false},
		{"HTML claiming to be audio", "audio", "audio/ogg", html, "", false},
		{"AAC the sniffer does not know", "audio", "audio/aac", []byte{0xff, 0xf1, 0x50, 0x80, 0x01, 0x7f, 0xfc}, "audio/aac", true},
		{"unknown bytes claiming an unreadable audio type", "audio", "audio/x-foo", []byte{0xff, 0xf1, 0x50}, "", false},
		{"nothing", "image", "image/png", nil, "", false},
	} {
		got, ok := ai.SniffMime(tc.typ, tc.claimed, tc.data)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("%s: %q %v, want %q %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
