package views

import (
	"fmt"
	"math"
	"sort"
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

// Money formats dollars with cents and thousands separators: "$1,234.50";
// an amount above zero that rounds to nothing is "<$0.01".
func Money(v float64) string {
	if v > 0 && v < 0.005 {
		return "<$0.01"
	}
	cents := int64(math.Round(v * 100))
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return sign + "$" + Number(cents/100) + "." + fmt.Sprintf("%02d", cents%100)
}

// MoneyInput is an amount as a form field holds it: "24.50".
func MoneyInput(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// Relative formats t for people reading it at now, in loc: "14:55" today,
// "yesterday, 14:55", "tomorrow, 09:00", "Mon, 14:55" within the week, "3
// Mar, 14:55" this year and "3 Mar 2025" before.
func Relative(t, now time.Time, loc *time.Location) string {
	t, now = t.In(loc), now.In(loc)
	// Calendar days back, counted on UTC dates so DST days count as one.
	date := func(x time.Time) time.Time { return time.Date(x.Year(), x.Month(), x.Day(), 0, 0, 0, 0, time.UTC) }
	days := int(date(now).Sub(date(t)).Hours() / 24)
	clock := t.Format("15:04")
	switch {
	case days == 0:
		return clock
	case days == 1:
		return "yesterday, " + clock
	case days == -1:
		return "tomorrow, " + clock
	case days > 1 && days < 7:
		return t.Format("Mon") + ", " + clock
	case t.Year() == now.Year():
		return t.Format("2 Jan") + ", " + clock
	}
	return t.Format("2 Jan 2006")
}

// FullDateTime is the exact time, shown as a tooltip of relative times.
func FullDateTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 2 Jan 2006, 15:04 MST")
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

// MoneyIn formats cents of a currency: dollars as Money does, others with
// their code: "45.00 EUR".
func MoneyIn(cents int64, currency string) string {
	if strings.EqualFold(currency, "usd") {
		return Money(float64(cents) / 100)
	}
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return sign + Number(cents/100) + "." + fmt.Sprintf("%02d", cents%100) + " " + strings.ToUpper(currency)
}

// MoneyByCurrency formats amounts in several currencies, by code: "45.00
// EUR, 12.00 GBP"; "" for none.
func MoneyByCurrency(cents map[string]int64) string {
	codes := make([]string, 0, len(cents))
	for c := range cents {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = MoneyIn(cents[c], c)
	}
	return strings.Join(parts, ", ")
}
