package ai

import (
	"strings"
	"unicode"
)

// Languages the automatic messages speak by default, as ISO 639-1 codes:
// those of the STOP and START words.
const (
	LangEnglish    = "en"
	LangSpanish    = "es"
	LangPortuguese = "pt"
	LangFrench     = "fr"
	LangGerman     = "de"
	LangIndonesian = "id"
	LangArabic     = "ar"
)

// Kinds of automatic message with default texts in every language.
const (
	ReplyOptOut  = "opt-out"
	ReplyOptIn   = "opt-in"
	ReplyHandoff = "handoff"
)

// defaultReplies are the default automatic messages by kind and language.
// The English ones are db.DefaultAISettings' (a test keeps them equal).
// Each opt-out text names the START word of its language.
var defaultReplies = map[string]map[string]string{
	ReplyOptOut: {
		LangEnglish:    "You will not receive more messages from us. Reply START to subscribe again.",
		LangSpanish:    "No recibirás más mensajes nuestros. Responde ALTA para volver a suscribirte.",
		LangPortuguese: "Você não receberá mais mensagens nossas. Responda VOLTAR para se inscrever novamente.",
		LangFrench:     "Vous ne recevrez plus de messages de notre part. Répondez REPRENDRE pour vous réabonner.",
		LangGerman:     "Sie erhalten keine weiteren Nachrichten von uns. Antworten Sie ANMELDEN, um sich wieder anzumelden.",
		LangIndonesian: "Anda tidak akan menerima pesan lagi dari kami. Balas MULAI untuk berlangganan kembali.",
		LangArabic:     "لن تتلقى المزيد من الرسائل منا. أرسل ابدأ للاشتراك مرة أخرى.",
	},
	ReplyOptIn: {
		LangEnglish:    "Welcome back! You will receive our messages again.",
		LangSpanish:    "¡Bienvenido de nuevo! Volverás a recibir nuestros mensajes.",
		LangPortuguese: "Bem-vindo de volta! Você voltará a receber nossas mensagens.",
		LangFrench:     "Bon retour ! Vous recevrez à nouveau nos messages.",
		LangGerman:     "Willkommen zurück! Sie erhalten wieder unsere Nachrichten.",
		LangIndonesian: "Selamat datang kembali! Anda akan menerima pesan kami lagi.",
		LangArabic:     "مرحبًا بعودتك! ستتلقى رسائلنا مرة أخرى.",
	},
	ReplyHandoff: {
		LangEnglish:    "Thanks! A person from our team will answer you here shortly.",
		LangSpanish:    "¡Gracias! Una persona de nuestro equipo te responderá aquí en breve.",
		LangPortuguese: "Obrigado! Uma pessoa da nossa equipe vai responder você aqui em breve.",
		LangFrench:     "Merci ! Une personne de notre équipe va vous répondre ici très bientôt.",
		LangGerman:     "Danke! Eine Person aus unserem Team antwortet Ihnen hier in Kürze.",
		LangIndonesian: "Terima kasih! Seseorang dari tim kami akan segera membalas Anda di sini.",
		LangArabic:     "شكرًا! سيرد عليك أحد أفراد فريقنا هنا قريبًا.",
	},
}

// DefaultReply is the default text of an automatic message in lang, or "".
func DefaultReply(kind, lang string) string { return defaultReplies[kind][lang] }

// IsDefaultReply reports whether text is a default text of the kind, in
// any language: the tenant kept it rather than writing their own.
func IsDefaultReply(kind, text string) bool {
	text = strings.TrimSpace(text)
	for _, d := range defaultReplies[kind] {
		if text == d {
			return true
		}
	}
	return false
}

// AutoReplyText is what an automatic message says: the tenant's own text
// when they wrote one (or emptied it: nothing is sent), else the default in
// lang when there is one, else the tenant's text as saved.
func AutoReplyText(kind, tenantText, lang string) string {
	if !IsDefaultReply(kind, tenantText) {
		return tenantText
	}
	if d := DefaultReply(kind, lang); d != "" {
		return d
	}
	return tenantText
}

