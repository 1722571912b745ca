package campaign

import (
	"strings"
	"unicode"
)

// headerWindow is how many non-empty rows at the top may hold titles
// before the header row.
const headerWindow = 20

// collector gathers the non-empty rows of a sheet as they stream in.
type collector struct {
	rows    []Row
	maxRows int
}

func newCollector(maxRows int) *collector {
	return &collector{maxRows: maxRows}
}

// add keeps a row under its file row number, cleaned, unless it is empty.
// It fails once there are more rows than the limit allows, counting the
// title and header rows the top of the sheet may hold.
func (c *collector) add(number int, cells []string) error {
	row := cleanCells(cells)
	if len(row) == 0 {
		return nil
	}
	if len(c.rows) >= c.maxRows+headerWindow {
		return tooManyRows(c.maxRows)
	}
	c.rows = append(c.rows, Row{Number: number, Cells: row})
	return nil
}

// sheet finds the header row and returns the rows under it.
func (c *collector) sheet() (*Sheet, error) {
	h := headerIndex(c.rows)
	s := &Sheet{}
	data := c.rows
	if h >= 0 {
		s.HeaderRow = c.rows[h].Number
		s.Headers = c.rows[h].Cells
		data = c.rows[h+1:]
	}
	if len(data) == 0 {
		return nil, ErrEmpty
	}
	if len(data) > c.maxRows {
		return nil, tooManyRows(c.maxRows)
	}
	s.Rows = data
	s.Headers = fillHeaders(s.Headers, data)
	return s, nil
}

// cleanCells trims each cell, drops what must never reach the result (NUL
// bytes, invalid UTF-8) and the trailing empty cells. The slice is new:
// readers reuse theirs.
func cleanCells(cells []string) []string {
	n := len(cells)
	for n > 0 && strings.TrimSpace(cells[n-1]) == "" {
		n--
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i, v := range cells[:n] {
		if strings.IndexByte(v, 0) >= 0 {
			v = strings.ReplaceAll(v, "\x00", "")
		}
		out[i] = strings.TrimSpace(strings.ToValidUTF8(v, ""))
	}
	return out
}

// headerIndex picks the header among the first non-empty rows: the first
// row whose cells are mostly text (not numbers or phone numbers) and at
// least half as many as the next row's, so that a title above the table is
// skipped, unless a wider row of names follows. It returns -1 when no row looks like a header.
func headerIndex(rows []Row) int {
	for i := 0; i < len(rows) && i < headerWindow; i++ {
		if !looksHeader(rows[i].Cells, next(rows, i)) {
			continue
		}
		// A short title above a wider row of names ("Leads", "Madrid" over
		// "Name", "Phone", "City") is not the header.
		below := next(rows, i)
		if nonEmpty(below) > nonEmpty(rows[i].Cells) && looksHeader(below, next(rows, i+1)) {
			continue
		}
		return i
	}
	return -1
}

// next is the cells of the row after i, or nil.
func next(rows []Row, i int) []string {
	if i+1 < len(rows) {
		return rows[i+1].Cells
	}
	return nil
}

// looksHeader decides whether cells are column names for the row below.
func looksHeader(cells, below []string) bool {
	filled, text := 0, 0
	for _, v := range cells {
		if v == "" {
			continue
		}
		filled++
		if hasLetter(v) {
			text++
		}
	}
	if text*5 < filled*4 {
		return false
	}
	return filled*2 >= nonEmpty(below) && (filled > 1 || nonEmpty(below) <= 1)
}

func nonEmpty(cells []string) int {
	n := 0
	for _, v := range cells {
		if v != "" {
			n++
		}
	}
	return n
}

func hasLetter(s string) bool {
	return strings.IndexFunc(s, unicode.IsLetter) >= 0
}

// fillHeaders widens the header to the widest row and names the columns
// without a name by their letter ("Column C").
func fillHeaders(headers []string, rows []Row) []string {
	width := len(headers)
	for _, r := range rows {
		width = max(width, len(r.Cells))
	}
	out := make([]string, width)
	copy(out, headers)
	for i := range out {
		if out[i] == "" {
			out[i] = "Column " + ColumnLetter(i)
		}
	}
	return out
}

// ColumnLetter is the spreadsheet letter of the 0-based column i: A, B, …,
// Z, AA.
func ColumnLetter(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}
