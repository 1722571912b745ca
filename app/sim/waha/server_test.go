package waha_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	_ "image/png" // image.Decode reads the QR codes
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/sim/waha"
)

func TestAPIKey(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		want   int
	}{
		{"ping without key", http.MethodGet, "/ping", nil, http.StatusOK},
		{"sessions without key", http.MethodGet, "/api/sessions", nil, http.StatusUnauthorized},
		{"sessions with wrong key", http.MethodGet, "/api/sessions", http.Header{"X-Api-Key": {"nope"}}, http.StatusUnauthorized},
		{"sessions with key", http.MethodGet, "/api/sessions", http.Header{"X-Api-Key": {testKey}}, http.StatusOK},
		{"send without key", http.MethodPost, "/api/sendText", nil, http.StatusUnauthorized},
		{"unknown route without key", http.MethodGet, "/api/nothing/here/at/all", nil, http.StatusUnauthorized},
		{"unknown route with key", http.MethodGet, "/api/nothing/here/at/all", http.Header{"X-Api-Key": {testKey}}, http.StatusNotFound},
		{"health without key", http.MethodGet, "/health", nil, http.StatusUnauthorized},
		{"health with key", http.MethodGet, "/health", http.Header{"X-Api-Key": {testKey}}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.callWith(t, tt.method, tt.path, nil, tt.header)
			if got.status != tt.want {
				t.Errorf("status %d, want %d: %s", got.status, tt.want, got.body)
			}
		})
	}
	ping := s.callWith(t, http.MethodGet, "/ping", nil, nil)
	if got := string(ping.body); got != `{"message":"pong"}` {
		t.Errorf("ping body %s", got)
	}
}

// TestSessionStatusWebhooks creates a session with a signed webhook and
// checks the session.status events against WAHA's examples.
func TestSessionStatusWebhooks(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.createSession(t, "t1_i2", h)

	scan := h.waitFor(t, "SCAN_QR_CODE", isStatus(waha.StatusScanQR))
	starting := h.waitFor(t, "STARTING", isStatus(waha.StatusStarting))
	for _, r := range []hookRequest{starting, scan} {
		checkSigned(t, r)
		if r.env.Session != "t1_i2" || r.env.Metadata["tenant.id"] != "t_1" || r.env.Me != nil || r.env.Engine != "GOWS" {
			t.Errorf("envelope %s", r.body)
		}
	}
	if problems := sameShape(decodeMap(t, scan.body), readExample(t, "session.status.scan_qr_code.json"), ""); len(problems) > 0 {
		t.Errorf("SCAN_QR_CODE event differs from WAHA's example: %v\n%s", problems, scan.body)
	}
	var p struct {
		Name     string `json:"name"`
		Statuses []struct {
			Status string `json:"status"`
		} `json:"statuses"`
	}
	if err := json.Unmarshal(scan.env.Payload, &p); err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, st := range p.Statuses {
		statuses = append(statuses, st.Status)
	}
	if diff := cmp.Diff([]string{"STOPPED", "STARTING", "SCAN_QR_CODE"}, statuses); diff != "" || p.Name != "t1_i2" {
		t.Errorf("payload %s (-want +got):\n%s", scan.env.Payload, diff)
	}

	if err := s.Scan("t1_i2"); err != nil {
		t.Fatal(err)
	}
	work := h.waitFor(t, "WORKING", isStatus(waha.StatusWorking))
	checkSigned(t, work)
	if work.env.Me == nil || work.env.Me.ID == "" || work.env.Me.PushName == "" {
		t.Errorf("WORKING event without me: %s", work.body)
	}
	if problems := sameShape(decodeMap(t, work.body), readExample(t, "session.status.working.json"), ""); len(problems) > 0 {
		t.Errorf("WORKING event differs from WAHA's example: %v\n%s", problems, work.body)
	}
}

