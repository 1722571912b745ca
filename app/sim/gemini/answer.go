package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Marker starts every answer the stand-in writes, so that nobody mistakes it
// for the real model.
const Marker = "[simulated] "

// HandoffFunction is the function name the stand-in calls instead of
// answering when the request declares it and the customer asks for a human.
const HandoffFunction = "handoff_to_human"

// The fixed answers, for when no knowledge entry applies.
const (
	handoffReply  = Marker + "I'll get a person from the team to help you."
	handoffReason = "the customer asked to talk to a person"
	greetingReply = Marker + "Hi! How can I help you today?"
	fallbackReply = Marker + "Thanks for your message! I don't have that information at hand, so I'll check with the team and get back to you."
)

// maxQuote bounds how much of a knowledge entry an answer quotes, to keep it
// the length of a WhatsApp reply.
const maxQuote = 400

// answer is what the stand-in decided to say to the last user message.
type answer struct {
	text    string
	handoff bool
	reason  string
	// entry is the title of the knowledge entry quoted, if any.
	entry string
	// mediaNote, question and confidence fill the response schema's
	// media_note, question and confidence (see about).
	mediaNote  string
	question   string
	confidence float64
}

// The confidence the stand-in gives an answer from the knowledge (or a
// greeting or handoff), and one where it had nothing to answer with.
const (
	sureConfidence   = 0.9
	unsureConfidence = 0.2
)

// about completes the answer to question, the customer's words (the
// sample voice note's transcript for it), with what the stand-in received
// of their media: the reply says what came in, the media note describes
// it, and with no knowledge to answer from, the question (empty for media
// without words) is recorded with a low confidence.
func (a answer) about(question string, got received) answer {
	a.mediaNote, a.confidence = got.note, sureConfidence
	if a.text == fallbackReply || (a.text == greetingReply && got.what != "" && strings.TrimSpace(question) == "") {
		a.text, a.confidence, a.question = fallbackReply, unsureConfidence, strings.TrimSpace(question)
	}
	if got.what != "" {
		a.text = Marker + "I got your " + got.what + ". " + strings.TrimPrefix(a.text, Marker)
	}
	return a
}

// decide answers question (the last user message) from the knowledge
// entries found in system (the system instruction). It is deterministic.
func decide(system, question string) answer {
	switch {
	case strings.TrimSpace(question) == "":
		return answer{text: greetingReply}
	case wantsHuman(question):
		return answer{text: handoffReply, handoff: true, reason: handoffReason}
	case isGreeting(question):
		return answer{text: greetingReply}
	}
	e, ok := bestEntry(knowledgeEntries(system), question)
	if !ok {
		return answer{text: fallbackReply}
	}
	return answer{text: Marker + quote(e), entry: e.title}
}

// entry is one titled piece of business knowledge.
type entry struct {
	title string
	body  []string // non-empty lines
}

// quote renders an entry as a short reply: "Title: body" on one line when the
// body is one line, else the title and the lines below it.
func quote(e entry) string {
	body := strings.Join(e.body, "\n")
	if r := []rune(body); len(r) > maxQuote {
		body = strings.TrimSpace(string(r[:maxQuote])) + "…"
	}
	if len(e.body) == 1 {
		return e.title + ": " + body
	}
	return e.title + ":\n" + body
}

// section is a markdown heading and the lines under it up to the next one.
type section struct {
	level int
	title string
	body  []string
}

// knowledgeEntries finds the titled entries of the system instruction.
// Entries are markdown headings ("### Opening hours") with the lines below
// them. When a heading names the knowledge ("## Business knowledge", "FAQ",
// "Conhecimento", "Conocimiento"), only the entries under it count; if it has
// no sub-headings, each "Title: text" line under it is an entry.
func knowledgeEntries(system string) []entry {
	var sections []section
	for line := range strings.SplitSeq(system, "\n") {
		line = strings.TrimSpace(line)
		if level, title, ok := heading(line); ok {
			sections = append(sections, section{level: level, title: title})
			continue
		}
		if line == "" || len(sections) == 0 {
			continue
		}
		last := &sections[len(sections)-1]
		last.body = append(last.body, line)
	}

	k := -1
	for i, s := range sections {
		if isKnowledgeTitle(s.title) {
			k = i
			break
		}
	}
	if k < 0 {
		return entriesOf(sections)
	}
	var under []section
	for _, s := range sections[k+1:] {
		if s.level <= sections[k].level {
			break
		}
		under = append(under, s)
	}
	if len(under) > 0 {
		return entriesOf(under)
	}
	var es []entry
	for _, line := range sections[k].body {
		line = strings.TrimLeft(line, "-*• ")
		title, text, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(title) == "" || strings.TrimSpace(text) == "" {
			continue
		}
		es = append(es, entry{title: strings.TrimSpace(title), body: []string{strings.TrimSpace(text)}})
	}
	return es
}

// entriesOf keeps the sections that have a body.
func entriesOf(sections []section) []entry {
	var es []entry
	for _, s := range sections {
		if len(s.body) > 0 {
			es = append(es, entry{title: s.title, body: s.body})
		}
	}
	return es
}

