package views

import (
	"strconv"
	"strings"
	"time"
)

// Number formats n with thousands separators: 12345 -> "12,345".
func Number(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Signed formats n with an explicit sign: +5, -3.
func Signed(n int64) string {
	if n > 0 {
		return "+" + Number(n)
	}
	return Number(n)
}

// DateTime formats t in loc for tables.
func DateTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2 Jan 2006, 15:04")
}

// ISO formats t for the datetime attribute of <time>.
func ISO(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func itoa(n int) string { return strconv.Itoa(n) }

// snippet shortens s to at most n runes on one line.
func snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
