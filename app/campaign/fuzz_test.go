package campaign_test

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/myaibud/aibud/app/campaign"
)

// FuzzRead checks that any file gives a sheet of valid UTF-8 without NUL
// bytes and with real row numbers, or an *Error for the tenant; never a
// panic.
func FuzzRead(f *testing.F) {
	f.Add(mustCSV(f, ';', leads))
	f.Add(encode(f, "utf-16le", mustCSV(f, '\t', leads)))
	f.Add(encode(f, "windows-1252", mustCSV(f, ',', leads)))
	f.Add([]byte("Name|Phone\n\"a\"\"b\"|\"600\n112233\"\n\xff\xfe\x00x"))
	f.Add(handmadeXLSX(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := campaign.Read(bytes.NewReader(data), "f", campaign.ReadOptions{MaxBytes: 1 << 20, MaxRows: 1000})
		if err != nil {
			var e *campaign.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *campaign.Error", err)
			}
			return
		}
		last := s.HeaderRow
		for _, r := range s.Rows {
			if r.Number <= last {
				t.Fatalf("row %d after row %d", r.Number, last)
			}
			last = r.Number
			for _, c := range r.Cells {
				if !utf8.ValidString(c) || bytes.IndexByte([]byte(c), 0) >= 0 {
					t.Fatalf("cell %q", c)
				}
			}
		}
		campaign.GuessColumns(s.Headers, s.Sample(20))
	})
}