// checkSigned checks WAHA's webhook headers and the HMAC over the exact body.
func checkSigned(t *testing.T, r hookRequest) {
	t.Helper()
	if got := r.header.Get("X-Webhook-Hmac"); got != waha.Sign(testSecret, r.body) {
		t.Errorf("%s: X-Webhook-Hmac %q does not sign the body", r.env.Event, got)
	}
	if !regexp.MustCompile(`^[0-9a-f]{128}$`).MatchString(r.header.Get("X-Webhook-Hmac")) {
		t.Errorf("X-Webhook-Hmac %q is not lower-case hex SHA-512", r.header.Get("X-Webhook-Hmac"))
	}
	for k, want := range map[string]string{"X-Webhook-Hmac-Algorithm": "sha512", "Content-Type": "application/json"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if r.header.Get("X-Webhook-Request-Id") == "" {
		t.Error("no X-Webhook-Request-Id")
	}
	ms, err := strconv.ParseInt(r.header.Get("X-Webhook-Timestamp"), 10, 64)
	if err != nil || time.Since(time.UnixMilli(ms)).Abs() > time.Minute {
		t.Errorf("X-Webhook-Timestamp %q is not now in ms", r.header.Get("X-Webhook-Timestamp"))
	}
	if !regexp.MustCompile(`^evt_[0-9a-hjkmnp-tv-z]{26}$`).MatchString(r.env.ID) {
		t.Errorf("event id %q is not evt_ and a lower-case ULID", r.env.ID)
	}
	if time.Since(time.UnixMilli(r.env.Timestamp)).Abs() > time.Minute {
		t.Errorf("event timestamp %d is not now in ms", r.env.Timestamp)
	}
}

func TestSignMatchesWAHATestVector(t *testing.T) {
	t.Parallel()
	var v struct {
		Key  string `json:"key"`
		Body string `json:"body"`
		Want string `json:"expected_x_webhook_hmac"`
	}
	data, err := json.Marshal(readExample(t, "hmac-sha512-test-vector.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if got := waha.Sign(v.Key, []byte(v.Body)); got != v.Want {
		t.Errorf("Sign = %s, want %s", got, v.Want)
	}
}

func TestMetadataAbsentWhenNone(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.mustCall(t, http.MethodPost, "/api/sessions", map[string]any{
		"name":   "plain",
		"config": map[string]any{"webhooks": []any{map[string]any{"url": h.url, "events": []string{"*"}}}},
	}, http.StatusCreated)
	r := h.waitFor(t, "STARTING", isStatus(waha.StatusStarting))
	if _, ok := decodeMap(t, r.body)["metadata"]; ok {
		t.Errorf("metadata present without session metadata: %s", r.body)
	}
	if r.header.Get("X-Webhook-Hmac") != "" {
		t.Error("signed without an hmac key")
	}
}

func TestCreateSessionErrors(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	s.createSession(t, "taken", nil)
	tests := []struct {
		name string
		body any
		want int
	}{
		{"not JSON", "{", http.StatusBadRequest},
		{"bad name", map[string]any{"name": "a/b"}, http.StatusBadRequest},
		{"webhook without url", map[string]any{"name": "n1", "config": map[string]any{"webhooks": []any{map[string]any{"events": []string{"message"}}}}}, http.StatusBadRequest},
		{"webhook without events", map[string]any{"name": "n2", "config": map[string]any{"webhooks": []any{map[string]any{"url": "http://x.test/h"}}}}, http.StatusBadRequest},
		{"events as objects", map[string]any{"name": "n3", "config": map[string]any{"webhooks": []any{map[string]any{"url": "http://x.test/h", "events": []any{map[string]any{}}}}}}, http.StatusBadRequest},
		{"unknown retry policy", map[string]any{"name": "n4", "config": map[string]any{"webhooks": []any{map[string]any{"url": "http://x.test/h", "events": []string{"*"}, "retries": map[string]any{"policy": "sometimes"}}}}}, http.StatusBadRequest},
		{"metadata not strings", map[string]any{"name": "n5", "config": map[string]any{"metadata": map[string]any{"a": 1}}}, http.StatusBadRequest},
		{"existing name", map[string]any{"name": "taken"}, http.StatusUnprocessableEntity},
		{"created stopped", map[string]any{"name": "later", "start": false}, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.call(t, http.MethodPost, "/api/sessions", tt.body)
			if got.status != tt.want {
				t.Fatalf("status %d, want %d: %s", got.status, tt.want, got.body)
			}
		})
	}
	got := s.call(t, http.MethodPost, "/api/sessions", map[string]any{"name": "taken"})
	var e struct {
		StatusCode int    `json:"statusCode"`
		Message    string `json:"message"`
	}
	got.json(t, &e)
	if e.StatusCode != 422 || e.Message != "Session 'taken' already exists. Use PUT to update it." {
		t.Errorf("existing session answer %s", got.body)
	}
	later := s.mustCall(t, http.MethodGet, "/api/sessions/later", nil, http.StatusOK)
	var info struct {
		Status string `json:"status"`
	}
	later.json(t, &info)
	if info.Status != waha.StatusStopped {
		t.Errorf("start false: status %s", info.Status)
	}
}

func TestSessionEndpoints(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	s.createSession(t, "s1", nil)
	s.waitStatus(t, "s1", waha.StatusScanQR)

	// me is an empty 200 before the scan.
	me := s.mustCall(t, http.MethodGet, "/api/sessions/s1/me", nil, http.StatusOK)
	if len(me.body) != 0 {
		t.Errorf("me before scan: %q, want an empty body", me.body)
	}
	info := s.mustCall(t, http.MethodGet, "/api/sessions/s1", nil, http.StatusOK)
	if problems := checkRequired(t, decodeMap(t, info.body), "SessionInfo"); len(problems) > 0 {
		t.Errorf("SessionInfo: %v: %s", problems, info.body)
	}

	s.SetAccount("s1", "+55 11 98765 4321", "Padaria Sol")
	if err := s.Scan("s1"); err != nil {
		t.Fatal(err)
	}
	me = s.mustCall(t, http.MethodGet, "/api/sessions/s1/me", nil, http.StatusOK)
	var m struct {
		ID       string `json:"id"`
		PushName string `json:"pushName"`
	}
	me.json(t, &m)
	if m.ID != "5511987654321@c.us" || m.PushName != "Padaria Sol" {
		t.Errorf("me %s", me.body)
	}

	list := s.mustCall(t, http.MethodGet, "/api/sessions", nil, http.StatusOK)
	var sessions []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Me     *struct {
			ID string `json:"id"`
		} `json:"me"`
	}
	list.json(t, &sessions)
	if len(sessions) != 1 || sessions[0].Status != waha.StatusWorking || sessions[0].Me == nil {
		t.Errorf("sessions %s", list.body)
	}

	s.mustCall(t, http.MethodPost, "/api/sessions/s1/stop", nil, http.StatusCreated)
	if got := s.mustCall(t, http.MethodGet, "/api/sessions", nil, http.StatusOK); string(got.body) != "[]" {
		t.Errorf("STOPPED session listed without all=true: %s", got.body)
	}
	if got := s.mustCall(t, http.MethodGet, "/api/sessions?all=true", nil, http.StatusOK); !bytes.Contains(got.body, []byte(`"STOPPED"`)) {
		t.Errorf("all=true: %s", got.body)
	}
	// A paired session starts straight into WORKING.
	s.mustCall(t, http.MethodPost, "/api/sessions/s1/start", nil, http.StatusCreated)
	s.waitStatus(t, "s1", waha.StatusWorking)

	// Logout unlinks the phone and waits for a new scan.
	s.mustCall(t, http.MethodPost, "/api/sessions/s1/logout", nil, http.StatusCreated)
	s.waitStatus(t, "s1", waha.StatusScanQR)
	if me := s.mustCall(t, http.MethodGet, "/api/sessions/s1/me", nil, http.StatusOK); len(me.body) != 0 {
		t.Errorf("me after logout: %s", me.body)
	}

	s.mustCall(t, http.MethodDelete, "/api/sessions/s1", nil, http.StatusOK)
	got := s.call(t, http.MethodGet, "/api/sessions/s1", nil)
	if got.status != http.StatusNotFound || !bytes.Contains(got.body, []byte("session")) {
		t.Errorf("deleted session: %d %s", got.status, got.body)
	}
}

