package campaign

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/myaibud/aibud/app/whatsapp"
)

// WhatsApp's limits on what a campaign sends.
const (
	// MaxTextLength is the longest text message, in characters.
	MaxTextLength = 4096
	// MaxVariants is how many alternative texts a campaign may have.
	MaxVariants = 5
)

// Errors of ParseTemplate, wrapped with the position (in characters,
// counting from 1) where the problem is.
var (
	ErrUnclosed  = errors.New(`"{{" is not closed by "}}"`)
	ErrUnopened  = errors.New(`"}}" has no "{{" before it`)
	ErrEmptyName = errors.New(`a variable has no column name, as in "{{}}"`)
	ErrTooLong   = errors.New("the message is longer than WhatsApp allows")
)

// Template is a parsed message text with {{column}} variables. Parse it
// once per campaign with ParseTemplate and Render it for every recipient.
type Template struct {
	parts []tplPart
	vars  []string
}

// tplPart is a piece of literal text, or a variable when key is set.
type tplPart struct {
	text     string
	key      string
	fallback string
}

// ParseTemplate parses a message text. A variable is written {{column}} or
// {{column|fallback}}, the fallback being used when the recipient's value
// is missing or blank. Spaces inside the braces are ignored. The column is
// matched by its VariableKey, so {{ First Name }}, {{first_name}} and
// {{FIRST-NAME}} all name the column "First name". A lone "{" or "}" is
// text; "{{" without "}}", "}}" without "{{", "{{" inside a variable and an
// empty column name are errors.
func ParseTemplate(s string) (*Template, error) {
	s = whatsapp.CleanText(s)
	t := &Template{}
	seen := map[string]bool{}
	pos := 0
	for pos < len(s) {
		open, shut := strings.Index(s[pos:], "{{"), strings.Index(s[pos:], "}}")
		if shut >= 0 && (open < 0 || shut < open) {
			return nil, fmt.Errorf("character %d: %w", tplCharPos(s, pos+shut), ErrUnopened)
		}
		if open < 0 {
			t.parts = append(t.parts, tplPart{text: s[pos:]})
			break
		}
		start := pos + open
		if open > 0 {
			t.parts = append(t.parts, tplPart{text: s[pos:start]})
		}
		end := strings.Index(s[start+2:], "}}")
		if end < 0 || strings.Contains(s[start+2:start+2+end], "{{") {
			return nil, fmt.Errorf("character %d: %w", tplCharPos(s, start), ErrUnclosed)
		}
		p, err := parseVariable(s[start+2 : start+2+end])
		if err != nil {
			return nil, fmt.Errorf("character %d: %w", tplCharPos(s, start), err)
		}
		t.parts = append(t.parts, p)
		if !seen[p.key] {
			seen[p.key] = true
			t.vars = append(t.vars, p.key)
		}
		pos = start + 2 + end + 2
	}
	return t, nil
}

// parseVariable reads what is between "{{" and "}}".
func parseVariable(inner string) (tplPart, error) {
	name, fallback, _ := strings.Cut(inner, "|")
	key := VariableKey(name)
	if key == "" {
		return tplPart{}, ErrEmptyName
	}
	return tplPart{key: key, fallback: strings.TrimSpace(fallback)}, nil
}

// tplCharPos turns a byte offset into a character position counted from 1.
func tplCharPos(s string, offset int) int { return utf8.RuneCountInString(s[:offset]) + 1 }

// Variable names are matched by VariableKey (columns.go), the key the
// import gives each column: "{{Teléfono móvil}}" is the column
// "telefono_movil".

// Vars lists the column keys the template uses, in order of first use and
// without repeats, so the UI can warn about columns the file lacks.
func (t *Template) Vars() []string { return append([]string(nil), t.vars...) }

// Missing lists the variables the template uses that are none of
// columns (column names as in the file, matched by VariableKey), in order
// of first use: the UI warns that they will render as their fallback.
func (t *Template) Missing(columns []string) []string {
	have := make(map[string]bool, len(columns))
	for _, c := range columns {
		have[VariableKey(c)] = true
	}
	var out []string
	for _, v := range t.vars {
		if !have[v] {
			out = append(out, v)
		}
	}
	return out
}

// Render fills in the variables from vars (keyed by VariableKey). A value
// is trimmed; a missing or blank one gives the fallback, or nothing. Where
// nothing is left, the spaces and punctuation it strands are tidied: "Hi
// {{name}}, welcome" without a name reads "Hi, welcome". Values are plain
// text: never HTML-escaped (WhatsApp shows text as it is) and never parsed
// again, so a value holding "{{x}}" stays literally "{{x}}".
func (t *Template) Render(vars map[string]string) string {
	var b strings.Builder
	gaps := false
	for _, p := range t.parts {
		if p.key == "" {
			b.WriteString(p.text)
			continue
		}
		v := strings.TrimSpace(whatsapp.CleanText(vars[p.key]))
		if v == "" {
			v = p.fallback
		}
		if v == "" {
			b.WriteByte(gapMark)
			gaps = true
		}
		b.WriteString(v)
	}
	if !gaps {
		return b.String()
	}
	return tidyGaps(b.String())
}

