// Package campaign reads the lead lists tenants upload for a campaign:
// .xlsx workbooks and CSV files, the guess of which column holds the phone
// numbers and names, and the clean-up of numbers into E.164 recipients. It
// is pure: no database, no HTTP, no templates.
package campaign

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// The default limits of Read.
const (
	MaxBytes = 20 << 20
	MaxRows  = 100_000
)

// Format is the kind of file Read found, from its content.
type Format string

// The formats Read understands.
const (
	FormatXLSX Format = "xlsx"
	FormatCSV  Format = "csv"
)

// ReadOptions tune Read. The zero value reads the first sheet with the
// default limits.
type ReadOptions struct {
	// Sheet is the workbook sheet to read; "" means the first. CSV ignores it.
	Sheet string
	// MaxBytes caps the file size; 0 means MaxBytes (20 MB).
	MaxBytes int64
	// MaxRows caps the data rows (header excluded); 0 means MaxRows.
	MaxRows int
}

// Row is one data row: its number in the file (1-based, as Excel shows it)
// and its cells, trimmed, in valid UTF-8, without trailing empty cells.
type Row struct {
	Number int
	Cells  []string
}

// Cell is the row's cell in column i, or "" past its end.
func (r Row) Cell(i int) string {
	if i < 0 || i >= len(r.Cells) {
		return ""
	}
	return r.Cells[i]
}

// Sheet is a spreadsheet as read: the header and the non-empty data rows.
type Sheet struct {
	FileName string
	Format   Format
	// Sheets lists a workbook's sheet names in order; nil for CSV.
	Sheets []string
	// Name is the sheet read (a workbook's), or the file name (CSV).
	Name string
	// Delimiter and Encoding are what a CSV file was read with
	// ("utf-8", "utf-8-bom", "utf-16le", "utf-16be" or "windows-1252").
	Delimiter rune
	Encoding  string
	// HeaderRow is the row number of the column names; 0 when the file has
	// no header row and Headers are the column letters.
	HeaderRow int
	// Headers has one name per column, as wide as the widest row.
	Headers []string
	Rows    []Row
}

// Sample is the first n data rows' cells, for GuessColumns and previews.
func (s *Sheet) Sample(n int) [][]string {
	n = min(n, len(s.Rows))
	out := make([][]string, n)
	for i := range n {
		out[i] = s.Rows[i].Cells
	}
	return out
}

// Read reads a spreadsheet from r. The format comes from the content (an
// .xlsx zip, or text read as CSV), not from name, which only labels the
// result. Errors the tenant must fix are *Error values (see ErrTooLarge and
// the others); any other error is the reader's.
func Read(r io.Reader, name string, opt ReadOptions) (*Sheet, error) {
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = MaxBytes
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = MaxRows
	}
	br := bufio.NewReaderSize(&limitReader{r: r, left: opt.MaxBytes, max: opt.MaxBytes}, 64<<10)
	head, err := br.Peek(4 << 10)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	var s *Sheet
	switch sniff(head) {
	case kindZip:
		s, err = readXLSX(br, opt)
	case kindOLE:
		err = readOLE(br)
	case kindText:
		s, err = readCSV(br, opt)
	case kindEmpty:
		err = ErrEmpty
	default:
		err = ErrNotSpreadsheet
	}
	if err != nil {
		return nil, err
	}
	s.FileName = name
	if s.Format == FormatCSV {
		s.Name = name
	}
	return s, nil
}

// limitReader fails with ErrTooLarge once more than max bytes are read.
type limitReader struct {
	r         io.Reader
	left, max int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, tooLarge(l.max)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, tooLarge(l.max)
	}
	return n, err
}

// kind is what the first bytes of a file say it is.
type kind int

const (
	kindBinary kind = iota
	kindEmpty
	kindZip
	kindOLE
	kindText
)

var (
	zipMagic = []byte("PK\x03\x04")
	oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
	// binaryMagic are formats tenants upload by mistake that could pass for
	// text: PDF, PNG, JPEG, GIF, gzip, RTF and HTML (some tools' "Excel"
	// exports are HTML tables).
	binaryMagic = []string{"%PDF", "\x89PNG", "\xFF\xD8\xFF", "GIF8", "\x1F\x8B", "{\\rtf", "<!doctype html", "<html", "<?xml"}
)

// sniff classifies a file by its first bytes.
func sniff(head []byte) kind {
	switch {
	case len(bytes.TrimSpace(head)) == 0 && !bytes.ContainsRune(head, 0):
		return kindEmpty
	case bytes.HasPrefix(head, zipMagic):
		return kindZip
	case bytes.HasPrefix(head, oleMagic):
		return kindOLE
	}
	lower := bytes.ToLower(bytes.TrimSpace(head))
	for _, m := range binaryMagic {
		if bytes.HasPrefix(lower, bytes.ToLower([]byte(m))) {
			return kindBinary
		}
	}
	if looksText(head) {
		return kindText
	}
	return kindBinary
}

// looksText reports whether the start of a file reads as text in one of the
// encodings CSV files come in: under 5 % control characters once decoded.
func looksText(head []byte) bool {
	enc := detectEncoding(head)
	text := decodeHead(head, enc)
	if text == "" {
		return false
	}
	var control, total int
	if !strings.HasPrefix(enc, "utf-16") {
		control = bytes.Count(head, []byte{0}) // stripped when decoding
	}
	for _, r := range text {
		total++
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == utf8.RuneError {
			control++
		}
	}
	return control*20 <= total
}

// decodeHead decodes the start of a file as readCSV will.
func decodeHead(head []byte, enc string) string {
	fixer := &lineFixer{r: bufio.NewReader(decoder(bytes.NewReader(head), enc))}
	b, _ := io.ReadAll(fixer)
	return strings.TrimRight(string(b), "\uFFFD")
}
