package jobs

import (
	"testing"

	"github.com/myaibud/aibud/app/whatsapp"
)

func TestMessageKeyAndParty(t *testing.T) {
	for in, want := range map[string]string{
		"false_11111111111@c.us_AAAAAAAA":           "AAAAAAAA",
		"true_11111111111@c.us_3EB0D6438EA8F3869F9": "3EB0D6438EA8F3869F9",
		"false_120363@g.us_BBBB_5511999@c.us":       "BBBB",
		"3EB0ABC":                                   "3EB0ABC",
	} {
		if got := whatsapp.WAHAMessageKey(in); got != want {
			t.Errorf("whatsapp.WAHAMessageKey(%q) = %q, want %q", in, got, want)
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