// RenderRow is Render with WhatsApp's length limit checked; the error
// names the file's row so the tenant can fix it.
func (t *Template) RenderRow(row int, vars map[string]string) (string, error) {
	s := t.Render(vars)
	if n := utf8.RuneCountInString(s); n > MaxTextLength {
		return "", fmt.Errorf("row %d: the message has %d characters, WhatsApp allows %d: %w", row, n, MaxTextLength, ErrTooLong)
	}
	return s, nil
}

// Preview is the message a recipient with these values will receive.
func Preview(t *Template, vars map[string]string) string { return t.Render(vars) }

// ParseVariants parses a campaign's texts: at least one, at most
// MaxVariants. An error names the variant (counting from 1).
func ParseVariants(texts []string) ([]*Template, error) {
	if len(texts) == 0 {
		return nil, errors.New("the message is empty")
	}
	if len(texts) > MaxVariants {
		return nil, fmt.Errorf("%d variants, at most %d are allowed", len(texts), MaxVariants)
	}
	out := make([]*Template, 0, len(texts))
	for i, s := range texts {
		if strings.TrimSpace(s) == "" {
			return nil, fmt.Errorf("variant %d is empty", i+1)
		}
		t, err := ParseTemplate(s)
		if err != nil {
			return nil, fmt.Errorf("variant %d: %w", i+1, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// PickVariant picks which of n variants a recipient gets, from a key such
// as the phone number: always the same for the same recipient (a retry
// sends the same text), and spread evenly over many recipients.
func PickVariant(recipientKey string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(recipientKey))
	x := h.Sum64()
	// splitmix64's finaliser, so that keys differing in the last digit
	// still land far apart.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return int(x % uint64(n))
}

// gapMark marks where a variable rendered empty. CleanText drops NULs from
// the template and the values, so it cannot be confused with them.
const gapMark = 0

// tidyGaps removes the gap marks, with the spaces and punctuation that an
// empty variable leaves stranded around them: "Hi , welcome" → "Hi,
// welcome", "Hello, !" → "Hello!", ", welcome" at a line start →
// "welcome", "Hello, " at a line end → "Hello", "()" → nothing. Text away from a gap is left as written.
func tidyGaps(s string) string {
	for {
		i := strings.IndexByte(s, gapMark)
		if i < 0 {
			return s
		}
		lo, hi := widenGap(s, i, i+1)
		for lo > 0 && hi < len(s) && s[lo-1] == '(' && s[hi] == ')' {
			lo, hi = widenGap(s, lo-1, hi+1)
		}
		hadSpace := strings.ContainsAny(s[lo:hi], " \t")
		lineStart, lineEnd := lo == 0 || s[lo-1] == '\n', hi == len(s) || s[hi] == '\n'
		repl := ""
		switch {
		case !lineEnd && strings.IndexByte(",.;:!?)", s[hi]) >= 0:
			if lineStart && strings.IndexByte(",;:", s[hi]) >= 0 {
				_, hi = widenGap(s, hi+1, hi+1)
			} else if !lineStart && strings.IndexByte(",;:", s[lo-1]) >= 0 {
				lo, _ = widenGap(s, lo-1, lo-1)
			}
		case lineEnd && !lineStart && strings.IndexByte(",;:", s[lo-1]) >= 0:
			lo, _ = widenGap(s, lo-1, lo-1)
		case lineStart || lineEnd || s[lo-1] == '(':
		case hadSpace:
			repl = " "
		}
		s = s[:lo] + repl + s[hi:]
	}
}

// widenGap extends s[lo:hi] over the spaces, tabs and gap marks on both
// sides.
func widenGap(s string, lo, hi int) (int, int) {
	blank := func(c byte) bool { return c == ' ' || c == '\t' || c == gapMark }
	for lo > 0 && blank(s[lo-1]) {
		lo--
	}
	for hi < len(s) && blank(s[hi]) {
		hi++
	}
	return lo, hi
}

// WhatsApp's limits on a poll.
const (
	MaxPollQuestion = 255
	MinPollOptions  = 2
	MaxPollOptions  = 12
	MaxPollOption   = 100
)

// Poll is a poll message: a question and its options, with one answer or
// several allowed.
type Poll struct {
	Question string
	Options  []string
	// Multiple allows a voter to pick several options.
	Multiple bool
}

// Validate returns every way the poll breaks WhatsApp's limits, joined:
// a question of 1 to 255 characters, 2 to 12 options of 1 to 100
// characters each, no two the same (ignoring case and surrounding spaces,
// since votes come back as the option's text).
func (p Poll) Validate() error {
	var errs []error
	switch q := strings.TrimSpace(p.Question); {
	case q == "":
		errs = append(errs, errors.New("the poll has no question"))
	case utf8.RuneCountInString(q) > MaxPollQuestion:
		errs = append(errs, fmt.Errorf("the question has %d characters, WhatsApp allows %d", utf8.RuneCountInString(q), MaxPollQuestion))
	}
	if n := len(p.Options); n < MinPollOptions || n > MaxPollOptions {
		errs = append(errs, fmt.Errorf("the poll has %d options, WhatsApp needs %d to %d", n, MinPollOptions, MaxPollOptions))
	}
	seen := map[string]int{}
	for i, o := range p.Options {
		o = strings.TrimSpace(o)
		switch n := utf8.RuneCountInString(o); {
		case n == 0:
			errs = append(errs, fmt.Errorf("option %d is empty", i+1))
		case n > MaxPollOption:
			errs = append(errs, fmt.Errorf("option %d has %d characters, WhatsApp allows %d", i+1, n, MaxPollOption))
		case seen[strings.ToLower(o)] > 0:
			errs = append(errs, fmt.Errorf("option %d repeats option %d", i+1, seen[strings.ToLower(o)]))
		default:
			seen[strings.ToLower(o)] = i + 1
		}
	}
	return errors.Join(errs...)
}

// Span is a run of text with the formatting WhatsApp shows it in.
type Span struct {
	Text   string
	Bold   bool
	Italic bool
	Strike bool
	Mono   bool
}

// FormatPreview splits a message into the spans WhatsApp displays, so a
// view can show it as the recipient will: *bold*, _italic_, ~strike~ and
// ```monospace```, nestable except inside monospace. As in WhatsApp, a
// marker opens only at the start or after a non-alphanumeric character and
// before a non-space, closes only after a non-space and before a
// non-alphanumeric character or the end, and (except ```) on the same
// line; "2*3*4", "snake_case" and "* not bold *" stay as typed. The markers
// themselves are not in the spans.
func FormatPreview(text string) []Span {
	var out []Span
	formatRunes(&out, []rune(text), Span{})
	return out
}

// formatRunes appends the spans of rs, in style st, to out.
func formatRunes(out *[]Span, rs []rune, st Span) {
	var plain []rune
	flush := func() {
		addSpan(out, st, string(plain))
		plain = plain[:0]
	}
	for i := 0; i < len(rs); {
		if j := monoEnd(rs, i); j > 0 && !st.Mono {
			flush()
			mono := st
			mono.Mono = true
			addSpan(out, mono, string(rs[i+3:j]))
			i = j + 3
			continue
		}
		if j := markerEnd(rs, i); j > 0 && !st.Mono && !styled(st, rs[i]) {
			flush()
			formatRunes(out, rs[i+1:j], withStyle(st, rs[i]))
			i = j + 1
			continue
		}
		plain = append(plain, rs[i])
		i++
	}
	flush()
}

// monoEnd is where the ``` closing a monospace block opened at i starts,
// or -1.
func monoEnd(rs []rune, i int) int {
	if !hasTicks(rs, i) {
		return -1
	}
	for j := i + 4; j+3 <= len(rs); j++ {
		if hasTicks(rs, j) {
			return j
		}
	}
	return -1
}

func hasTicks(rs []rune, i int) bool {
	return i+3 <= len(rs) && rs[i] == '`' && rs[i+1] == '`' && rs[i+2] == '`'
}

// markerEnd is the index of the marker closing the one at i (*, _ or ~),
// or -1 when the one at i does not open formatting.
func markerEnd(rs []rune, i int) int {
	c := rs[i]
	if c != '*' && c != '_' && c != '~' {
		return -1
	}
	if (i > 0 && wordRune(rs[i-1])) || i+1 >= len(rs) || unicode.IsSpace(rs[i+1]) || rs[i+1] == c {
		return -1
	}
	for j := i + 2; j < len(rs) && rs[j] != '\n'; j++ {
		if rs[j] == c && !unicode.IsSpace(rs[j-1]) && (j+1 == len(rs) || !wordRune(rs[j+1])) {
			return j
		}
	}
	return -1
}

func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func styled(st Span, marker rune) bool {
	return marker == '*' && st.Bold || marker == '_' && st.Italic || marker == '~' && st.Strike
}

func withStyle(st Span, marker rune) Span {
	switch marker {
	case '*':
		st.Bold = true
	case '_':
		st.Italic = true
	case '~':
		st.Strike = true
	}
	return st
}

// addSpan appends text in style st, merging it into the last span when the
// style is the same.
func addSpan(out *[]Span, st Span, text string) {
	if text == "" {
		return
	}
	st.Text = ""
	if n := len(*out); n > 0 {
		last := (*out)[n-1]
		last.Text = ""
		if last == st {
			(*out)[n-1].Text += text
			return
		}
	}
	st.Text = text
	*out = append(*out, st)
}
