package campaign_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/myaibud/aibud/app/campaign"
)

// leads is a small list in UTF-8 with an accent and a quoted delimiter.
var leads = [][]string{
	{"Nombre", "Teléfono", "Ciudad"},
	{"Ana Jiménez", "+34 600 11 22 33", "Madrid"},
	{"Luis, hijo", "600112244", "A Coruña"},
}

// leadRows are leads' data rows as Read returns them.
var leadRows = []campaign.Row{
	{Number: 2, Cells: []string{"Ana Jiménez", "+34 600 11 22 33", "Madrid"}},
	{Number: 3, Cells: []string{"Luis, hijo", "600112244", "A Coruña"}},
}

func TestReadCSV(t *testing.T) {
	comma := mustCSV(t, ',', leads)
	tests := []struct {
		name     string
		data     []byte
		delim    rune
		encoding string
	}{
		{"comma", comma, ',', "utf-8"},
		{"semicolon", mustCSV(t, ';', leads), ';', "utf-8"},
		{"tab", mustCSV(t, '\t', leads), '\t', "utf-8"},
		{"pipe", mustCSV(t, '|', leads), '|', "utf-8"},
		{"utf-8 with bom", encode(t, "utf-8-bom", mustCSV(t, ';', leads)), ';', "utf-8-bom"},
		{"utf-16le with bom", encode(t, "utf-16le", mustCSV(t, '\t', leads)), '\t', "utf-16le"},
		{"utf-16le without bom", encode(t, "utf-16le-nobom", comma), ',', "utf-16le"},
		{"utf-16be with bom", encode(t, "utf-16be", comma), ',', "utf-16be"},
		{"windows-1252", encode(t, "windows-1252", mustCSV(t, ';', leads)), ';', "windows-1252"},
		{"crlf", bytes.ReplaceAll(comma, []byte("\n"), []byte("\r\n")), ',', "utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := campaign.Read(bytes.NewReader(tt.data), "leads.csv", campaign.ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Format != campaign.FormatCSV || s.Delimiter != tt.delim || s.Encoding != tt.encoding || s.HeaderRow != 1 {
				t.Errorf("format %s delimiter %q encoding %s header row %d", s.Format, s.Delimiter, s.Encoding, s.HeaderRow)
			}
			if diff := cmp.Diff(leads[0], s.Headers); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(leadRows, s.Rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadLayout(t *testing.T) {
	titled := [][]any{{"Leads — November"}, nil, {"Name", "Phone", "Note"}, {"Ana", "+34600112233", "<script>alert(1)</script>"}, nil, nil, {"Luis", 34600112244, "=1+1"}, {"", "", ""}}
	tests := []struct {
		name      string
		data      []byte
		opt       campaign.ReadOptions
		headerRow int
		headers   []string
		rows      []campaign.Row
	}{
		{
			"xlsx title, empty rows, html kept", mustXLSX(t, map[string][][]any{"Leads": titled}, "Leads"), campaign.ReadOptions{}, 3,
			[]string{"Name", "Phone", "Note"},
			[]campaign.Row{{Number: 4, Cells: []string{"Ana", "+34600112233", "<script>alert(1)</script>"}}, {Number: 7, Cells: []string{"Luis", "34600112244", "=1+1"}}},
		},
		{
			"csv title, empty rows",
			[]byte("My leads;;\n\n;;\nName;Phone;Note\nAna;+34600112233;<b>vip</b>\n\n Luis ; 600112244 \n"), campaign.ReadOptions{}, 4,
			[]string{"Name", "Phone", "Note"},
			[]campaign.Row{{Number: 5, Cells: []string{"Ana", "+34600112233", "<b>vip</b>"}}, {Number: 7, Cells: []string{"Luis", "600112244"}}},
		},
		{
			"xlsx numbers stored as numbers, raw", mustXLSX(t, map[string][][]any{"S": {{"Name", "WhatsApp"}, {"Ana", 5511998765432.0}, {"Luis", 34600112233}, {"Eva", 1.5}}}, "S"), campaign.ReadOptions{}, 1,
			[]string{"Name", "WhatsApp"},
			[]campaign.Row{{Number: 2, Cells: []string{"Ana", "5511998765432"}}, {Number: 3, Cells: []string{"Luis", "34600112233"}}, {Number: 4, Cells: []string{"Eva", "1.5"}}},
		},
		{
			"xlsx second sheet by name", mustXLSX(t, map[string][][]any{"A": {{"x"}, {"y"}}, "Madrid": {{"Phone"}, {"600112233"}}}, "A", "Madrid"), campaign.ReadOptions{Sheet: "Madrid"}, 1,
			[]string{"Phone"}, []campaign.Row{{Number: 2, Cells: []string{"600112233"}}},
		},
		{
			"xlsx by another producer", handmadeXLSX(t), campaign.ReadOptions{}, 1,
			[]string{"Nombre", "Móvil"},
			[]campaign.Row{{Number: 2, Cells: []string{"Ana Jiménez", "34600112233"}}, {Number: 4, Cells: []string{"Luis", "5.5119987654321E+12"}}},
		},
		{
			"two-cell title over a wider header", []byte("Leads,Madrid\nName,Phone,City\nAna,600112233,Madrid\n"), campaign.ReadOptions{}, 2,
			[]string{"Name", "Phone", "City"}, []campaign.Row{{Number: 3, Cells: []string{"Ana", "600112233", "Madrid"}}},
		},
		{
			"one-column list with a header", []byte("WhatsApp\n+34600112233\n"), campaign.ReadOptions{}, 1,
			[]string{"WhatsApp"}, []campaign.Row{{Number: 2, Cells: []string{"+34600112233"}}},
		},
		{
			"no header row", []byte("+34600112233\n600112244\n"), campaign.ReadOptions{}, 0,
			[]string{"Column A"}, []campaign.Row{{Number: 1, Cells: []string{"+34600112233"}}, {Number: 2, Cells: []string{"600112244"}}},
		},
		{
			"rows wider than the header, NUL bytes", []byte("Phone,Name\n600112233,Ana,extra\x00\n"), campaign.ReadOptions{}, 1,
			[]string{"Phone", "Name", "Column C"}, []campaign.Row{{Number: 2, Cells: []string{"600112233", "Ana", "extra"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := campaign.Read(bytes.NewReader(tt.data), "leads", tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if s.HeaderRow != tt.headerRow {
				t.Errorf("header row %d, want %d", s.HeaderRow, tt.headerRow)
			}
			if diff := cmp.Diff(tt.headers, s.Headers); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.rows, s.Rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadSheets(t *testing.T) {
	data := mustXLSX(t, map[string][][]any{"Ene": {{"Phone"}, {"1"}}, "Feb": {{"Phone"}, {"2"}}}, "Ene", "Feb")
	s, err := campaign.Read(bytes.NewReader(data), "leads.xlsx", campaign.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Ene", "Feb"}, s.Sheets); diff != "" || s.Name != "Ene" || s.Format != campaign.FormatXLSX {
		t.Errorf("sheets %v, read %q as %s", s.Sheets, s.Name, s.Format)
	}
	// An empty first sheet gives way to the first with data, unless the
	// tenant chose it.
	data = mustXLSX(t, map[string][][]any{"Cover": nil, "Blank": {nil, {""}}, "Data": {{"Phone"}, {"600112233"}}}, "Cover", "Blank", "Data")
	s, err = campaign.Read(bytes.NewReader(data), "leads.xlsx", campaign.ReadOptions{})
	if err != nil || s.Name != "Data" || len(s.Rows) != 1 {
		t.Errorf("read %+v, %v; want the sheet Data", s, err)
	}
	_, err = campaign.Read(bytes.NewReader(data), "leads.xlsx", campaign.ReadOptions{Sheet: "Cover"})
	if !errors.Is(err, campaign.ErrEmpty) {
		t.Errorf("err %v, want ErrEmpty", err)
	}
	_, err = campaign.Read(bytes.NewReader(data), "leads.xlsx", campaign.ReadOptions{Sheet: "Nope"})
	if want := `The workbook has no sheet named "Nope". Its sheets are: Cover, Blank, Data.`; err == nil || err.Error() != want {
		t.Errorf("err %v, want %q", err, want)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name string
		data io.Reader
		opt  campaign.ReadOptions
		want error
	}{
		{"empty file", strings.NewReader(""), campaign.ReadOptions{}, campaign.ErrEmpty},
		{"blank lines", strings.NewReader("\n\r\n ;;\n"), campaign.ReadOptions{}, campaign.ErrEmpty},
		{"header only", strings.NewReader("Name;Phone\n"), campaign.ReadOptions{}, campaign.ErrEmpty},
		{"empty workbook", bytes.NewReader(mustXLSX(t, map[string][][]any{"S": nil}, "S")), campaign.ReadOptions{}, campaign.ErrEmpty},
		{"png", bytes.NewReader(append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 200)...)), campaign.ReadOptions{}, campaign.ErrNotSpreadsheet},
		{"pdf", strings.NewReader("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"), campaign.ReadOptions{}, campaign.ErrNotSpreadsheet},
		{"html", strings.NewReader("<!DOCTYPE html><html><table><tr><td>a</td></tr></table></html>"), campaign.ReadOptions{}, campaign.ErrNotSpreadsheet},
		{"binary", bytes.NewReader([]byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 9, 14, 15, 16, 17, 18, 19, 20}), campaign.ReadOptions{}, campaign.ErrNotSpreadsheet},
		{"zip that is no workbook", bytes.NewReader(zipOf(t, "word/document.xml", "<w/>")), campaign.ReadOptions{}, campaign.ErrNotSpreadsheet},
		{"ods", bytes.NewReader(odsOf(t)), campaign.ReadOptions{}, campaign.ErrOpenDocument},
		{"truncated workbook", bytes.NewReader(mustXLSX(t, map[string][][]any{"S": {{"a"}}}, "S")[:300]), campaign.ReadOptions{}, campaign.ErrNotSpreadsheet},
		{"encrypted workbook", bytes.NewReader(encryptedXLSX(t)), campaign.ReadOptions{}, campaign.ErrPasswordProtected},
		{"ole with encrypted package", bytes.NewReader(oleWith(encryptedPackageName)), campaign.ReadOptions{}, campaign.ErrPasswordProtected},
		{"old xls", bytes.NewReader(oleWith("W\x00o\x00r\x00k\x00b\x00o\x00o\x00k\x00")), campaign.ReadOptions{}, campaign.ErrOldExcel},
		{"unknown sheet", bytes.NewReader(mustXLSX(t, map[string][][]any{"S": {{"Phone"}, {"1"}}}, "S")), campaign.ReadOptions{Sheet: "Nope"}, campaign.ErrNoSheet},
		{"21 MB csv", io.MultiReader(strings.NewReader("Name,Phone\n"), io.LimitReader(repeatReader("Ana,+34600112233,"+strings.Repeat("note ", 200)+"\n"), 21<<20)), campaign.ReadOptions{}, campaign.ErrTooLarge},
		{"21 MB workbook", io.MultiReader(bytes.NewReader(zipMagicPrefix), io.LimitReader(repeatReader("x"), 21<<20)), campaign.ReadOptions{}, campaign.ErrTooLarge},
		{"100,001 rows", bytes.NewReader(rowsCSV(100_001)), campaign.ReadOptions{}, campaign.ErrTooManyRows},
		{"100,001 rows xlsx", bytes.NewReader(rowsXLSX(t, 100_001)), campaign.ReadOptions{}, campaign.ErrTooManyRows},
		{"row limit option", bytes.NewReader(rowsCSV(11)), campaign.ReadOptions{MaxRows: 10}, campaign.ErrTooManyRows},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := campaign.Read(tt.data, "leads", tt.opt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v (sheet %+v)", err, tt.want, s)
			}
			var e *campaign.Error
			if !errors.As(err, &e) || e.Message == "" {
				t.Errorf("error %v is not a *campaign.Error with a message", err)
			}
		})
	}
}

func TestReadRowLimits(t *testing.T) {
	for name, data := range map[string][]byte{"csv": rowsCSV(100_000), "xlsx": rowsXLSX(t, 100_000)} {
		t.Run(name, func(t *testing.T) {
			s, err := campaign.Read(bytes.NewReader(data), "leads", campaign.ReadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Rows) != 100_000 || s.Rows[99_999].Number != 100_001 {
				t.Errorf("%d rows, last row %d", len(s.Rows), s.Rows[len(s.Rows)-1].Number)
			}
		})
	}
	_, err := campaign.Read(bytes.NewReader(rowsCSV(100_001)), "leads", campaign.ReadOptions{})
	if want := "The file has more than 100,000 rows. Split it into smaller files and upload them one by one."; err == nil || err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

var (
	encryptedPackageName = "E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e\x00"
	zipMagicPrefix       = []byte("PK\x03\x04")
)

// oleWith is an OLE compound document header followed by a stream name.
func oleWith(stream string) []byte {
	b := []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
	b = append(b, make([]byte, 504)...)
	return append(b, stream...)
}

// encryptedXLSX is a workbook excelize saves with a password.
func encryptedXLSX(tb testing.TB) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	_ = f.SetCellValue("Sheet1", "A1", "Phone")
	var b bytes.Buffer
	if err := f.Write(&b, excelize.Options{Password: "secret"}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

func zipOf(tb testing.TB, name, body string) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create(name)
	_, _ = w.Write([]byte(body))
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// odsOf is the start of an .ods file: its mimetype stored first.
func odsOf(tb testing.TB) []byte {
	tb.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "mimetype", Method: zip.Store})
	_, _ = w.Write([]byte("application/vnd.oasis.opendocument.spreadsheet"))
	w, _ = zw.Create("content.xml")
	_, _ = w.Write([]byte("<office:document-content/>"))
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// repeatReader repeats s forever, so that big files are streamed, never
// held.
func repeatReader(s string) io.Reader {
	return &repeat{s: []byte(s)}
}

type repeat struct {
	s []byte
	i int
}

func (r *repeat) Read(p []byte) (int, error) {
	for n := range p {
		p[n] = r.s[r.i]
		r.i = (r.i + 1) % len(r.s)
	}
	return len(p), nil
}