func TestUpdateSessionRestartsWithNewConfig(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	s.working(t, "u1", nil)
	h := newHook(t, nil)
	cfg := map[string]any{"config": map[string]any{
		"metadata": map[string]string{"tenant.id": "t_9"},
		"webhooks": []any{map[string]any{"url": h.url, "events": []string{"session.status"}, "hmac": map[string]string{"key": testSecret}}},
	}}
	s.mustCall(t, http.MethodPut, "/api/sessions/u1", cfg, http.StatusOK)
	r := h.waitFor(t, "WORKING after update", isStatus(waha.StatusWorking))
	checkSigned(t, r)
	if r.env.Metadata["tenant.id"] != "t_9" {
		t.Errorf("metadata after update: %s", r.body)
	}
	if got := s.call(t, http.MethodPut, "/api/sessions/nope", cfg); got.status != http.StatusNotFound {
		t.Errorf("update unknown session: %d", got.status)
	}
}

func TestQRCode(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	s.createSession(t, "q1", nil)

	// Asked while STARTING, the QR waits for SCAN_QR_CODE instead of 422.
	raw := s.mustCall(t, http.MethodGet, "/api/q1/auth/qr?format=raw", nil, http.StatusOK)
	var v struct {
		Value string `json:"value"`
	}
	raw.json(t, &v)
	if !regexp.MustCompile(`^2@[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,`).MatchString(v.Value) {
		t.Errorf("raw value %q", v.Value)
	}

	tests := []struct {
		name   string
		accept string
		query  string
		json   bool
	}{
		{"no Accept", "", "", false},
		{"image/png", "image/png", "?format=image", false},
		{"browser Accept", "application/json, text/plain, */*", "", false},
		{"exactly application/json", "application/json", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"X-Api-Key": {testKey}}
			if tt.accept != "" {
				h.Set("Accept", tt.accept)
			}
			got := s.callWith(t, http.MethodGet, "/api/q1/auth/qr"+tt.query, nil, h)
			if got.status != http.StatusOK {
				t.Fatalf("status %d: %s", got.status, got.body)
			}
			png := got.body
			if tt.json {
				var f struct {
					Mimetype string `json:"mimetype"`
					Data     string `json:"data"`
				}
				got.json(t, &f)
				var err error
				if png, err = base64.StdEncoding.DecodeString(f.Data); err != nil || f.Mimetype != "image/png" {
					t.Fatalf("JSON QR %s: %v", got.body[:min(80, len(got.body))], err)
				}
			} else if ct := got.header.Get("Content-Type"); ct != "image/png" {
				t.Errorf("Content-Type %q", ct)
			}
			checkPNG(t, png)
		})
	}
	if got := s.call(t, http.MethodGet, "/api/q1/auth/qr?format=svg", nil); got.status != http.StatusBadRequest {
		t.Errorf("format=svg: %d", got.status)
	}
	if got := s.call(t, http.MethodGet, "/api/nope/auth/qr", nil); got.status != http.StatusNotFound {
		t.Errorf("unknown session: %d", got.status)
	}

	// A scanned session has no QR: 422 {error, session, status, expected}.
	if err := s.Scan("q1"); err != nil {
		t.Fatal(err)
	}
	got := s.call(t, http.MethodGet, "/api/q1/auth/qr", nil)
	var e struct {
		Error    string   `json:"error"`
		Session  string   `json:"session"`
		Status   string   `json:"status"`
		Expected []string `json:"expected"`
	}
	got.json(t, &e)
	if got.status != http.StatusUnprocessableEntity || e.Error == "" || e.Session != "q1" || e.Status != waha.StatusWorking ||
		!cmp.Equal(e.Expected, []string{waha.StatusScanQR}) {
		t.Errorf("QR of a WORKING session: %d %s", got.status, got.body)
	}
	if err := s.Scan("q1"); !errors.Is(err, waha.ErrWrongStatus) {
		t.Errorf("second scan: %v, want ErrWrongStatus", err)
	}
}

func checkPNG(t *testing.T, png []byte) {
	t.Helper()
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("not a PNG: % x", png[:min(8, len(png))])
	}
	img, format, err := image.Decode(bytes.NewReader(png))
	if err != nil || format != "png" {
		t.Fatalf("decode PNG: %v (%s)", err, format)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dx() != b.Dy() {
		t.Errorf("QR image is %v", b)
	}
}

