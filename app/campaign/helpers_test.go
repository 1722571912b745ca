package campaign_test

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// mustXLSX writes a workbook with one sheet per entry of sheets, rows by
// row from A1; a nil row leaves an empty row.
func mustXLSX(tb testing.TB, sheets map[string][][]any, order ...string) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, name := range order {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", name); err != nil {
				tb.Fatal(err)
			}
		} else if _, err := f.NewSheet(name); err != nil {
			tb.Fatal(err)
		}
		for r, row := range sheets[name] {
			if row == nil {
				continue
			}
			cell, _ := excelize.CoordinatesToCellName(1, r+1)
			if err := f.SetSheetRow(name, cell, &row); err != nil {
				tb.Fatal(err)
			}
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// mustCSV writes records with the delimiter, in UTF-8.
func mustCSV(tb testing.TB, delim rune, records [][]string) []byte {
	tb.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = delim
	if err := w.WriteAll(records); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// encode re-encodes UTF-8 text as "utf-8-bom", "utf-16le" (with a mark),
// "utf-16le-nobom", "utf-16be" or "windows-1252".
func encode(tb testing.TB, enc string, text []byte) []byte {
	tb.Helper()
	var out []byte
	var err error
	switch enc {
	case "utf-8-bom":
		out = append([]byte{0xEF, 0xBB, 0xBF}, text...)
	case "utf-16le":
		out, err = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes(text)
	case "utf-16le-nobom":
		out, err = unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewEncoder().Bytes(text)
	case "utf-16be":
		out, err = unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewEncoder().Bytes(text)
	case "windows-1252":
		out, err = charmap.Windows1252.NewEncoder().Bytes(text)
	default:
		out = text
	}
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// handmadeXLSX is a minimal workbook as openpyxl or LibreOffice variants
// write it: inline strings, numbers, no sharedStrings.xml, no styles, a
// row number gap.
func handmadeXLSX(tb testing.TB) []byte {
	tb.Helper()
	files := []struct{ name, body string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Leads" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
		{"xl/worksheets/sheet1.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>Nombre</t></is></c><c r="B1" t="inlineStr"><is><t>Móvil</t></is></c></row>
<row r="2"><c r="A2" t="inlineStr"><is><t>Ana Jiménez</t></is></c><c r="B2"><v>34600112233</v></c></row>
<row r="4"><c r="A4" t="inlineStr"><is><t>Luis</t></is></c><c r="B4"><v>5.5119987654321E+12</v></c></row>
</sheetData></worksheet>`},
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// rowsCSV is a CSV lead list of n data rows with distinct Spanish mobile
// numbers, written as people do: with spaces and a "+".
func rowsCSV(n int) []byte {
	var b bytes.Buffer
	b.Grow(n * 40)
	b.WriteString("Name;Phone;City\n")
	for i := range n {
		fmt.Fprintf(&b, "Lead %d;+34 6%02d %03d %03d;Madrid\n", i, i/1_000_000, i/1000%1000, i%1000)
	}
	return b.Bytes()
}

// rowsXLSX is rowsCSV as a workbook, phone numbers stored as numbers,
// written with excelize's stream writer.
func rowsXLSX(tb testing.TB, n int) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		tb.Fatal(err)
	}
	_ = sw.SetRow("A1", []any{"Name", "Phone", "City"})
	for i := range n {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(cell, []any{"Lead " + strconv.Itoa(i), 34600000000 + i, "Madrid"}); err != nil {
			tb.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		tb.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}
