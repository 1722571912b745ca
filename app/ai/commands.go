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

// optOutWords are whole messages that mean "stop messaging me", by
// language, compared without case, accents or punctuation. A word of two
// languages ("cancelar") counts for the first.
var optOutWords = commandWords(
	[]string{LangEnglish, "stop", "stop all", "stopall", "unsubscribe", "cancel", "end", "quit", "opt out", "optout", "remove me"},
	[]string{LangSpanish, "baja", "darme de baja", "dar de baja", "parar", "detener", "cancelar", "no mas", "no mas mensajes", "desuscribir"},
	[]string{LangPortuguese, "sair", "descadastrar", "cancelar inscricao", "nao quero mais", "pare", "parar mensagens"},
	[]string{LangFrench, "arret", "arreter", "desabonner", "se desabonner", "desinscrire", "me desinscrire"},
	[]string{LangGerman, "stopp", "abmelden", "abbestellen", "aufhoren", "austragen"},
	[]string{LangIndonesian, "berhenti", "keluar", "batal", "henti", "berhenti langganan"},
	[]string{LangArabic, "توقف", "ايقاف", "الغاء", "الغاء الاشتراك"},
)

// optInWords are whole messages that mean "subscribe me again".
var optInWords = commandWords(
	[]string{LangEnglish, "start", "unstop", "subscribe", "resubscribe"},
	[]string{LangSpanish, "alta", "darme de alta", "iniciar", "comenzar", "suscribir"},
	[]string{LangPortuguese, "voltar", "reativar", "assinar", "comecar"},
	[]string{LangFrench, "reprendre", "abonner", "sabonner", "recommencer"},
	[]string{LangGerman, "anmelden", "starten", "wieder anmelden"},
	[]string{LangIndonesian, "mulai", "langganan", "berlangganan"},
	[]string{LangArabic, "ابدا", "اشتراك", "اشترك"},
)

// ParseCommand tells whether a whole message is an opt-out or opt-in
// command, and the language of the command's word. Only the whole message
// counts, so "please don't stop the delivery" is not an opt-out.
func ParseCommand(text string) (Command, string) {
	t := fold(text)
	if lang, ok := optOutWords[t]; ok {
		return OptOut, lang
	}
	if lang, ok := optInWords[t]; ok {
		return OptIn, lang
	}
	return NoCommand, ""
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
	s = strings.ToLower(s)
	if !isASCII(s) {
		tr := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
		s, _, _ = transform.String(tr, s)
		s = arabicLetters.Replace(s)
	}
	var b strings.Builder
	b.Grow(len(s))
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

// commandWords maps each folded word to its language; each list starts
// with the language.
// arabicLetters folds Arabic letter variants (hamza forms, alef maqsura,
// taa marbuta) to their plain letters.
var arabicLetters = strings.NewReplacer("أ", "ا", "إ", "ا", "آ", "ا", "ى", "ي", "ة", "ه")

// isASCII reports whether s has only ASCII bytes: nothing to unaccent.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func commandWords(lists ...[]string) map[string]string {
	m := map[string]string{}
	for _, l := range lists {
		for _, w := range l[1:] {
			if _, seen := m[fold(w)]; !seen {
				m[fold(w)] = l[0]
			}
		}
	}
	return m
}