// handoffWordLang is the language of handoff keywords that belong to one
// language only; "humano" (Spanish and Portuguese) or "agent" (English and
// French) say nothing.
var handoffWordLang = langSet(map[string][]string{
	LangEnglish:    {"human", "person", "manager", "representative", "real person", "someone", "somebody"},
	LangSpanish:    {"persona", "asesor", "encargado", "alguien"},
	LangPortuguese: {"atendente", "pessoa", "alguem", "atendimento"},
	LangFrench:     {"humain", "conseiller", "quelqu un", "responsable"},
	LangGerman:     {"mensch", "mitarbeiter", "berater", "jemand"},
	LangIndonesian: {"manusia", "petugas", "orang", "admin cs"},
	LangArabic:     {"موظف", "انسان", "شخص"},
})

// HandoffLanguage is the language to acknowledge a handoff in: that of the
// handoff keyword the message contains, when it belongs to one language;
// else the one the customer's recent messages are clearly written in; else
// "" (the tenant's text as saved).
func HandoffLanguage(text string, keywords []string, recent []string) string {
	t := " " + fold(text) + " "
	for _, k := range keywords {
		k = fold(k)
		if ls := handoffWordLang[k]; len(ls) == 1 && strings.Contains(t, " "+k+" ") {
			return ls[0]
		}
	}
	return DetectLanguage(append([]string{text}, recent...)...)
}

// commonWords are frequent short words of each language, folded, for a
// cheap guess at the language of a few chat messages.
var commonWords = langSet(map[string][]string{
	LangEnglish:    {"the", "and", "you", "your", "is", "are", "what", "have", "please", "thanks", "thank", "hello", "hi", "can", "with", "for", "want", "how", "this", "much", "need", "talk", "speak", "my"},
	LangSpanish:    {"el", "los", "las", "es", "por", "con", "una", "un", "quiero", "hola", "gracias", "tienen", "cuanto", "usted", "necesito", "hablar", "esto", "mi", "buenos", "dias", "puedo", "y"},
	LangPortuguese: {"os", "nao", "voce", "obrigado", "obrigada", "ola", "quero", "com", "um", "tem", "quanto", "falar", "preciso", "isso", "meu", "bom", "dia", "posso", "e"},
	LangFrench:     {"le", "les", "et", "est", "vous", "je", "bonjour", "merci", "avec", "pour", "des", "pas", "parler", "combien", "ceci", "mon", "besoin", "oui"},
	LangGerman:     {"der", "die", "das", "und", "ist", "ich", "nicht", "mit", "fur", "ein", "eine", "hallo", "danke", "bitte", "sprechen", "wie", "viel", "mein", "brauche"},
	LangIndonesian: {"yang", "dan", "saya", "tidak", "apa", "ini", "itu", "dengan", "untuk", "terima", "kasih", "halo", "mau", "bisa", "ada", "berapa", "bicara", "selamat"},
})

// DetectLanguage guesses the language of texts from their common words
// (Arabic from its script). It answers "" unless one language clearly
// leads: at least two of its words, more than any other's.
func DetectLanguage(texts ...string) string {
	score := map[string]int{}
	for _, text := range texts {
		for _, w := range strings.Fields(fold(text)) {
			if isArabic(w) {
				score[LangArabic] += 2
			}
			for _, lang := range commonWords[w] {
				score[lang]++
			}
		}
	}
	best, second := "", 0
	for _, lang := range []string{LangEnglish, LangSpanish, LangPortuguese, LangFrench, LangGerman, LangIndonesian, LangArabic} {
		switch n := score[lang]; {
		case best == "" || n > score[best]:
			if best != "" {
				second = score[best]
			}
			best = lang
		case n > second:
			second = n
		}
	}
	if score[best] < 2 || score[best] == second {
		return ""
	}
	return best
}

func isArabic(word string) bool {
	for _, r := range word {
		if unicode.Is(unicode.Arabic, r) {
			return true
		}
	}
	return false
}

// langSet maps each folded word to its languages.
func langSet(words map[string][]string) map[string][]string {
	m := map[string][]string{}
	for lang, ws := range words {
		for _, w := range ws {
			m[fold(w)] = append(m[fold(w)], lang)
		}
	}
	return m
}
