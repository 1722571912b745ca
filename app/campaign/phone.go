package campaign

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// The reasons Phone gives for a cell it cannot read as a number.
const (
	ReasonEmpty     = "no phone number"
	ReasonRounded   = "stored as a rounded number in Excel, so digits are lost: format the column as Text and type the numbers again"
	ReasonNotNumber = "not a phone number"
	ReasonTooShort  = "too short for a phone number"
	ReasonTooLong   = "too long for a phone number"
	ReasonCountry   = "unknown country code"
	ReasonInvalid   = "not a valid phone number"
)

// Phone reads a phone cell's raw value as an E.164 number ("+34600112233"),
// or returns "" and the reason it cannot. It accepts what spreadsheets hold:
// Excel numbers as text ("34600112233.0", "3.4600112233E+10"), a leading
// apostrophe, spaces, dots, dashes, slashes and brackets, an international
// prefix of "+" or "00" or none, and national numbers of defaultCountry
// (ISO 3166 code, e.g. "ES"; may be ""). A number without prefix that is not
// valid in defaultCountry but valid with a "+" is read as international.
func Phone(raw, defaultCountry string) (e164, reason string) {
	s := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(raw), "'"))
	if s == "" {
		return "", ReasonEmpty
	}
	if digits, ok, lost := excelNumber(s); ok {
		if lost {
			return "", ReasonRounded
		}
		s = digits
	}
	plus, digits, ok := phoneDigits(s)
	if !ok {
		return "", ReasonNotNumber
	}
	if !plus && strings.HasPrefix(digits, "00") {
		plus, digits = true, digits[2:]
	}
	if plus {
		return parseValid("+"+digits, "")
	}
	region := strings.ToUpper(defaultCountry)
	if region == "" {
		return parseValid("+"+digits, "")
	}
	e164, reason = parseValid(digits, region)
	if e164 == "" {
		if intl, _ := parseValid("+"+digits, ""); intl != "" {
			return intl, ""
		}
	}
	return e164, reason
}

// parseValid formats s as E.164 if it is a valid number, else says why not.
func parseValid(s, region string) (string, string) {
	n, err := phonenumbers.Parse(s, region)
	if err != nil {
		switch err {
		case phonenumbers.ErrInvalidCountryCode:
			return "", ReasonCountry
		case phonenumbers.ErrTooShortNSN, phonenumbers.ErrTooShortAfterIDD:
			return "", ReasonTooShort
		case phonenumbers.ErrNumTooLong:
			return "", ReasonTooLong
		}
		return "", ReasonInvalid
	}
	if phonenumbers.IsValidNumber(n) {
		return phonenumbers.Format(n, phonenumbers.E164), ""
	}
	switch phonenumbers.IsPossibleNumberWithReason(n) {
	case phonenumbers.TOO_SHORT:
		return "", ReasonTooShort
	case phonenumbers.TOO_LONG:
		return "", ReasonTooLong
	case phonenumbers.INVALID_COUNTRY_CODE:
		return "", ReasonCountry
	}
	return "", ReasonInvalid
}

// phoneDigits keeps the digits of a number written with separators
// (spaces, dots, dashes, slashes, brackets) and says whether it starts
// with "+", possibly inside a bracket ("(+34) 600…"). Arabic-Indic and
// full-width digits count as digits. ok is false when anything else is in
// the cell.
func phoneDigits(s string) (plus bool, digits string, ok bool) {
	var b strings.Builder
	for _, r := range s {
		if d := digitValue(r); d >= 0 {
			b.WriteByte(byte('0' + d))
			continue
		}
		switch {
		case (r == '+' || r == '\uff0b') && b.Len() == 0 && !plus:
			plus = true
		case strings.ContainsRune(separators, r):
		default:
			return false, "", false
		}
	}
	return plus, b.String(), b.Len() > 0
}

// separators are what people put between the digits of a phone number.
const separators = " .-/()[]\t\u00a0\u2007\u200b\u202f\u2010\u2011\u2012\u2013\u2212"

// digitValue is r's value as a decimal digit (ASCII, Arabic-Indic, Eastern
// Arabic-Indic, full-width), or -1.
func digitValue(r rune) int {
	for _, zero := range []rune{'0', 0x660, 0x6F0, 0xFF10} {
		if r >= zero && r <= zero+9 {
			return int(r - zero)
		}
	}
	return -1
}

// excelNumber reads a cell that is a number as Excel writes it: a decimal
// with a zero fraction ("34600112233.0") or scientific notation
// ("3.4600112233E+10"). ok says whether s is such a number; digits are its
// integer digits, unless lost says the notation dropped some
// ("5.51199E+12": Excel kept only six digits).
func excelNumber(s string) (digits string, ok, lost bool) {
	mant, exp, sci := strings.Cut(strings.ToUpper(s), "E")
	intPart, frac, _ := strings.Cut(mant, ".")
	if !allDigits(intPart) || (frac != "" && !allDigits(frac)) || intPart == "" {
		return "", false, false
	}
	if !sci {
		if strings.Trim(frac, "0") != "" || !strings.Contains(s, ".") {
			return "", false, false
		}
		return intPart, true, false
	}
	e, okExp := exponent(exp)
	if !okExp {
		return "", false, false
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > e {
		return "", true, true // a fraction: not a phone number either
	}
	digits = intPart + frac + strings.Repeat("0", e-len(frac))
	// Excel's General format shows about six significant digits of a long
	// number ("5.51199E+12"); a CSV saved from that view holds only those.
	// Fewer than nine significant digits padded with zeros cannot be a
	// phone number read in full.
	return digits, true, len(strings.TrimLeft(intPart+frac, "0")) < 9 && e > len(frac)
}

// exponent parses "+12", "12" or "-3" from scientific notation; only
// non-negative exponents up to 20 make sense for phone numbers.
func exponent(s string) (int, bool) {
	s = strings.TrimPrefix(s, "+")
	if !allDigits(s) || s == "" || len(s) > 2 {
		return 0, false
	}
	e := 0
	for _, r := range s {
		e = e*10 + int(r-'0')
	}
	return e, e <= 20
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