// TestQRRotation runs WAHA's schedule, shortened: a first code, then new
// ones, and FAILED after the sixth.
func TestQRRotation(t *testing.T) {
	t.Parallel()
	s := newSim(t, func(tm *waha.Timing) {
		tm.FirstQR = 60 * time.Millisecond
		tm.NextQR = 20 * time.Millisecond
	})
	h := newHook(t, nil)
	s.createSession(t, "r1", h)
	first := qrValue(t, s, "r1")
	deadline := time.Now().Add(wait)
	for qrValue(t, s, "r1") == first {
		if time.Now().After(deadline) {
			t.Fatal("the QR code never changed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.waitFor(t, "FAILED", isStatus(waha.StatusFailed))
	s.flush(t)

	var got []string
	for _, r := range h.delivered("session.status") {
		got = append(got, statusOf(r))
	}
	want := []string{"STARTING", "SCAN_QR_CODE", "SCAN_QR_CODE", "SCAN_QR_CODE", "SCAN_QR_CODE", "SCAN_QR_CODE", "SCAN_QR_CODE", "FAILED"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("session.status events (-want +got):\n%s", diff)
	}
	if got := s.call(t, http.MethodGet, "/api/r1/auth/qr", nil); got.status != http.StatusUnprocessableEntity {
		t.Errorf("QR of a FAILED session: %d", got.status)
	}
	// A restart offers new codes.
	s.mustCall(t, http.MethodPost, "/api/sessions/r1/restart", nil, http.StatusCreated)
	if qrValue(t, s, "r1") == first {
		t.Error("the restart reused an old code")
	}
}

func qrValue(t *testing.T, s *sim, session string) string {
	t.Helper()
	var v struct {
		Value string `json:"value"`
	}
	s.mustCall(t, http.MethodGet, "/api/"+session+"/auth/qr?format=raw", nil, http.StatusOK).json(t, &v)
	return v.Value
}

func TestRotateQR(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.createSession(t, "r2", h)
	before := qrValue(t, s, "r2")
	if err := s.RotateQR("r2"); err != nil {
		t.Fatal(err)
	}
	if after := qrValue(t, s, "r2"); after == before {
		t.Error("RotateQR kept the code")
	}
	s.flush(t)
	if n := len(h.delivered("session.status")); n != 3 {
		t.Errorf("%d session.status events, want STARTING and two SCAN_QR_CODE: %s", n, h.summary())
	}
}

func TestRequestCode(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	s.createSession(t, "p1", nil)
	tests := []struct {
		name string
		body any
		want int
	}{
		{"no phone", map[string]any{}, http.StatusBadRequest},
		{"not a phone", map[string]any{"phoneNumber": "call me"}, http.StatusBadRequest},
		{"phone", map[string]any{"phoneNumber": "447911123456"}, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.call(t, http.MethodPost, "/api/p1/auth/request-code", tt.body)
			if got.status != tt.want {
				t.Fatalf("status %d, want %d: %s", got.status, tt.want, got.body)
			}
			if tt.want != http.StatusCreated {
				return
			}
			var c struct {
				Code string `json:"code"`
			}
			got.json(t, &c)
			if !regexp.MustCompile(`^[A-Z0-9]{4}-[A-Z0-9]{4}$`).MatchString(c.Code) {
				t.Errorf("code %q", c.Code)
			}
		})
	}
	if err := s.Scan("p1"); err != nil {
		t.Fatal(err)
	}
	st, err := s.Session("p1")
	if err != nil || st.Me == nil || st.Me.Phone != "+447911123456" {
		t.Errorf("paired by code: %+v %v", st.Me, err)
	}
}

func TestLeadSays(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "l1", h)
	id, err := s.LeadSays("l1", "+1 555 0100 200", "Ana <&>", "Hi! Do you open <today> & tomorrow?")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^false_15550100200@c\.us_[0-9A-F]{32}$`).MatchString(id) {
		t.Errorf("id %q", id)
	}
	msg := h.waitFor(t, "message", func(r hookRequest) bool { return r.env.Event == "message" })
	anyMsg := h.waitFor(t, "message.any", func(r hookRequest) bool { return r.env.Event == "message.any" })
	for _, r := range []hookRequest{msg, anyMsg} {
		checkSigned(t, r)
		// WAHA does not escape <, > and & in its JSON.
		if !bytes.Contains(r.body, []byte("<today> & tomorrow")) {
			t.Errorf("%s body escapes HTML: %s", r.env.Event, r.body)
		}
		var p struct {
			ID     string `json:"id"`
			From   string `json:"from"`
			To     string `json:"to"`
			FromMe bool   `json:"fromMe"`
			Body   string `json:"body"`
			Data   struct {
				Info struct {
					PushName string `json:"PushName"`
				} `json:"Info"`
			} `json:"_data"`
		}
		if err := json.Unmarshal(r.env.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.ID != id || p.From != "15550100200@c.us" || p.FromMe || p.To != r.env.Me.ID || p.Data.Info.PushName != "Ana <&>" {
			t.Errorf("%s payload %s", r.env.Event, r.env.Payload)
		}
	}
	if problems := sameShape(decodeMap(t, msg.body), readExample(t, "message.json"), "", "payload._data"); len(problems) > 0 {
		t.Errorf("message differs from WAHA's example: %v\n%s", problems, msg.body)
	}

	tests := []struct {
		name    string
		session string
		phone   string
		text    string
		want    error
	}{
		{"unknown session", "nope", "15550100200", "hi", waha.ErrUnknownSession},
		{"bad phone", "l1", "12ab", "hi", waha.ErrInvalid},
		{"empty text", "l1", "15550100200", " ", waha.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.LeadSays(tt.session, tt.phone, "", tt.text); !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
	s.createSession(t, "l2", nil)
	if _, err := s.LeadSays("l2", "15550100200", "", "hi"); !errors.Is(err, waha.ErrWrongStatus) {
		t.Errorf("lead to an unscanned session: %v", err)
	}
}

// TestSendText sends with a pre-generated id twice: WhatsApp gets it once,
// the request count shows the resend, and the events follow WAHA's order.
func TestSendText(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "x1", h)
	s.flush(t)

	var nid struct {
		ID string `json:"id"`
	}
	s.mustCall(t, http.MethodGet, "/api/x1/new-message-id", nil, http.StatusOK).json(t, &nid)
	if nid.ID == "" {
		t.Fatal("no new message id")
	}
	body := map[string]any{"session": "x1", "chatId": "15550100200@c.us", "text": "Hello <b>&", "id": nid.ID}
	first := s.mustCall(t, http.MethodPost, "/api/sendText", body, http.StatusCreated)
	second := s.mustCall(t, http.MethodPost, "/api/sendText", body, http.StatusCreated)
	wantID := "true_15550100200@c.us_" + nid.ID
	for _, a := range []answer{first, second} {
		var m struct {
			ID     string `json:"id"`
			FromMe bool   `json:"fromMe"`
		}
		a.json(t, &m)
		if m.ID != wantID || !m.FromMe {
			t.Errorf("send answer %s", a.body)
		}
		if problems := checkRequired(t, decodeMap(t, a.body), "WAMessage", "mediaUrl"); len(problems) > 0 {
			t.Errorf("WAMessage: %v", problems)
		}
	}
	sent := s.Sent("x1")
	want := []waha.SentMessage{{ID: wantID, Key: nid.ID, ChatID: "15550100200@c.us", Type: "text", Text: "Hello <b>&", Requests: 2}}
	if diff := cmp.Diff(want, sent, cmpIgnoreTime()); diff != "" {
		t.Errorf("Sent (-want +got):\n%s", diff)
	}

	h.waitFor(t, "DEVICE ack", func(r hookRequest) bool { return r.env.Event == "message.ack" && statusOf(r) == "DEVICE" })
	if err := s.Read("x1", nid.ID); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "READ ack", func(r hookRequest) bool { return r.env.Event == "message.ack" && statusOf(r) == "READ" })
	s.flush(t)
	var got []string
	for _, r := range h.delivered("message.any", "message.ack") {
		got = append(got, r.env.Event+" "+statusOf(r))
	}
	if diff := cmp.Diff([]string{"message.any SERVER", "message.ack SERVER", "message.ack DEVICE", "message.ack READ"}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	anyMsg := h.delivered("message.any")[0]
	var p struct {
		ID     string `json:"id"`
		FromMe bool   `json:"fromMe"`
		Source string `json:"source"`
		From   string `json:"from"`
		To     string `json:"to"`
	}
	if err := json.Unmarshal(anyMsg.env.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != wantID || !p.FromMe || p.Source != "api" || p.From != anyMsg.env.Me.ID || p.To != "15550100200@c.us" {
		t.Errorf("message.any payload %s", anyMsg.env.Payload)
	}
	if problems := sameShape(decodeMap(t, anyMsg.body), readExample(t, "message.any.from-api.json"), "", "payload._data"); len(problems) > 0 {
		t.Errorf("message.any differs from WAHA's example: %v\n%s", problems, anyMsg.body)
	}
	ack := h.delivered("message.ack")[2]
	if problems := sameShape(decodeMap(t, ack.body), readExample(t, "message.ack.json"), ""); len(problems) > 0 {
		t.Errorf("message.ack differs from WAHA's example: %v\n%s", problems, ack.body)
	}

	// The message can be looked up, by full or bare id.
	for _, path := range []string{
		"/api/x1/chats/15550100200%40c.us/messages/" + wantID,
		"/api/x1/chats/15550100200@c.us/messages/" + nid.ID,
	} {
		var m struct {
			ID  string `json:"id"`
			Ack int    `json:"ack"`
		}
		s.mustCall(t, http.MethodGet, path+"?downloadMedia=false", nil, http.StatusOK).json(t, &m)
		if m.ID != wantID || m.Ack != 3 {
			t.Errorf("GET %s: %+v", path, m)
		}
	}
	for _, path := range []string{
		"/api/x1/chats/15550100200@c.us/messages/true_15550100200@c.us_3EB0000000000000000000",
		"/api/x1/chats/15550100999@c.us/messages/" + wantID,
	} {
		got := s.call(t, http.MethodGet, path, nil)
		if got.status != http.StatusNotFound || bytes.Contains(bytes.ToLower(got.body), []byte("session")) {
			t.Errorf("GET %s: %d %s, want 404 without 'session'", path, got.status, got.body)
		}
	}
}

func cmpIgnoreTime() cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Time" }, cmp.Ignore())
}

func TestSendErrors(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	s.working(t, "e1", nil)
	s.createSession(t, "e2", nil)
	s.waitStatus(t, "e2", waha.StatusScanQR)
	tests := []struct {
		name string
		path string
		body any
		want int
	}{
		{"text without chat", "/api/sendText", map[string]any{"session": "e1", "text": "hi"}, http.StatusBadRequest},
		{"text to a bad chat", "/api/sendText", map[string]any{"session": "e1", "chatId": "hello", "text": "hi"}, http.StatusBadRequest},
		{"text without text", "/api/sendText", map[string]any{"session": "e1", "chatId": "15550100200@c.us"}, http.StatusBadRequest},
		{"text to an unknown session", "/api/sendText", map[string]any{"session": "nope", "chatId": "15550100200@c.us", "text": "hi"}, http.StatusNotFound},
		{"text on an unscanned session", "/api/sendText", map[string]any{"session": "e2", "chatId": "15550100200@c.us", "text": "hi"}, http.StatusUnprocessableEntity},
		{"poll with one option", "/api/sendPoll", map[string]any{"session": "e1", "chatId": "15550100200@c.us", "poll": map[string]any{"name": "Q", "options": []string{"a"}, "multipleAnswers": false}}, http.StatusBadRequest},
		{"poll with object multipleAnswers", "/api/sendPoll", map[string]any{"session": "e1", "chatId": "15550100200@c.us", "poll": map[string]any{"name": "Q", "options": []string{"a", "b"}, "multipleAnswers": map[string]any{}}}, http.StatusBadRequest},
		{"poll without poll", "/api/sendPoll", map[string]any{"session": "e1", "chatId": "15550100200@c.us"}, http.StatusBadRequest},
		{"seen without chat", "/api/sendSeen", map[string]any{"session": "e1"}, http.StatusBadRequest},
		{"typing on an unscanned session", "/api/startTyping", map[string]any{"session": "e2", "chatId": "15550100200@c.us"}, http.StatusUnprocessableEntity},
		{"seen", "/api/sendSeen", map[string]any{"session": "e1", "chatId": "15550100200@c.us", "messageIds": []string{"false_15550100200@c.us_AAAA"}}, http.StatusCreated},
		{"start typing", "/api/startTyping", map[string]any{"session": "e1", "chatId": "15550100200@c.us"}, http.StatusCreated},
		{"stop typing", "/api/stopTyping", map[string]any{"session": "e1", "chatId": "15550100200@c.us"}, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.call(t, http.MethodPost, tt.path, tt.body)
			if got.status != tt.want {
				t.Fatalf("status %d, want %d: %s", got.status, tt.want, got.body)
			}
			if tt.want == http.StatusUnprocessableEntity {
				var e struct {
					Expected []string `json:"expected"`
					Status   string   `json:"status"`
				}
				got.json(t, &e)
				if !cmp.Equal(e.Expected, []string{waha.StatusWorking}) || e.Status != waha.StatusScanQR {
					t.Errorf("422 body %s", got.body)
				}
			}
		})
	}
	if n := len(s.Sent("e1")); n != 0 {
		t.Errorf("%d messages recorded from refused sends", n)
	}
}

func TestPollVotes(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "v1", h)
	var m struct {
		ID string `json:"id"`
	}
	s.mustCall(t, http.MethodPost, "/api/sendPoll", map[string]any{
		"session": "v1", "chatId": "15550100200@c.us",
		"poll": map[string]any{"name": "Coming?", "options": []string{"Yes", "No", "Maybe"}, "multipleAnswers": false},
	}, http.StatusCreated).json(t, &m)
	sent := s.Sent("v1")
	if len(sent) != 1 || sent[0].Type != "poll" || sent[0].Poll == nil || sent[0].Poll.Name != "Coming?" {
		t.Fatalf("Sent %+v", sent)
	}

	tests := []struct {
		name    string
		voter   string
		poll    string
		options []string
		want    error
	}{
		{"not an option", "", m.ID, []string{"Never"}, waha.ErrInvalid},
		{"two answers in a single-answer poll", "", m.ID, []string{"Yes", "No"}, waha.ErrInvalid},
		{"unknown poll", "", "true_15550100200@c.us_3EB0FFFFFFFFFFFFFFFFFF", []string{"Yes"}, waha.ErrUnknownMessage},
		{"vote", "15550100200", m.ID, []string{"Yes"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.LeadVotes("v1", tt.voter, tt.poll, tt.options...); !errors.Is(err, tt.want) {
				t.Errorf("err %v, want %v", err, tt.want)
			}
		})
	}
	vote := h.waitFor(t, "poll.vote", func(r hookRequest) bool { return r.env.Event == "poll.vote" })
	checkSigned(t, vote)
	var p struct {
		Vote struct {
			From            string   `json:"from"`
			SelectedOptions []string `json:"selectedOptions"`
		} `json:"vote"`
		Poll struct {
			ID string `json:"id"`
		} `json:"poll"`
	}
	if err := json.Unmarshal(vote.env.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.Poll.ID != m.ID || p.Vote.From != "15550100200@c.us" || !cmp.Equal(p.Vote.SelectedOptions, []string{"Yes"}) {
		t.Errorf("poll.vote payload %s", vote.env.Payload)
	}
	if problems := sameShape(decodeMap(t, vote.body), readExample(t, "poll.vote.json"), ""); len(problems) > 0 {
		t.Errorf("poll.vote differs from WAHA's example: %v\n%s", problems, vote.body)
	}

	if _, err := s.LeadVoteFails("v1", "", m.ID); err != nil {
		t.Fatal(err)
	}
	failed := h.waitFor(t, "poll.vote.failed", func(r hookRequest) bool { return r.env.Event == "poll.vote.failed" })
	if problems := sameShape(decodeMap(t, failed.body), readExample(t, "poll.vote.failed.json"), ""); len(problems) > 0 {
		t.Errorf("poll.vote.failed differs from WAHA's example: %v\n%s", problems, failed.body)
	}
}

func TestLIDs(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "d1", h)
	known, err := s.LeadSaysAsLID("d1", "201234567890123", "+15550100300", "Bia", "oi")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LeadSaysAsLID("d1", "209999999999999@lid", "", "Caio", "olá"); err != nil {
		t.Fatal(err)
	}
	r := h.waitFor(t, "message from a lid", func(r hookRequest) bool {
		return r.env.Event == "message" && bytes.Contains(r.env.Payload, []byte(known))
	})
	var p struct {
		From string `json:"from"`
	}
	if err := json.Unmarshal(r.env.Payload, &p); err != nil {
		t.Fatal(err)
	}
	if p.From != "201234567890123@lid" {
		t.Errorf("from %q, want the lid", p.From)
	}

	tests := []struct {
		name string
		path string
		want string
	}{
		{"known, with @lid", "/api/d1/lids/201234567890123%40lid", `{"lid":"201234567890123@lid","pn":"15550100300@c.us"}`},
		{"known, bare", "/api/d1/lids/201234567890123", `{"lid":"201234567890123@lid","pn":"15550100300@c.us"}`},
		{"unknown mapping", "/api/d1/lids/209999999999999@lid", `{"lid":"209999999999999@lid","pn":null}`},
		{"never seen", "/api/d1/lids/200000000000001@lid", `{"lid":"200000000000001@lid","pn":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.mustCall(t, http.MethodGet, tt.path, nil, http.StatusOK)
			if string(got.body) != tt.want {
				t.Errorf("body %s, want %s", got.body, tt.want)
			}
		})
	}
	// A reply to the lead's phone number joins the same person.
	s.mustCall(t, http.MethodPost, "/api/sendText", map[string]any{"session": "d1", "chatId": "15550100300@c.us", "text": "hi Bia"}, http.StatusCreated)
}

