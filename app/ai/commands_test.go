package ai

import "testing"

func TestParseCommand(t *testing.T) {
	tests := []struct {
		text string
		want Command
	}{
		{"STOP", OptOut},
		{"  stop! ", OptOut},
		{"Unsubscribe", OptOut},
		{"BAJA", OptOut},           // Spanish
		{"No más", OptOut},         // Spanish, with accent
		{"Sair", OptOut},           // Portuguese
		{"Não quero mais", OptOut}, // Portuguese
		{"ARRÊT", OptOut},          // French
		{"Désabonner", OptOut},     // French
		{"Stopp", OptOut},          // German
		{"Abmelden", OptOut},       // German
		{"Berhenti", OptOut},       // Indonesian
		{"توقف", OptOut},           // Arabic
		{"إلغاء الاشتراك", OptOut}, // Arabic, hamza folded
		{"START", OptIn},
		{"Alta", OptIn},
		{"Voltar", OptIn},
		{"Mulai", OptIn},
		{"ابدأ", OptIn},
		{"please don't stop the delivery", NoCommand},
		{"what time do you stop serving?", NoCommand},
		{"", NoCommand},
	}
	for _, tt := range tests {
		if got := ParseCommand(tt.text); got != tt.want {
			t.Errorf("ParseCommand(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestHasKeyword(t *testing.T) {
	kw := []string{"human", "atendente", "real person"}
	tests := []struct {
		text string
		want bool
	}{
		{"Can I talk to a HUMAN?", true},
		{"quero um atendente", true},
		{"is there a real person there", true},
		{"humanity is great", false},
		{"hello", false},
	}
	for _, tt := range tests {
		if got := HasKeyword(tt.text, kw); got != tt.want {
			t.Errorf("HasKeyword(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}
