package campaign

import (
	"fmt"
	"strings"
)

// Error is a problem with the tenant's file, worded for the tenant: its
// Message can be shown as is. Errors with the same Code match with
// errors.Is, so callers test against the Err… values below.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// The errors Read and Clean return for a file the tenant must fix.
var (
	// ErrTooLarge: the file is over ReadOptions.MaxBytes (20 MB by default).
	ErrTooLarge = &Error{"too_large", "The file is larger than 20 MB. Split it into smaller files and upload them one by one."}
	// ErrTooManyRows: the sheet has more data rows than ReadOptions.MaxRows.
	ErrTooManyRows = &Error{"too_many_rows", "The file has more than 100,000 rows. Split it into smaller files and upload them one by one."}
	// ErrNotSpreadsheet: the content is neither an .xlsx workbook nor CSV text.
	ErrNotSpreadsheet = &Error{"not_spreadsheet", "This is not a spreadsheet. Upload an Excel workbook (.xlsx) or a CSV file."}
	// ErrOldExcel: a legacy .xls (binary Excel 97-2003) workbook.
	ErrOldExcel = &Error{"old_excel", "This is an old Excel file (.xls). Open it in Excel and save it as .xlsx or CSV, then upload it again."}
	// ErrOpenDocument: a LibreOffice / OpenOffice .ods spreadsheet.
	ErrOpenDocument = &Error{"open_document", "This is an OpenDocument spreadsheet (.ods). Save it as .xlsx or CSV in LibreOffice (File › Save As), then upload it again."}
	// ErrPasswordProtected: an encrypted workbook.
	ErrPasswordProtected = &Error{"password_protected", "This workbook is password-protected. Remove the password in Excel (File › Info › Protect Workbook), save, and upload it again."}
	// ErrEmpty: no rows with data, or a header row and nothing under it.
	ErrEmpty = &Error{"empty", "The sheet is empty: there are no rows with data under the column names."}
	// ErrNoSheet: the sheet asked for does not exist.
	ErrNoSheet = &Error{"no_sheet", "The workbook has no sheet with that name."}
	// ErrNoPhoneColumn: the mapping names no phone column.
	ErrNoPhoneColumn = &Error{"no_phone_column", "No column with phone numbers was found. Choose the column that holds the WhatsApp numbers."}
	// ErrUnreadable: the file is damaged or cannot be parsed.
	ErrUnreadable = &Error{"unreadable", "The file could not be read. It may be damaged: open it in Excel, save it again and upload it."}
)

// tooLarge is ErrTooLarge with the limit in megabytes.
func tooLarge(max int64) error {
	return &Error{ErrTooLarge.Code, fmt.Sprintf("The file is larger than %d MB. Split it into smaller files and upload them one by one.", max>>20)}
}

// tooManyRows is ErrTooManyRows with the limit.
func tooManyRows(max int) error {
	return &Error{ErrTooManyRows.Code, fmt.Sprintf("The file has more than %s rows. Split it into smaller files and upload them one by one.", thousands(max))}
}

// thousands writes n with comma separators: 100000 → "100,000".
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// noSheet is ErrNoSheet naming the sheet and those the workbook has.
func noSheet(name string, names []string) error {
	return &Error{ErrNoSheet.Code, fmt.Sprintf("The workbook has no sheet named %q. Its sheets are: %s.", name, strings.Join(names, ", "))}
}
