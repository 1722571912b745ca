package campaign

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// readCSV streams a CSV file into a Sheet: it detects the encoding and the
// delimiter from the start of the file, then reads record by record.
func readCSV(br *bufio.Reader, opt ReadOptions) (*Sheet, error) {
	head, _ := br.Peek(4 << 10)
	enc := detectEncoding(head)
	fixer := &lineFixer{r: bufio.NewReaderSize(decoder(br, enc), 64<<10)}
	text := bufio.NewReaderSize(fixer, 64<<10)
	start, _ := text.Peek(32 << 10)
	delim := detectDelimiter(start)
	cr := csv.NewReader(text)
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	c := newCollector(opt.MaxRows)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		if err != nil {
			return nil, ErrUnreadable
		}
		line, _ := cr.FieldPos(0)
		if err := c.add(line, rec); err != nil {
			return nil, err
		}
	}
	s, err := c.sheet()
	if err != nil {
		return nil, err
	}
	s.Format, s.Delimiter, s.Encoding = FormatCSV, delim, enc
	if fixer.converted && enc == "utf-8" {
		s.Encoding = "windows-1252"
	}
	return s, nil
}

// detectEncoding names the encoding of a CSV file from its first bytes: a
// byte-order mark, else NUL bytes in every other position (UTF-16 without
// a mark), else "utf-8" (lines that are not valid UTF-8 are then read as
// Windows-1252, see lineFixer).
func detectEncoding(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		return "utf-8-bom"
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		return "utf-16le"
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return "utf-16be"
	}
	var even, odd int
	n := len(head) &^ 1
	for i := 0; i < n; i += 2 {
		if head[i] == 0 {
			even++
		}
		if head[i+1] == 0 {
			odd++
		}
	}
	switch {
	case n >= 4 && odd*10 >= n*4 && even*10 < n/2:
		return "utf-16le"
	case n >= 4 && even*10 >= n*4 && odd*10 < n/2:
		return "utf-16be"
	}
	return "utf-8"
}

// decoder turns the file into UTF-8 for the encoding detectEncoding named;
// marks are dropped.
func decoder(r io.Reader, enc string) io.Reader {
	switch enc {
	case "utf-8-bom":
		return transform.NewReader(r, unicode.UTF8BOM.NewDecoder())
	case "utf-16le":
		return transform.NewReader(r, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewDecoder())
	case "utf-16be":
		return transform.NewReader(r, unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewDecoder())
	}
	return r
}

// lineFixer passes text through line by line, dropping NUL bytes and
// reading a line that is not valid UTF-8 as Windows-1252, so that no
// invalid UTF-8 reaches the cells.
type lineFixer struct {
	r         *bufio.Reader
	buf       []byte
	err       error
	converted bool
}

func (l *lineFixer) Read(p []byte) (int, error) {
	for len(l.buf) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		var line []byte
		line, l.err = l.r.ReadBytes('\n')
		l.buf = l.fix(line)
	}
	n := copy(p, l.buf)
	l.buf = l.buf[n:]
	return n, nil
}

// fix cleans one line.
func (l *lineFixer) fix(line []byte) []byte {
	if bytes.IndexByte(line, 0) >= 0 {
		line = bytes.ReplaceAll(line, []byte{0}, nil)
	}
	if utf8.Valid(line) {
		return line
	}
	l.converted = true
	out, err := charmap.Windows1252.NewDecoder().Bytes(line)
	if err != nil {
		return bytes.ToValidUTF8(line, nil)
	}
	return out
}

// delimiters are the separators detectDelimiter chooses among, in the
// order that wins a tie.
var delimiters = []rune{',', ';', '\t', '|'}

// detectDelimiter picks the separator of a CSV file from its first lines:
// the one found the same number of times (outside quotes) on the most
// lines, then the one found most often. Files with one column get ','.
func detectDelimiter(text []byte) rune {
	lines := splitLines(text, 20)
	best, bestLines, bestCount := ',', 0, 0
	for _, d := range delimiters {
		counts := map[int]int{}
		for _, ln := range lines {
			if n := countOutsideQuotes(ln, byte(d)); n > 0 {
				counts[n]++
			}
		}
		for n, k := range counts {
			if k > bestLines || (k == bestLines && n > bestCount) {
				best, bestLines, bestCount = d, k, n
			}
		}
	}
	return best
}

// splitLines splits the start of a file into up to max non-empty lines,
// keeping quoted line breaks inside their line; the last, possibly cut,
// line is left out unless it is the only one.
func splitLines(text []byte, max int) [][]byte {
	var lines [][]byte
	inQuote, start := false, 0
	for i, b := range text {
		switch {
		case b == '"':
			inQuote = !inQuote
		case b == '\n' && !inQuote:
			if ln := bytes.TrimSpace(text[start:i]); len(ln) > 0 {
				lines = append(lines, ln)
			}
			start = i + 1
		}
		if len(lines) == max {
			return lines
		}
	}
	if len(lines) == 0 {
		lines = append(lines, bytes.TrimSpace(text[start:]))
	}
	return lines
}

// countOutsideQuotes counts d in line outside double quotes.
func countOutsideQuotes(line []byte, d byte) int {
	n, inQuote := 0, false
	for _, b := range line {
		switch {
		case b == '"':
			inQuote = !inQuote
		case b == d && !inQuote:
			n++
		}
	}
	return n
}
