package reset

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestNewToken(t *testing.T) {
	a, ha := NewToken()
	b, _ := NewToken()
	if a == b {
		t.Fatal("two tokens are the same")
	}
	if !WellFormed(a) || len(ha) != 32 || !bytes.Equal(ha, Hash(a)) {
		t.Errorf("token %q, hash %x", a, ha)
	}
	if strings.Contains(string(ha), a) {
		t.Error("the hash holds the token")
	}
}

func TestWellFormed(t *testing.T) {
	good, _ := NewToken()
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"a token", good, true},
		{"empty", "", false},
		{"short", good[:42], false},
		{"long", good + "A", false},
		{"not base64url", strings.Repeat("+", 43), false},
		{"padding", good[:41] + "==", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WellFormed(tt.in); got != tt.want {
				t.Errorf("WellFormed(%q) = %v", tt.in, got)
			}
		})
	}
}

func TestEmail(t *testing.T) {
	link := "https://app.example.com/password/reset?token=abc&x=<y>"
	m := Email("ana@example.com", link, TTL)
	if m.To != "ana@example.com" || m.Subject == "" {
		t.Errorf("headers %+v", m)
	}
	if !strings.Contains(m.Text, link) || !strings.Contains(m.Text, "one hour") {
		t.Errorf("text %q", m.Text)
	}
	if !strings.Contains(m.HTML, `href="https://app.example.com/password/reset?token=abc&amp;x=%3cy%3e"`) {
		t.Errorf("html link not escaped as an attribute: %s", m.HTML)
	}
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{{time.Hour, "one hour"}, {2 * time.Hour, "2 hours"}, {30 * time.Minute, "30 minutes"}} {
		if got := validFor(tt.d); got != tt.want {
			t.Errorf("validFor(%s) = %q", tt.d, got)
		}
	}
}