func TestCheckNumberStatus(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	s.working(t, "c1", nil)
	s.SetNumberExists("+1 555 0100 999", false)
	tests := []struct {
		name  string
		query string
		want  string
		code  int
	}{
		{"exists", "?phone=15550100200&session=c1", `{"chatId":"15550100200@c.us","numberExists":true}`, http.StatusOK},
		{"not on WhatsApp", "?phone=15550100999&session=c1", `{"numberExists":false}`, http.StatusOK},
		{"not a number", "?phone=123&session=c1", `{"numberExists":false}`, http.StatusOK},
		{"no phone", "?session=c1", "", http.StatusBadRequest},
		{"unknown session", "?phone=15550100200&session=zz", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.mustCall(t, http.MethodGet, "/api/checkNumberStatus"+tt.query, nil, tt.code)
			if tt.want != "" && string(got.body) != tt.want {
				t.Errorf("body %s, want %s", got.body, tt.want)
			}
		})
	}
}

// TestWebhookRetries: a receiver failing twice gets the same event, with
// the same event id and request id, three times.
func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, func(n int) int {
		if n < 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	s.createSession(t, "w1", h)
	h.waitFor(t, "SCAN_QR_CODE", isStatus(waha.StatusScanQR))
	s.flush(t)

	reqs := h.requests()
	if len(reqs) < 4 {
		t.Fatalf("%d requests, want STARTING three times then SCAN_QR_CODE: %s", len(reqs), h.summary())
	}
	for i, r := range reqs[:3] {
		checkSigned(t, r)
		if statusOf(r) != waha.StatusStarting || r.env.ID != reqs[0].env.ID ||
			r.header.Get("X-Webhook-Request-Id") != reqs[0].header.Get("X-Webhook-Request-Id") ||
			!bytes.Equal(r.body, reqs[0].body) {
			t.Errorf("try %d differs from the first: %s %s", i+1, r.header.Get("X-Webhook-Request-Id"), r.body)
		}
	}
	// Order holds: SCAN_QR_CODE comes after STARTING got through.
	if statusOf(reqs[3]) != waha.StatusScanQR || reqs[3].env.ID == reqs[0].env.ID {
		t.Errorf("fourth request %s", reqs[3].body)
	}
	var starting waha.Event
	for _, e := range s.Events() {
		if e.ID == reqs[0].env.ID {
			starting = e
		}
	}
	want := []waha.Delivery{{URL: h.url, RequestID: reqs[0].header.Get("X-Webhook-Request-Id"), Attempts: 3, Status: 200, Delivered: true}}
	if diff := cmp.Diff(want, starting.Deliveries); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
	if !bytes.Equal(starting.Body, reqs[0].body) {
		t.Error("Event.Body is not the body posted")
	}
}

