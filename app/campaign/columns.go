package campaign

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Mapping says which columns hold the phone number and the name; the rest
// are variables for the message. GuessColumns proposes one; the tenant may
// change Phone and Name and pass it back, rebuilt with NewMapping.
type Mapping struct {
	// Phone and Name are 0-based column indexes, or -1 for none.
	Phone int
	Name  int
	// Variables are every column but the phone's, the name's included.
	Variables []Variable
}

// Variable is a column offered to the message as {{Key}}.
type Variable struct {
	Column int
	Header string
	// Key is VariableKey of the header, made unique with "_2", "_3", ….
	Key string
}

// NewMapping builds the mapping for the chosen phone and name columns
// (-1 for none), with every other column as a variable.
func NewMapping(headers []string, phone, name int) Mapping {
	m := Mapping{Phone: phone, Name: name}
	seen := map[string]int{}
	for i, h := range headers {
		if i == phone {
			continue
		}
		key := VariableKey(h)
		if key == "" {
			key = "column_" + strings.ToLower(ColumnLetter(i))
		}
		if seen[key]++; seen[key] > 1 {
			key += "_" + strconv.Itoa(seen[key])
		}
		m.Variables = append(m.Variables, Variable{Column: i, Header: h, Key: key})
	}
	return m
}

// VariableKey is a header as a template variable name: lower case, accents
// removed, every run of other characters than letters and digits made one
// "_", trimmed: "First Name" → "first_name", "Código Postal" →
// "codigo_postal", "E-mail:" → "e_mail".
func VariableKey(header string) string {
	return strings.Join(headerWords(header), "_")
}

// headerWords splits a header into lower-case words without accents.
func headerWords(header string) []string {
	s := norm.NFD.String(strings.ToLower(header))
	return strings.FieldsFunc(strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// GuessColumns proposes a mapping from the headers and the first rows. The
// phone column is the best header match (whatsapp over mobile over phone
// over a bare "number") whose sample values mostly look like phone numbers,
// else the column whose values most look like phone numbers (at least
// 80 %). The name column is the best header match whose values are mostly
// text. Phone or Name is -1 when nothing fits.
func GuessColumns(headers []string, sample [][]string) Mapping {
	phone, best := -1, 0.0
	for i, h := range headers {
		share, n := valueShare(sample, i, looksPhone)
		score := float64(phoneHeaderRank(headerWords(h)))
		if score == 0 || (n > 0 && share < 0.5) {
			score = 0
			if share >= 0.8 {
				score = share // below every header match
			}
		}
		if score > best {
			phone, best = i, score
		}
	}
	name, bestName := -1, 0
	for i, h := range headers {
		if i == phone {
			continue
		}
		rank := nameHeaderRank(headerWords(h))
		if share, n := valueShare(sample, i, hasLetter); n > 0 && share < 0.5 {
			rank = 0
		}
		if rank > bestName {
			name, bestName = i, rank
		}
	}
	return NewMapping(headers, phone, name)
}

// valueShare is the share of non-empty sample values in column i that
// pass test, and how many were non-empty.
func valueShare(sample [][]string, i int, test func(string) bool) (float64, int) {
	var n, ok int
	for _, row := range sample {
		if i >= len(row) || row[i] == "" {
			continue
		}
		n++
		if test(row[i]) {
			ok++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return float64(ok) / float64(n), n
}

// looksPhone says whether a value could be a phone number in any country:
// separators around 7 to 15 digits, or an Excel number of that size.
func looksPhone(v string) bool {
	v = strings.TrimPrefix(v, "'")
	if digits, ok, lost := excelNumber(v); ok {
		return lost || (len(digits) >= 7 && len(digits) <= 15)
	}
	_, digits, ok := phoneDigits(v)
	return ok && len(digits) >= 7 && len(digits) <= 15
}
