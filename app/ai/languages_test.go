package ai_test

import (
	"testing"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/db"
)

// The English defaults are the ones a new tenant's settings hold, so a
// tenant who kept them is recognised.
func TestDefaultRepliesMatchTheSettingsDefaults(t *testing.T) {
	st := db.DefaultAISettings(1, "Shop")
	for _, tt := range []struct{ kind, saved string }{
		{ai.ReplyOptOut, st.OptOutReply}, {ai.ReplyOptIn, st.OptInReply}, {ai.ReplyHandoff, st.HandoffReply},
	} {
		if got := ai.DefaultReply(tt.kind, ai.LangEnglish); got != tt.saved {
			t.Errorf("%s: English default %q, settings default %q", tt.kind, got, tt.saved)
		}
		for _, lang := range []string{"en", "es", "pt", "fr", "de", "id", "ar"} {
			if ai.DefaultReply(tt.kind, lang) == "" {
				t.Errorf("%s has no default in %s", tt.kind, lang)
			}
		}
	}
}

func TestAutoReplyText(t *testing.T) {
	en := ai.DefaultReply(ai.ReplyOptOut, "en")
	es := ai.DefaultReply(ai.ReplyOptOut, "es")
	tests := []struct {
		name, kind, tenant, lang, want string
	}{
		{"default kept: the command's language", ai.ReplyOptOut, en, "es", es},
		{"default kept, English command", ai.ReplyOptOut, en, "en", en},
		{"default kept, unknown language", ai.ReplyOptOut, en, "", en},
		{"default with stray spaces", ai.ReplyOptOut, "  " + en + "\n", "es", es},
		{"a default of another language kept", ai.ReplyOptOut, es, "pt", ai.DefaultReply(ai.ReplyOptOut, "pt")},
		{"the tenant's own text", ai.ReplyOptOut, "Bye from Lumen.", "es", "Bye from Lumen."},
		{"emptied: nothing is sent", ai.ReplyHandoff, "", "es", ""},
		{"opt-in in Arabic", ai.ReplyOptIn, ai.DefaultReply(ai.ReplyOptIn, "en"), "ar", ai.DefaultReply(ai.ReplyOptIn, "ar")},
		{"another kind's default is the tenant's text", ai.ReplyOptIn, en, "es", en},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ai.AutoReplyText(tt.kind, tt.tenant, tt.lang); got != tt.want {
				t.Errorf("AutoReplyText(%s, %q, %s) = %q, want %q", tt.kind, tt.tenant, tt.lang, got, tt.want)
			}
		})
	}
}

func TestHandoffLanguage(t *testing.T) {
	keywords := db.DefaultAISettings(1, "Shop").HandoffKeywords // human, agent, person, manager, humano, atendente
	tests := []struct {
		name   string
		text   string
		kw     []string
		recent []string
		want   string
	}{
		{"an English keyword", "can I talk to a human", keywords, nil, "en"},
		{"a Portuguese keyword", "Quero falar com um atendente", keywords, nil, "pt"},
		{"a keyword of two languages: the message tells", "quiero hablar con un humano", keywords, nil, "es"},
		{"a keyword of two languages in Portuguese", "quero falar com um humano", keywords, nil, "pt"},
		{"a keyword of two languages, recent messages tell", "humano", keywords, []string{"hola, tienen pasteles de chocolate?", "gracias"}, "es"},
		{"a tenant's keyword of no known language", "jefe por favor", []string{"jefe"}, []string{"hola, quiero una tarta para el sábado"}, "es"},
		{"media with an English caption", "how much is this?", keywords, nil, "en"},
		{"Arabic", "أريد التحدث مع موظف", []string{"موظف"}, nil, "ar"},
		{"German from recent messages", "", keywords, []string{"Hallo, ich brauche eine Torte", "danke"}, "de"},
		{"nothing to tell", "ok", keywords, []string{"👍"}, ""},
		{"a tie tells nothing", "agent", keywords, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ai.HandoffLanguage(tt.text, tt.kw, tt.recent); got != tt.want {
				t.Errorf("HandoffLanguage(%q, %v, %q) = %q, want %q", tt.text, tt.kw, tt.recent, got, tt.want)
			}
		})
	}
}

func TestDetectLanguage(t *testing.T) {
	tests := []struct {
		texts []string
		want  string
	}{
		{[]string{"Hello, what are your opening hours?"}, "en"},
		{[]string{"Hola, ¿cuánto cuesta el envío?", "gracias"}, "es"},
		{[]string{"Olá, vocês entregam no sábado? Obrigado"}, "pt"},
		{[]string{"Bonjour, je voudrais parler avec vous"}, "fr"},
		{[]string{"Hallo, wie viel kostet das?"}, "de"},
		{[]string{"Halo, berapa harga kue ini?"}, "id"},
		{[]string{"مرحبا، كم السعر؟"}, "ar"},
		{[]string{"ok"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := ai.DetectLanguage(tt.texts...); got != tt.want {
			t.Errorf("DetectLanguage(%q) = %q, want %q", tt.texts, got, tt.want)
		}
	}
}
