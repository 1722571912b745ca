package jobs

import (
	"testing"
	"time"

	"github.com/myaibud/aibud/app/whatsapp"
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
			open, since := businessOpen(s, madrid, tt.now.UTC())
			if open != tt.open || !since.Equal(tt.closedFrom) {
				t.Errorf("open %v since %v, want %v since %v", open, since, tt.open, tt.closedFrom)
			}
		})
	}
	if open, _ := businessOpen(&db.AISettings{HoursEnabled: false}, madrid, at(29, 3, 0)); !open {
		t.Error("without business hours the AI must always answer")
	}
}

func TestMessageKeyAndParty(t *testing.T) {
	for in, want := range map[string]string{
		"false_11111111111@c.us_AAAAAAAA":           "AAAAAAAA",
		"true_11111111111@c.us_3EB0D6438EA8F3869F9": "3EB0D6438EA8F3869F9",
		"false_120363@g.us_BBBB_5511999@c.us":       "BBBB",
		"3EB0ABC":                                   "3EB0ABC",
	} {
		if got := whatsapp.MessageKey(in); got != want {
			t.Errorf("whatsapp.MessageKey(%q) = %q, want %q", in, got, want)
		}
	}
	if p := whatsapp.PartyOf("15551234567@c.us"); p.Phone != "+15551234567" || p.LID != "" {
		t.Errorf("phone party = %+v", p)
	}
	if p := whatsapp.PartyOf("15551234567:12@s.whatsapp.net"); p.Phone != "+15551234567" {
		t.Errorf("device suffix party = %+v", p)
	}
	if p := whatsapp.PartyOf("987654@lid"); p.LID != "987654@lid" || p.Phone != "" {
		t.Errorf("lid party = %+v", p)
	}
	if p := whatsapp.PartyOf("status@broadcast"); p.Phone != "" || p.LID != "" {
		t.Errorf("broadcast party = %+v", p)
	}
}
