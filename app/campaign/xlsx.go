package campaign

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// unzipLimit caps the unpacked size of a workbook, against zip bombs: a
// 20 MB workbook of 100,000 rows unpacks to far less. Worksheets over
// excelize's UnzipXMLSizeLimit (16 MB) are unpacked to a temporary file,
// removed on Close, rather than held in memory.
const unzipLimit = 512 << 20

// odsMimetype is stored uncompressed at the start of an .ods zip.
var odsMimetype = []byte("application/vnd.oasis.opendocument.spreadsheet")

// readXLSX streams the chosen sheet of a workbook into a Sheet. The zip
// format needs random access, so the (size-limited) file is held in memory;
// the rows are read with excelize's iterator, as raw values, never the
// display format (a phone number shown as 5.51E+12 is read in full).
func readXLSX(br *bufio.Reader, opt ReadOptions) (*Sheet, error) {
	b, err := io.ReadAll(br)
	if err != nil {
		return nil, err
	}
	if bytes.Contains(b[:min(len(b), 200)], odsMimetype) {
		return nil, ErrOpenDocument
	}
	f, err := excelize.OpenReader(bytes.NewReader(b), excelize.Options{RawCellValue: true, UnzipSizeLimit: unzipLimit})
	if err != nil {
		return nil, workbookError(err)
	}
	defer f.Close()
	names := f.GetSheetList()
	candidates, err := chooseSheets(names, opt.Sheet)
	if err != nil {
		return nil, err
	}
	for _, name := range candidates {
		s, err := readRows(f, name, opt.MaxRows)
		if errors.Is(err, ErrEmpty) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s.Format, s.Sheets, s.Name = FormatXLSX, names, name
		return s, nil
	}
	return nil, ErrEmpty
}

// workbookError words excelize's open errors for the tenant.
func workbookError(err error) error {
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, excelize.ErrWorkbookPassword), strings.Contains(msg, "encrypt"), strings.Contains(msg, "password"):
		return ErrPasswordProtected
	case strings.Contains(msg, "unzip size"):
		return ErrTooLarge
	}
	return ErrNotSpreadsheet
}

// chooseSheets lists the sheets to try in order: want alone if the
// workbook has it; with want "", every sheet, so that an empty first sheet
// gives way to the first one with data.
func chooseSheets(names []string, want string) ([]string, error) {
	if len(names) == 0 {
		return nil, ErrNotSpreadsheet
	}
	if want == "" {
		return names, nil
	}
	for _, n := range names {
		if n == want {
			return []string{n}, nil
		}
	}
	return nil, noSheet(want, names)
}

// readRows iterates over a sheet's rows, numbering them as Excel does.
func readRows(f *excelize.File, name string, maxRows int) (*Sheet, error) {
	rows, err := f.Rows(name)
	if err != nil {
		return nil, ErrUnreadable
	}
	defer rows.Close()
	c := newCollector(maxRows)
	for n := 1; rows.Next(); n++ {
		cells, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, ErrUnreadable
		}
		if err := c.add(n, cells); err != nil {
			return nil, err
		}
	}
	if rows.Error() != nil {
		return nil, ErrUnreadable
	}
	return c.sheet()
}

// encryptedPackage is the stream name ("EncryptedPackage" in UTF-16LE) of
// an encrypted Office file inside its OLE compound document.
var encryptedPackage = []byte("E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a\x00g\x00e\x00")

// readOLE reports what an OLE compound document is: an encrypted workbook
// (Office wraps those in OLE), or a legacy .xls.
func readOLE(br *bufio.Reader) error {
	b, err := io.ReadAll(br)
	if err != nil {
		return err
	}
	if bytes.Contains(b, encryptedPackage) {
		return ErrPasswordProtected
	}
	return ErrOldExcel
}