// heading parses a markdown heading line ("## Title").
func heading(line string) (level int, title string, ok bool) {
	level = len(line) - len(strings.TrimLeft(line, "#"))
	if level == 0 || level > 6 {
		return 0, "", false
	}
	rest := line[level:]
	if rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return 0, "", false
	}
	title = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(rest), "#"))
	return level, title, title != ""
}

func isKnowledgeTitle(title string) bool {
	t := fold(title)
	for _, w := range []string{"knowledge", "faq", "conhecimento", "conocimiento", "base de datos", "informacoes", "informaciones"} {
		if strings.Contains(t, w) {
			return true
		}
	}
	return false
}

// bestEntry picks the entry sharing most content words with the question:
// a word found in the title counts 3, in the body 1. Ties go to the entry
// that comes first. No shared word, no entry.
func bestEntry(entries []entry, question string) (entry, bool) {
	q := contentWords(question)
	best, bestScore := -1, 0
	for i, e := range entries {
		title := contentWords(e.title)
		body := contentWords(strings.Join(e.body, " "))
		score := 0
		for _, w := range q {
			switch {
			case anyMatch(w, title):
				score += 3
			case anyMatch(w, body):
				score++
			}
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return entry{}, false
	}
	return entries[best], true
}

func anyMatch(w string, words []string) bool {
	for _, x := range words {
		if similar(w, x) {
			return true
		}
	}
	return false
}

// similar says whether two stemmed words are the same word, loosely: equal,
// or one starts with the other and they differ by at most three letters
// ("open"/"opening", "deliver"/"delivery").
func similar(a, b string) bool {
	if a == b {
		return true
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	return len(a) >= 4 && len(b)-len(a) <= 3 && strings.HasPrefix(b, a)
}

// contentWords returns the distinct stemmed words of s that are not stop
// words or numbers, in order.
func contentWords(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range words(s) {
		if len(w) < 2 || isStopWord(w) || isNumber(w) {
			continue
		}
		w = stem(w)
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// words splits s into lower-case words without accents.
func words(s string) []string {
	return strings.FieldsFunc(fold(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// fold lower-cases s and strips the accents of Latin letters, so that
// "Horário" and "horario" compare equal.
func fold(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch r {
		case 'á', 'à', 'â', 'ã', 'ä':
			r = 'a'
		case 'é', 'è', 'ê', 'ë':
			r = 'e'
		case 'í', 'ì', 'î', 'ï':
			r = 'i'
		case 'ó', 'ò', 'ô', 'õ', 'ö':
			r = 'o'
		case 'ú', 'ù', 'û', 'ü':
			r = 'u'
		case 'ç':
			r = 'c'
		case 'ñ':
			r = 'n'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// stem folds plurals loosely: "hours" → "hour", "deliveries" → "delivery",
// "horarios" → "horario".
func stem(w string) string {
	switch {
	case len(w) > 4 && strings.HasSuffix(w, "ies"):
		return w[:len(w)-3] + "y"
	case len(w) > 3 && strings.HasSuffix(w, "s") &&
		!strings.HasSuffix(w, "ss") && !strings.HasSuffix(w, "us") && !strings.HasSuffix(w, "is"):
		return w[:len(w)-1]
	}
	return w
}

func isNumber(w string) bool {
	for _, r := range w {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// isStopWord reports the English, Spanish and Portuguese words (accents
// folded) that say nothing about what the customer asks.
func isStopWord(w string) bool {
	switch w {
	// English
	case "a", "an", "the", "is", "are", "am", "was", "were", "be", "been", "being",
		"do", "does", "did", "have", "has", "had", "having", "i", "me", "my", "we", "our", "us",
		"you", "your", "yours", "he", "she", "it", "its", "they", "them", "their",
		"what", "which", "who", "whom", "whose", "this", "that", "these", "those",
		"at", "by", "for", "from", "in", "into", "of", "on", "to", "with", "about", "as",
		"and", "or", "but", "if", "then", "so", "than", "too", "very",
		"can", "could", "would", "should", "will", "shall", "may", "might", "must",
		"just", "not", "no", "yes", "please", "pls", "thanks", "thank", "hi", "hello", "hey",
		"there", "here", "how", "when", "where", "why", "much", "many", "any", "some",
		"tell", "know", "want", "need", "like", "get", "got", "also", "ok", "okay", "im", "dont":
		return true
	// Spanish and Portuguese
	case "el", "la", "los", "las", "un", "una", "unos", "unas", "uno", "o", "os", "um", "uma",
		"de", "del", "da", "dos", "das", "al", "y", "e", "ou", "que", "en", "em", "na", "nas", "nos",
		"es", "son", "sao", "ser", "por", "para", "con", "com", "como", "cual", "cuales", "qual", "quais",
		"cuando", "quando", "donde", "onde", "quien", "quem", "mi", "mis", "tu", "tus", "su", "sus",
		"meu", "minha", "seu", "sua", "voce", "voces", "vc", "vcs", "usted", "ustedes",
		"se", "lo", "le", "les", "te", "nosotros", "hay", "tem", "tiene", "tienen", "tienes", "ter",
		"esta", "estan", "estao", "este", "esto", "ese", "eso", "isso", "esse", "essa", "muy", "muito",
		"mas", "pero", "si", "sim", "nao", "hola", "ola", "oi", "gracias", "obrigado", "obrigada",
		"quiero", "quero", "saber", "cuanto", "cuanta", "quanto", "quanta", "porfa", "favor":
		return true
	}
	return false
}

// wantsHuman reports whether the message asks for a person instead of the
// bot, in English, Spanish or Portuguese. "Person" words count unless they
// follow "per"/"por"/"each"/"cada" ("price per person"); "someone" counts
// after "to"/"with"/"con"/"com" ("speak to someone").
func wantsHuman(message string) bool {
	ws := words(message)
	for i, w := range ws {
		prev := ""
		if i > 0 {
			prev = ws[i-1]
		}
		switch w {
		case "human", "humans", "humano", "humana", "humanos",
			"agent", "agente", "atendente", "attendant", "manager", "gerente",
			"operator", "operador", "operadora", "representative", "representante", "supervisor":
			return true
		case "person", "persona", "pessoa", "people":
			if prev != "per" && prev != "por" && prev != "each" && prev != "cada" {
				return true
			}
		case "someone", "somebody", "alguien", "alguem":
			if prev == "to" || prev == "with" || prev == "con" || prev == "com" {
				return true
			}
		}
	}
	return false
}

// isGreeting reports a message that only greets.
func isGreeting(message string) bool {
	ws := words(message)
	if len(ws) == 0 {
		return false
	}
	for _, w := range ws {
		switch w {
		case "hi", "hello", "hey", "hiya", "hola", "ola", "oi", "good", "morning", "afternoon",
			"evening", "there", "buenos", "buenas", "dias", "tardes", "noches", "bom", "boa",
			"dia", "tarde", "noite":
		default:
			return false
		}
	}
	return true
}

// tokens estimates the tokens of a text the way Google's docs suggest for
// English: about four characters each, at least one for any text.
func tokens(s string) int {
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return 0
	}
	return (n + 3) / 4
}

// contentTokens estimates the tokens of contents, including function calls
// and responses as their JSON.
func contentTokens(cs []wireContent) int {
	n := 0
	for _, c := range cs {
		for _, p := range c.Parts {
			n += tokens(p.Text)
			if p.FunctionCall != nil {
				b, _ := json.Marshal(p.FunctionCall)
				n += tokens(string(b))
			}
			if p.FunctionResponse != nil {
				b, _ := json.Marshal(p.FunctionResponse)
				n += tokens(string(b))
			}
		}
	}
	return n
}

// structuredReply writes the answer as the JSON object a responseSchema asks
// for. reply, handoff and reason are always present; media_note, question
// and confidence when the schema declares them; other properties the
// schema declares get the zero value of their type, and string properties
// named like a reply ("text", "answer", "message", "response") get the
// reply. Keys follow propertyOrdering when given, else reply, handoff,
// reason and then the rest sorted.
func structuredReply(a answer, schema json.RawMessage) (string, error) {
	var s wireSchema
	if len(schema) > 0 {
		if err := json.Unmarshal(schema, &s); err != nil {
			return "", fmt.Errorf("read response schema: %w", err)
		}
	}
	values := map[string]any{"reply": a.text, "handoff": a.handoff, "reason": a.reason}
	known := map[string]any{"media_note": a.mediaNote, "question": a.question, "confidence": a.confidence}
	order := []string{"reply", "handoff", "reason"}
	var others []string
	for name := range s.Properties {
		if _, ok := values[name]; !ok {
			others = append(others, name)
		}
	}
	sort.Strings(others)
	for _, name := range others {
		if v, ok := known[name]; ok {
			values[name] = v
			continue
		}
		values[name] = zeroValue(name, s.Properties[name], a)
	}
	order = append(order, others...)
	if len(s.PropertyOrdering) > 0 {
		order = mergeOrder(s.PropertyOrdering, order)
	}

	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range order {
		if i > 0 {
			b.WriteString(", ")
		}
		k, err := json.Marshal(name)
		if err != nil {
			return "", fmt.Errorf("encode %s: %w", name, err)
		}
		v, err := json.Marshal(values[name])
		if err != nil {
			return "", fmt.Errorf("encode %s: %w", name, err)
		}
		b.Write(k)
		b.WriteString(": ")
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String(), nil
}

// mergeOrder puts the names of first in front, then the rest of all.
func mergeOrder(first, all []string) []string {
	inAll := map[string]bool{}
	for _, n := range all {
		inAll[n] = true
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range first {
		if inAll[n] && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, n := range all {
		if !seen[n] {
			out = append(out, n)
		}
	}
	return out
}

func zeroValue(name string, s wireSchema, a answer) any {
	switch s.typeName() {
	case "string":
		switch strings.ToLower(name) {
		case "text", "answer", "message", "response":
			return a.text
		}
		return ""
	case "boolean":
		return false
	case "integer", "number":
		return 0
	case "array":
		return []any{}
	case "object":
		return map[string]any{}
	}
	return nil
}