func TestWebhookGivesUp(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, func(int) int { return http.StatusServiceUnavailable })
	s.mustCall(t, http.MethodPost, "/api/sessions", map[string]any{"name": "g1", "start": false, "config": map[string]any{
		"webhooks": []any{map[string]any{"url": h.url, "events": []string{"session.status"},
			"retries": map[string]any{"policy": "exponential", "delaySeconds": 1, "attempts": 2}}},
	}}, http.StatusCreated)
	s.mustCall(t, http.MethodPost, "/api/sessions/g1/start", nil, http.StatusCreated)
	s.waitStatus(t, "g1", waha.StatusScanQR)
	s.flush(t)
	events := s.Events()
	if len(events) != 2 {
		t.Fatalf("%d events, want STARTING and SCAN_QR_CODE", len(events))
	}
	for _, e := range events {
		if len(e.Deliveries) != 1 {
			t.Fatalf("deliveries %+v", e.Deliveries)
		}
		d := e.Deliveries[0]
		if d.Attempts != 3 || d.Delivered || !d.GaveUp || d.Status != http.StatusServiceUnavailable {
			t.Errorf("%s delivery %+v, want 3 tries and given up", e.Type, d)
		}
	}
	if n := len(h.requests()); n != 6 {
		t.Errorf("%d requests, want 2 events × 3 tries", n)
	}
}

