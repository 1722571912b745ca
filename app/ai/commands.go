package ai

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Command is a subscription command a customer can send.
type Command int

// Commands.
const (
	NoCommand Command = iota
	OptOut            // stop messages
	OptIn             // subscribe again
)

// optOutWords are whole messages that mean "stop messaging me", in English,
// Spanish, Portuguese, French, German, Indonesian and Arabic, compared
// without case, accents or punctuation.
var optOutWords = wordSet(
	// English
	"stop", "stop all", "stopall", "unsubscribe", "cancel", "end", "quit", "opt out", "optout", "remove me",
	// Spanish
	"baja", "darme de baja", "dar de baja", "parar", "detener", "cancelar", "no mas", "no mas mensajes", "desuscribir",
	// Portuguese
	"sair", "descadastrar", "cancelar inscricao", "nao quero mais", "pare", "parar mensagens",
	// French
	"arret", "arreter", "desabonner", "se desabonner", "desinscrire", "me desinscrire",
	// German
	"stopp", "abmelden", "abbestellen", "aufhoren", "austragen",
	// Indonesian
	"berhenti", "keluar", "batal", "henti", "berhenti langganan",
	// Arabic
	"توقف", "ايقاف", "الغاء", "الغاء الاشتراك", "الغاء الاشتراك",
)

// optInWords are whole messages that mean "subscribe me again".
var optInWords = wordSet(
	"start", "unstop", "subscribe", "resubscribe",
	"alta", "darme de alta", "iniciar", "comenzar", "suscribir",
	"voltar", "reativar", "assinar", "comecar",
	"reprendre", "abonner", "sabonner", "recommencer",
	"anmelden", "starten", "wieder anmelden",
	"mulai", "langganan", "berlangganan",
	"ابدا", "اشتراك", "اشترك",
)

// ParseCommand tells whether a whole message is an opt-out or opt-in
// command. Only the whole message counts, so "please don't stop the
// delivery" is not an opt-out.
func ParseCommand(text string) Command {
	t := fold(text)
	switch {
	case optOutWords[t]:
		return OptOut
	case optInWords[t]:
		return OptIn
	}
	return NoCommand
}

// HasKeyword reports whether text contains one of the keywords as whole
// words (without case or accents), e.g. a handoff keyword like "human".
func HasKeyword(text string, keywords []string) bool {
	t := " " + fold(text) + " "
	for _, k := range keywords {
		k = fold(k)
		if k != "" && strings.Contains(t, " "+k+" ") {
			return true
		}
	}
	return false
}

// fold lowercases, strips accents and Arabic diacritics, and turns
// punctuation into single spaces.
func fold(s string) string {
	tr := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	s, _, _ = transform.String(tr, strings.ToLower(s))
	s = strings.NewReplacer("أ", "ا", "إ", "ا", "آ", "ا", "ى", "ي", "ة", "ه").Replace(s)
	var b strings.Builder
	space := true
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
			space = false
			continue
		}
		if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	return strings.TrimSpace(b.String())
}

func wordSet(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[fold(w)] = true
	}
	return m
}
