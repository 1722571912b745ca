package app

import "testing"

func TestSafeNext(t *testing.T) {
	for _, tt := range []struct {
		next, want string
	}{
		{"/contacts/12", "/contacts/12"},
		{"/contacts?q=maria&tag=vip", "/contacts?q=maria&tag=vip"},
		{"/contacts?q=maria%20lopez", "/contacts?q=maria%20lopez"},
		{"", "/dashboard"},
		{"/events", "/dashboard"},
		{"https://evil.example/", "/dashboard"},
		{"//evil.example", "/dashboard"},
		{"/\\evil.example", "/dashboard"},
		{"\\/evil.example", "/dashboard"},
		{"/\t/evil.example", "/dashboard"},
		{"/\x0b/evil.example", "/dashboard"},
		{"/\r\n/evil.example", "/dashboard"},
		{"/ /evil.example", "/dashboard"},
		{"/\u00a0/evil.example", "/dashboard"},
		{"/\u2028/evil.example", "/dashboard"},
		{"/%09/evil.example", "/dashboard"},
		{"/%0b/evil.example", "/dashboard"},
		{"/%2F/evil.example", "/dashboard"},
		{"/%5Cevil.example", "/dashboard"},
		{"/%5C%5Cevil.example", "/dashboard"},
		{" /contacts", "/dashboard"},
		{"javascript:alert(1)", "/dashboard"},
		{"/%zz", "/dashboard"},
	} {
		if got := safeNext(tt.next); got != tt.want {
			t.Errorf("safeNext(%q) = %q, want %q", tt.next, got, tt.want)
		}
	}
}
