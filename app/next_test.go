package app

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

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

func TestReturnPath(t *testing.T) {
	e := echo.New()
	for _, tt := range []struct {
		name, method, target, htmx, current, want string
	}{
		{"a page", http.MethodGet, "/contacts/7?x=1", "", "", "/contacts/7?x=1"},
		{"a form posted without htmx", http.MethodPost, "/contacts/7/reply", "", "", ""},
		{"the live stream", http.MethodGet, "/events", "", "", ""},
		{"htmx: the page the browser shows", http.MethodPost, "/contacts/7/reply", "true", "http://app.test/contacts/7", "/contacts/7"},
		{"htmx: a partial re-fetched on a page", http.MethodGet, "/dashboard/credits", "true", "http://app.test/dashboard", "/dashboard"},
		{"htmx: another site's page", http.MethodPost, "/contacts/7/reply", "true", "http://evil.example/x", ""},
		{"htmx: no current URL", http.MethodPost, "/contacts/7/reply", "true", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "http://app.test"+tt.target, nil)
			if tt.htmx != "" {
				r.Header.Set("HX-Request", tt.htmx)
				r.Header.Set("HX-Current-URL", tt.current)
			}
			if got := returnPath(e.NewContext(r, httptest.NewRecorder())); got != tt.want {
				t.Errorf("returnPath = %q, want %q", got, tt.want)
			}
		})
	}
}
