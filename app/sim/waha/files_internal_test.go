package waha

import (
	"net/http/httptest"
	"testing"
)

// TestBaseURL: the configured address wins; else the latest /api
// request's Host; else the listening address, on loopback when it is
// unspecified.
func TestBaseURL(t *testing.T) {
	b := &baseURL{}
	if got := b.String(); got != "http://waha.invalid" {
		t.Errorf("before anything: %q", got)
	}
	b.listening("[::]:3000")
	if got := b.String(); got != "http://127.0.0.1:3000" {
		t.Errorf("listening on [::]:3000: %q", got)
	}
	b.learn(httptest.NewRequest("GET", "http://waha:3000/api/sessions", nil))
	if got := b.String(); got != "http://waha:3000" {
		t.Errorf("after a request to waha:3000: %q", got)
	}
	fixed := &baseURL{fixed: "https://waha.example"}
	fixed.learn(httptest.NewRequest("GET", "http://waha:3000/api/sessions", nil))
	if got := fixed.String(); got != "https://waha.example" {
		t.Errorf("configured: %q", got)
	}
}