func TestWebhookUnreachable(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	s.mustCall(t, http.MethodPost, "/api/sessions", map[string]any{"name": "n1", "config": map[string]any{
		"webhooks": []any{map[string]any{"url": "http://127.0.0.1:1/hook", "events": []string{"*"},
			"retries": map[string]any{"delaySeconds": 1, "attempts": 1}}},
	}}, http.StatusCreated)
	// Deliveries never hold up the API.
	s.waitStatus(t, "n1", waha.StatusScanQR)
	s.flush(t)
	for _, e := range s.Events() {
		if d := e.Deliveries[0]; d.Attempts != 2 || !d.GaveUp || d.Err == "" || d.Status != 0 {
			t.Errorf("delivery %+v, want 2 failed tries with an error", d)
		}
	}
}

func TestDropSession(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "f1", h)
	s.flush(t)
	before := len(h.requests())
	if err := s.DropSession("f1"); err != nil {
		t.Fatal(err)
	}
	var info struct {
		Status string `json:"status"`
	}
	s.mustCall(t, http.MethodGet, "/api/sessions/f1", nil, http.StatusOK).json(t, &info)
	if info.Status != waha.StatusFailed {
		t.Errorf("status %s after drop", info.Status)
	}
	s.flush(t)
	if n := len(h.requests()); n != before {
		t.Errorf("drop sent %d webhooks", n-before)
	}
	// The app's reconciliation restarts it; the pairing holds.
	s.mustCall(t, http.MethodPost, "/api/sessions/f1/restart", nil, http.StatusCreated)
	s.waitStatus(t, "f1", waha.StatusWorking)
	if err := s.DropSession("nope"); !errors.Is(err, waha.ErrUnknownSession) {
		t.Errorf("drop unknown: %v", err)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	s.working(t, "k1", nil)
	body := map[string]any{"session": "k1", "chatId": "15550100200@c.us", "text": "hi", "id": "3EB0AAAAAAAAAAAAAAAAAA"}
	s.FailNext("/api/sendText", http.StatusServiceUnavailable, 2)
	for range 2 {
		s.mustCall(t, http.MethodPost, "/api/sendText", body, http.StatusServiceUnavailable)
	}
	if n := len(s.Sent("k1")); n != 0 {
		t.Errorf("failed sends recorded %d messages", n)
	}
	s.mustCall(t, http.MethodPost, "/api/sendText", body, http.StatusCreated)

	// A chat that refuses sends answers 400 until it accepts them again.
	refused := map[string]any{"session": "k1", "chatId": "15550100300@c.us", "text": "hi", "id": "3EB0CCCCCCCCCCCCCCCCCC"}
	s.RefuseSendsTo("+1 555 0100 300", true)
	s.mustCall(t, http.MethodPost, "/api/sendText", refused, http.StatusBadRequest)
	if n := len(s.Sent("k1")); n != 1 {
		t.Errorf("a refused send recorded a message: %d sent", n)
	}
	s.RefuseSendsTo("15550100300", false)
	s.mustCall(t, http.MethodPost, "/api/sendText", refused, http.StatusCreated)

	// Faults by route pattern.
	s.FailNext("/api/{session}/new-message-id", http.StatusBadGateway, 1)
	s.mustCall(t, http.MethodGet, "/api/k1/new-message-id", nil, http.StatusBadGateway)
	s.mustCall(t, http.MethodGet, "/api/k1/new-message-id", nil, http.StatusOK)

	// A delayed answer: the caller gives up, the message is sent anyway.
	s.Delay("/api/sendText", time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	data, err := json.Marshal(map[string]any{"session": "k1", "chatId": "15550100200@c.us", "text": "slow", "id": "3EB0BBBBBBBBBBBBBBBBBB"})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/api/sendText", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Api-Key", testKey)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatal("the delayed answer came before the caller's timeout")
	}
	deadline := time.Now().Add(wait)
	for len(s.Sent("k1")) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the delayed send was not carried out")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Delay("/api/sendText", 0)

	var failed []waha.Call
	for _, c := range s.Calls() {
		if c.Route == "/api/{session}/new-message-id" && c.Status == http.StatusBadGateway {
			failed = append(failed, c)
		}
	}
	if len(failed) != 1 || failed[0].Session != "k1" || failed[0].Path != "/api/k1/new-message-id" {
		t.Errorf("calls answered by the injected fault: %+v", failed)
	}
	for _, c := range s.Calls() {
		if c.Route == "/api/sendText" {
			if c.Session != "k1" || c.Status != http.StatusServiceUnavailable {
				t.Errorf("first send %+v", c)
			}
			break
		}
	}
}

