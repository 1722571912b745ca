package campaign

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
)

// Recipient is a row that will receive the campaign.
type Recipient struct {
	Row   int    // the row number in the file
	Phone string // E.164
	Name  string
	// Variables holds every variable column's value by Variable.Key.
	Variables map[string]string
}

// DropKind is why a row was dropped, for counting.
type DropKind string

// The kinds of dropped rows.
const (
	DropEmpty     DropKind = "empty"
	DropInvalid   DropKind = "invalid"
	DropDuplicate DropKind = "duplicate"
	DropOptedOut  DropKind = "opted_out"
)

// Dropped is a row left out, with the reason in the tenant's words.
type Dropped struct {
	Row   int
	Value string // the phone cell as in the file
	Phone string // E.164, when the number was read
	Name  string
	Kind  DropKind
	// DuplicateOf is the row this one repeats, for DropDuplicate.
	DuplicateOf int
	Reason      string
}

// Report is the clean-up of a sheet: who receives the campaign and which
// rows were dropped and why, both in file order.
type Report struct {
	Recipients []Recipient
	Dropped    []Dropped
}

// Clean turns the sheet's rows into recipients: the phone cell read as
// E.164 with defaultCountry (see Phone), keeping the first row of each
// number, and dropping rows without a number, with an invalid one, with a
// number already seen (after normalisation, so "+34 600 11 22 33",
// "0034600112233" and "600112233" are one) and those optedOut reports (nil
// means none). It fails with ErrNoPhoneColumn when m has no phone column.
func Clean(s *Sheet, m Mapping, defaultCountry string, optedOut func(e164 string) bool) (Report, error) {
	if m.Phone < 0 || m.Phone >= len(s.Headers) {
		return Report{}, ErrNoPhoneColumn
	}
	var r Report
	seen := make(map[string]int, len(s.Rows))
	for _, row := range s.Rows {
		raw := row.Cell(m.Phone)
		e164, reason := Phone(raw, defaultCountry)
		d := Dropped{Row: row.Number, Value: raw, Phone: e164, Name: row.Cell(m.Name), Reason: reason}
		switch first, dup := seen[e164]; {
		case e164 == "" && reason == ReasonEmpty:
			d.Kind = DropEmpty
		case e164 == "":
			d.Kind = DropInvalid
		case dup:
			d.Kind, d.DuplicateOf, d.Reason = DropDuplicate, first, fmt.Sprintf("same number as row %d", first)
		case optedOut != nil && optedOut(e164):
			seen[e164] = row.Number
			d.Kind, d.Reason = DropOptedOut, "opted out of messages"
		default:
			seen[e164] = row.Number
			r.Recipients = append(r.Recipients, recipient(row, m, e164))
			continue
		}
		r.Dropped = append(r.Dropped, d)
	}
	return r, nil
}

// recipient builds the recipient of a row.
func recipient(row Row, m Mapping, e164 string) Recipient {
	vars := make(map[string]string, len(m.Variables))
	for _, v := range m.Variables {
		vars[v.Key] = row.Cell(v.Column)
	}
	return Recipient{Row: row.Number, Phone: e164, Name: row.Cell(m.Name), Variables: vars}
}

// Counts is how many rows each kind of drop took.
func (r Report) Counts() map[DropKind]int {
	c := map[DropKind]int{}
	for _, d := range r.Dropped {
		c[d.Kind]++
	}
	return c
}

// WriteReportCSV writes the downloadable clean-up report: one line per row
// in file order with the row number, the phone cell as in the file, the
// WhatsApp number read, the name, "sent to" or "dropped" and the reason. It
// starts with a UTF-8 byte-order mark so that Excel shows accents, and
// neutralises cells Excel would run as formulas.
func (r Report) WriteReportCSV(w io.Writer) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"Row", "Phone in file", "WhatsApp number", "Name", "Result", "Reason"})
	i, j := 0, 0
	for i < len(r.Recipients) || j < len(r.Dropped) {
		var rec []string
		if j == len(r.Dropped) || (i < len(r.Recipients) && r.Recipients[i].Row < r.Dropped[j].Row) {
			p := r.Recipients[i]
			rec = []string{strconv.Itoa(p.Row), "", p.Phone, p.Name, "kept", ""}
			i++
		} else {
			d := r.Dropped[j]
			rec = []string{strconv.Itoa(d.Row), d.Value, d.Phone, d.Name, "dropped", d.Reason}
			j++
		}
		for k := range rec {
			rec[k] = safeCell(rec[k])
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// safeCell keeps Excel from running a cell as a formula (CSV injection):
// a cell starting with = @ tab or CR, or with + or - not followed by a
// phone number, gets a leading apostrophe.
func safeCell(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '@', '\t', '\r':
		return "'" + v
	case '+', '-':
		if _, _, ok := phoneDigits(v); !ok {
			return "'" + v
		}
	}
	return v
}

// CSVWriter writes a download meant for Excel, like the clean-up report:
// a UTF-8 byte-order mark first, then records with every cell neutralised
// (safeCell).
type CSVWriter struct {
	cw  *csv.Writer
	err error
}

// NewCSVWriter starts a download on w.
func NewCSVWriter(w io.Writer) *CSVWriter {
	_, err := io.WriteString(w, "\uFEFF")
	return &CSVWriter{cw: csv.NewWriter(w), err: err}
}

// Write writes one record; the first error is kept for Close.
func (w *CSVWriter) Write(rec []string) {
	if w.err != nil {
		return
	}
	safe := make([]string, len(rec))
	for i, v := range rec {
		safe[i] = safeCell(v)
	}
	w.err = w.cw.Write(safe)
}

// Close flushes the records and returns the first error.
func (w *CSVWriter) Close() error {
	w.cw.Flush()
	if w.err == nil {
		w.err = w.cw.Error()
	}
	if w.err != nil {
		return fmt.Errorf("write csv: %w", w.err)
	}
	return nil
}
