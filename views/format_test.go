package views

import (
	"testing"
	"time"
)

func TestRelative(t *testing.T) {
	madrid, err := time.LoadLocation("Europe/Madrid")
	if err != nil {
		t.Fatal(err)
	}
	// Sunday 29 March 2026, 10:00 in Madrid: the night before lost an hour.
	now := time.Date(2026, 3, 29, 10, 0, 0, 0, madrid)
	at := func(m time.Month, d, h, min int) time.Time { return time.Date(2026, m, d, h, min, 0, 0, madrid) }
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{at(3, 29, 9, 5), "09:05"},
		{at(3, 29, 0, 1), "00:01"},
		{at(3, 28, 23, 59), "yesterday, 23:59"},
		{at(3, 28, 0, 0), "yesterday, 00:00"},
		{at(3, 30, 9, 0), "tomorrow, 09:00"},
		{at(3, 27, 14, 55), "Fri, 14:55"},
		{at(3, 23, 8, 0), "Mon, 08:00"},
		{at(3, 22, 8, 0), "22 Mar, 08:00"},
		{at(1, 2, 8, 0), "2 Jan, 08:00"},
		{time.Date(2025, 12, 31, 23, 0, 0, 0, madrid), "31 Dec 2025"},
		// Stored in UTC, shown in the tenant's zone: 23:30 UTC on the 28th
		// is 00:30 on the 29th in Madrid (CET until 02:00), today.
		{time.Date(2026, 3, 28, 23, 30, 0, 0, time.UTC), "00:30"},
	} {
		if got := Relative(tc.t, now, madrid); got != tc.want {
			t.Errorf("Relative(%s) = %q, want %q", tc.t, got, tc.want)
		}
	}
}

func TestSenderLabels(t *testing.T) {
	for _, tc := range []struct {
		sender, label, prefix string
	}{
		{"lead", "Ana", ""},
		{"ai", "AI", "AI: "},
		{"auto", "Automatic reply", "Automatic: "},
		{"app", "You", "You: "},
		{"phone", "You, from your phone", "You: "},
		{"campaign", "Campaign", "Campaign: "},
		{"system", "My Aibud", ""},
	} {
		if got := senderLabel(MessageRow{Sender: tc.sender}, "Ana"); got != tc.label {
			t.Errorf("senderLabel(%s) = %q, want %q", tc.sender, got, tc.label)
		}
		if got := lastSenderPrefix(tc.sender); got != tc.prefix {
			t.Errorf("lastSenderPrefix(%s) = %q, want %q", tc.sender, got, tc.prefix)
		}
	}
}

func TestProblemWords(t *testing.T) {
	for _, tc := range []struct {
		status, phone, title, action string
	}{
		{statusFailed, "", "Linking did not finish.", "Try again"},
		{statusFailed, "+15551230000", "This number stopped working.", "Reconnect"},
		{statusDisconnected, "+15551230000", "This number got disconnected.", "Reconnect"},
		{statusLoggedOut, "+15551230000", "The phone is unlinked.", "Reconnect"},
	} {
		if got := problemTitle(tc.status, tc.phone); got != tc.title {
			t.Errorf("problemTitle(%s, %q) = %q, want %q", tc.status, tc.phone, got, tc.title)
		}
		if got := problemAction(tc.status, tc.phone); got != tc.action {
			t.Errorf("problemAction(%s, %q) = %q, want %q", tc.status, tc.phone, got, tc.action)
		}
	}
}

func TestMoney(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{0, "$0.00"},
		{0.004, "<$0.01"},
		{0.005, "$0.01"},
		{1.6, "$1.60"},
		{1234.567, "$1,234.57"},
		{-2.5, "-$2.50"},
	} {
		if got := Money(tc.v); got != tc.want {
			t.Errorf("Money(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestMoneyIn(t *testing.T) {
	tests := []struct {
		cents    int64
		currency string
		want     string
	}{
		{2900, "usd", "$29.00"},
		{450050, "eur", "4,500.50 EUR"},
		{-5, "gbp", "-0.05 GBP"},
	}
	for _, tt := range tests {
		if got := MoneyIn(tt.cents, tt.currency); got != tt.want {
			t.Errorf("MoneyIn(%d, %s) = %q, want %q", tt.cents, tt.currency, got, tt.want)
		}
	}
	if got := MoneyByCurrency(map[string]int64{"gbp": 100, "eur": 4500}); got != "45.00 EUR, 1.00 GBP" {
		t.Errorf("MoneyByCurrency = %q", got)
	}
}