// checkRequired checks that v has the required properties of a schema of
// WAHA's spec (not those listed as known mistakes).
func checkRequired(t *testing.T, v map[string]any, schema string, except ...string) []string {
	t.Helper()
	spec := readSpec(t)
	s, ok := spec.Components.Schemas[schema]
	if !ok {
		t.Fatalf("spec has no schema %s", schema)
	}
	var problems []string
	for _, name := range s.Required {
		if _, ok := v[name]; !ok && !contains(except, name) {
			problems = append(problems, "missing "+name)
		}
	}
	return problems
}

// specDoc is the part of WAHA's OpenAPI spec the tests read.
type specDoc struct {
	Components struct {
		Schemas map[string]struct {
			Required []string `json:"required"`
		} `json:"schemas"`
	} `json:"components"`
}

func readSpec(t *testing.T) specDoc {
	t.Helper()
	var doc specDoc
	data, err := os.ReadFile(filepath.Join(wahaDir, "openapi.json"))
	if err != nil {
		t.Fatalf("read WAHA spec (expected in %s): %v", wahaDir, err)
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestRun(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- waha.Run(ctx, addr, waha.Options{APIKey: testKey}, nil) }()
	deadline := time.Now().Add(wait)
	for {
		res, err := http.Get("http://" + addr + "/ping")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the stand-in did not answer on %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return after its context ended")
	}
	if err := waha.Run(context.Background(), "256.0.0.1:1", waha.Options{}, nil); err == nil {
		t.Error("Run on a bad address: no error")
	}
}
