package ai

import "testing"

func TestParseCommand(t *testing.T) {
	tests := []struct {
		text string
		want Command
		lang string
	}{
		{"STOP", OptOut, "en"},
		{"  stop! ", OptOut, "en"},
		{"Unsubscribe", OptOut, "en"},
		{"BAJA", OptOut, "es"},
		{"No más", OptOut, "es"}, // with accent
		{"Cancelar", OptOut, "es"},
		{"Sair", OptOut, "pt"},
		{"Não quero mais", OptOut, "pt"},
		{"ARRÊT", OptOut, "fr"},
		{"Désabonner", OptOut, "fr"},
		{"Stopp", OptOut, "de"},
		{"Abmelden", OptOut, "de"},
		{"Berhenti", OptOut, "id"},
		{"توقف", OptOut, "ar"},
		{"إلغاء الاشتراك", OptOut, "ar"}, // hamza folded
		{"START", OptIn, "en"},
		{"Alta", OptIn, "es"},
		{"Voltar", OptIn, "pt"},
		{"Reprendre", OptIn, "fr"},
		{"Wieder anmelden", OptIn, "de"},
		{"Mulai", OptIn, "id"},
		{"ابدأ", OptIn, "ar"},
		{"please don't stop the delivery", NoCommand, ""},
		{"what time do you stop serving?", NoCommand, ""},
		{"", NoCommand, ""},
	}
	for _, tt := range tests {
		if got, lang := ParseCommand(tt.text); got != tt.want || lang != tt.lang {
			t.Errorf("ParseCommand(%q) = %v, %q, want %v, %q", tt.text, got, lang, tt.want, tt.lang)
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
