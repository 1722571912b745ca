package sim

import (
	"strconv"
	"strings"
)

// Digits keeps the digits of a phone number.
func Digits(phone string) string {
	var b strings.Builder
	for _, c := range phone {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// ValidPhone tells digits that can be a phone number with country code.
func ValidPhone(digits string) bool {
	if len(digits) < 7 || len(digits) > 15 || digits[0] == '0' {
		return false
	}
	_, err := strconv.ParseUint(digits, 10, 64)
	return err == nil
}

// CleanPhone returns the digits of a phone number written with +, spaces,
// dashes, dots or brackets, or "" when it has other characters or is not a
// possible number.
func CleanPhone(s string) string {
	var b strings.Builder
	for _, c := range strings.TrimSpace(s) {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case strings.ContainsRune("+ -.()", c):
		default:
			return ""
		}
	}
	if !ValidPhone(b.String()) {
		return ""
	}
	return b.String()
}

// NormalLID returns "digits@lid" for "digits" or "digits@lid", or "" when
// lid is neither.
func NormalLID(lid string) string {
	user, _, _ := strings.Cut(strings.TrimSpace(lid), "@")
	if user == "" || Digits(user) != user {
		return ""
	}
	return user + "@lid"
}
