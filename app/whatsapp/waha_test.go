package whatsapp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/whatsapp"
)

// fakeWAHA answers every request with handle and counts the requests.
type fakeWAHA struct {
	URL   string
	calls atomic.Int32
}

func newFakeWAHA(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *fakeWAHA {
	t.Helper()
	f := &fakeWAHA{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(f.calls.Add(1))
		handle(n, w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func answer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func TestSessionName(t *testing.T) {
	safe := regexp.MustCompile(`^[A-Za-z0-9_-]{1,54}$`)
	tests := []struct {
		tenant, instance int64
		want             string
	}{
		{12, 34, "t12_i34"},
		{1, 2, "t1_i2"},
		{9223372036854775807, 9223372036854775807, "t9223372036854775807_i9223372036854775807"},
		{-9223372036854775808, -9223372036854775808, "t-9223372036854775808_i-9223372036854775808"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			got := whatsapp.SessionName(tc.tenant, tc.instance)
			if got != tc.want {
				t.Errorf("SessionName(%d, %d) = %q, want %q", tc.tenant, tc.instance, got, tc.want)
			}
			if !safe.MatchString(got) {
				t.Errorf("SessionName(%d, %d) = %q: not safe", tc.tenant, tc.instance, got)
			}
			if err := whatsapp.ValidSessionName(got); err != nil {
				t.Errorf("ValidSessionName(%q) = %v", got, err)
			}
			if again := whatsapp.SessionName(tc.tenant, tc.instance); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
		})
	}
	// Unique per instance: no two pairs give the same name.
	names := map[string][2]int64{}
	for tenant := int64(0); tenant < 120; tenant++ {
		for inst := int64(0); inst < 120; inst++ {
			n := whatsapp.SessionName(tenant, inst)
			if prev, ok := names[n]; ok {
				t.Fatalf("SessionName(%d, %d) = SessionName(%d, %d) = %q", tenant, inst, prev[0], prev[1], n)
			}
			names[n] = [2]int64{tenant, inst}
		}
	}
}

func TestValidSessionName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"t1_i2", true},
		{"default", true},
		{"a-B_9", true},
		{strings.Repeat("a", 54), true},
		{strings.Repeat("a", 55), false},
		{"", false},
		{"../etc", false},
		{"a/b", false},
		{"a b", false},
		{"a.b", false},
		{"a%2F", false},
		{"ñ", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := whatsapp.ValidSessionName(tc.name); (err == nil) != tc.ok {
				t.Errorf("ValidSessionName(%q) = %v, want ok %v", tc.name, err, tc.ok)
			}
		})
	}
}

// TestWAHARefusesUnsafeNames: nothing is sent for an unsafe session name.
func TestWAHARefusesUnsafeNames(t *testing.T) {
	f := newFakeWAHA(t, func(int, http.ResponseWriter, *http.Request) {})
	w := newTestWAHA(f.URL)
	ctx := context.Background()
	bad := "../../api/keys"
	errs := map[string]error{
		"CreateSession": func() error { _, err := w.CreateSession(ctx, whatsapp.SessionSpec{Name: bad}); return err }(),
		"Session":       func() error { _, err := w.Session(ctx, bad); return err }(),
		"QR":            func() error { _, err := w.QR(ctx, bad); return err }(),
		"DeleteSession": w.DeleteSession(ctx, bad),
		"SendText": func() error {
			_, err := w.SendText(ctx, whatsapp.Text{Session: bad, ChatID: "1@c.us", Body: "x"})
			return err
		}(),
		"PhoneForLID": func() error { _, err := w.PhoneForLID(ctx, bad, "1@lid"); return err }(),
	}
	for name, err := range errs {
		if !errors.Is(err, whatsapp.ErrBadRequest) {
			t.Errorf("%s: err = %v, want ErrBadRequest", name, err)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

func TestWAHARetries(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		status    []int // answer n gets status[n-1], the last one after that
		call      func(w *whatsapp.WAHA) error
		wantCalls int32
		wantErr   error
	}{
		{
			name:   "idempotent call retried after 5xx",
			status: []int{502, 503, 200},
			call: func(w *whatsapp.WAHA) error {
				_, err := w.Session(ctx, "t1_i2")
				return err
			},
			wantCalls: 3,
		},
		{
			name:   "idempotent call gives up",
			status: []int{500},
			call: func(w *whatsapp.WAHA) error {
				_, err := w.NewMessageID(ctx, "t1_i2")
				return err
			},
			wantCalls: 3,
			wantErr:   whatsapp.ErrUnavailable,
		},
		{
			name:      "429 is retried",
			status:    []int{429, 200},
			call:      func(w *whatsapp.WAHA) error { return w.StartSession(ctx, "t1_i2") },
			wantCalls: 2,
		},
		{
			name:   "SendText is never retried",
			status: []int{500, 201},
			call: func(w *whatsapp.WAHA) error {
				_, err := w.SendText(ctx, whatsapp.Text{Session: "t1_i2", ChatID: "1@c.us", ID: "ABC", Body: "hi"})
				return err
			},
			wantCalls: 1,
			wantErr:   whatsapp.ErrUnavailable,
		},
		{
			name:   "SendPoll is never retried",
			status: []int{503, 201},
			call: func(w *whatsapp.WAHA) error {
				_, err := w.SendPoll(ctx, whatsapp.Poll{Session: "t1_i2", ChatID: "1@c.us", Name: "Q", Options: []string{"a", "b"}})
				return err
			},
			wantCalls: 1,
			wantErr:   whatsapp.ErrUnavailable,
		},
		{
			name:   "SendImage is never retried",
			status: []int{502, 201},
			call: func(w *whatsapp.WAHA) error {
				_, err := w.SendImage(ctx, whatsapp.Image{Session: "t1_i2", ChatID: "1@c.us", ID: "ABC", Mime: "image/png", Data: []byte("png"), Caption: "hi"})
				return err
			},
			wantCalls: 1,
			wantErr:   whatsapp.ErrUnavailable,
		},
		{
			name:   "4xx is not retried",
			status: []int{400, 200},
			call: func(w *whatsapp.WAHA) error {
				_, err := w.Session(ctx, "t1_i2")
				return err
			},
			wantCalls: 1,
			wantErr:   whatsapp.ErrBadRequest,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWAHA(t, func(n int, w http.ResponseWriter, r *http.Request) {
				status := tc.status[min(n, len(tc.status))-1]
				switch {
				case status >= 300:
					answer(w, status, `{"statusCode":`+strconv.Itoa(status)+`,"message":"failed"}`)
				case r.URL.Path == "/api/t1_i2/new-message-id":
					answer(w, status, `{"id":"ABC"}`)
				default:
					answer(w, status, `{"name":"t1_i2","status":"WORKING","id":"true_1@c.us_ABC"}`)
				}
			})
			err := tc.call(newTestWAHA(f.URL))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
			if got := f.calls.Load(); got != tc.wantCalls {
				t.Errorf("%d requests, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestWAHAErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		status  int
		body    string
		call    func(w *whatsapp.WAHA) error
		wantErr error
		// wantText must appear in the error.
		wantText []string
	}{
		{
			name:   "400 keeps the gateway's message",
			status: 400,
			body:   `{"statusCode":400,"message":["chatId must be a string","text should not be empty","key {key} used"],"error":"Bad Request"}`,
			call: func(w *whatsapp.WAHA) error {
				_, err := w.SendText(ctx, whatsapp.Text{Session: "t1_i2", ChatID: "1@c.us", Body: "hi"})
				return err
			},
			wantErr:  whatsapp.ErrBadRequest,
			wantText: []string{"send text", "chatId must be a string; text should not be empty", "[redacted]", "HTTP 400"},
		},
		{
			name:     "plain-text 4xx",
			status:   413,
			body:     "  request\n entity too large for {key} ",
			call:     func(w *whatsapp.WAHA) error { return w.StartSession(ctx, "t1_i2") },
			wantErr:  whatsapp.ErrBadRequest,
			wantText: []string{"start session", "request entity too large"},
		},
		{
			name:     "401",
			status:   401,
			body:     `{"message":"Unauthorized: bad key {key}","statusCode":401}`,
			call:     func(w *whatsapp.WAHA) error { _, err := w.Session(ctx, "t1_i2"); return err },
			wantErr:  whatsapp.ErrUnauthorized,
			wantText: []string{"get session"},
		},
		{
			name:    "403",
			status:  403,
			body:    `{"message":"Forbidden"}`,
			call:    func(w *whatsapp.WAHA) error { return w.Logout(ctx, "t1_i2") },
			wantErr: whatsapp.ErrUnauthorized,
		},
		{
			name:     "404 on a session",
			status:   404,
			body:     `{"statusCode":404,"message":"We didn't find a session with name 't1_i2' ({key}).","error":"Not Found"}`,
			call:     func(w *whatsapp.WAHA) error { return w.DeleteSession(ctx, "t1_i2") },
			wantErr:  whatsapp.ErrSessionNotFound,
			wantText: []string{"delete session"},
		},
		{
			name:     "422 wrong status",
			status:   422,
			body:     `{"error":"Session status is not as expected. Try again later or restart the session","session":"t1_i2","status":"WORKING","expected":["SCAN_QR_CODE"]}`,
			call:     func(w *whatsapp.WAHA) error { _, err := w.QR(ctx, "t1_i2"); return err },
			wantErr:  whatsapp.ErrWrongStatus,
			wantText: []string{"get QR code", "status WORKING"},
		},
		{
			name:    "422 otherwise",
			status:  422,
			body:    `{"statusCode":422,"message":"Invalid phone number","error":"Unprocessable Entity"}`,
			call:    func(w *whatsapp.WAHA) error { _, err := w.RequestCode(ctx, "t1_i2", "15551234567"); return err },
			wantErr: whatsapp.ErrBadRequest,
		},
		{
			name:    "5xx",
			status:  500,
			body:    `{"statusCode":500,"message":"Internal server error with {key}"}`,
			call:    func(w *whatsapp.WAHA) error { _, err := w.CheckNumber(ctx, "t1_i2", "15551234567"); return err },
			wantErr: whatsapp.ErrUnavailable,
		},
		{
			name:    "unreadable answer",
			status:  200,
			body:    `<html>`,
			call:    func(w *whatsapp.WAHA) error { _, err := w.NewMessageID(ctx, "t1_i2"); return err },
			wantErr: whatsapp.ErrUnavailable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWAHA(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				// A careless gateway echoes the key; it must not reach us.
				answer(w, tc.status, strings.ReplaceAll(tc.body, "{key}", r.Header.Get("X-Api-Key")))
			})
			err := tc.call(newTestWAHA(f.URL))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, s := range tc.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), testAPIKey) {
				t.Errorf("error %q shows the API key", err)
			}
			var ge *whatsapp.GatewayError
			if !errors.As(err, &ge) || ge.Status != tc.status {
				t.Errorf("GatewayError status = %+v, want %d", ge, tc.status)
			}
		})
	}
}

func TestWAHATimeout(t *testing.T) {
	release := make(chan struct{})
	f := newFakeWAHA(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	w := whatsapp.NewWAHA(whatsapp.WAHAConfig{
		BaseURL: f.URL, APIKey: testAPIKey, HTTPClient: &http.Client{Timeout: 30 * time.Millisecond},
		Attempts: 2, Backoff: time.Millisecond,
	})
	_, err := w.Session(context.Background(), "t1_i2")
	if !errors.Is(err, whatsapp.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), testAPIKey) {
		t.Errorf("error %q shows the API key", err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}

	// A send that times out is tried once.
	before := f.calls.Load()
	_, err = w.SendText(context.Background(), whatsapp.Text{Session: "t1_i2", ChatID: "1@c.us", Body: "hi"})
	if !errors.Is(err, whatsapp.ErrUnavailable) {
		t.Fatalf("SendText err = %v, want ErrUnavailable", err)
	}
	if n := f.calls.Load() - before; n != 1 {
		t.Errorf("SendText: %d requests, want 1", n)
	}
}

func TestWAHAContextCanceledDuringBackoff(t *testing.T) {
	f := newFakeWAHA(t, func(_ int, w http.ResponseWriter, _ *http.Request) { answer(w, 503, `{}`) })
	w := whatsapp.NewWAHA(whatsapp.WAHAConfig{BaseURL: f.URL, APIKey: testAPIKey, Attempts: 5, Backoff: time.Hour, MaxBackoff: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := w.Session(ctx, "t1_i2")
	if !errors.Is(err, whatsapp.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want ErrUnavailable and DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v: the backoff ignored the context", d)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestWAHAUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	w := whatsapp.NewWAHA(whatsapp.WAHAConfig{BaseURL: url, APIKey: testAPIKey, Attempts: 2, Backoff: time.Millisecond})
	err := w.StopTyping(context.Background(), "t1_i2", "1@c.us")
	if !errors.Is(err, whatsapp.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "stop typing") || strings.Contains(err.Error(), testAPIKey) {
		t.Errorf("error %q: want the operation, not the key", err)
	}
}

// TestWAHAHeaders: every request carries the key; JSON calls ask for JSON.
func TestWAHAHeaders(t *testing.T) {
	f := newFakeWAHA(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != testAPIKey {
			answer(w, 401, `{}`)
			return
		}
		if r.Header.Get("Accept") != "application/json" {
			answer(w, 406, `{"message":"Accept"}`)
			return
		}
		if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" {
			answer(w, 415, `{"message":"Content-Type"}`)
			return
		}
		answer(w, 201, `{}`)
	})
	w := newTestWAHA(f.URL)
	if err := w.SendSeen(context.Background(), "t1_i2", "1@c.us", "false_1@c.us_A"); err != nil {
		t.Fatal(err)
	}
}

func TestWAHAEmptyAnswers(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		status int
		body   string
		call   func(w *whatsapp.WAHA) (any, error)
		want   any
	}{
		{"lid unknown, empty body", 200, "", func(w *whatsapp.WAHA) (any, error) { return w.PhoneForLID(ctx, "t1_i2", "123") }, ""},
		{"lid unknown, no pn", 200, `{"lid":"123@lid","pn":null}`, func(w *whatsapp.WAHA) (any, error) { return w.PhoneForLID(ctx, "t1_i2", "123@lid") }, ""},
		{"lid unknown, 404", 404, `{"message":"Not Found"}`, func(w *whatsapp.WAHA) (any, error) { return w.PhoneForLID(ctx, "t1_i2", "123@lid") }, ""},
		{"message missing, empty body", 200, "", func(w *whatsapp.WAHA) (any, error) {
			return w.MessageExists(ctx, "t1_i2", "1@c.us", "ABC")
		}, false},
		{"message missing, null", 200, "null", func(w *whatsapp.WAHA) (any, error) {
			return w.MessageExists(ctx, "t1_i2", "1@c.us", "ABC")
		}, false},
		{"message missing, 404", 404, `{"statusCode":404,"message":"Message not found"}`, func(w *whatsapp.WAHA) (any, error) {
			return w.MessageExists(ctx, "t1_i2", "1@c.us", "ABC")
		}, false},
		{"session info without me", 200, `{"name":"t1_i2","status":"SCAN_QR_CODE","me":null}`, func(w *whatsapp.WAHA) (any, error) {
			return w.Session(ctx, "t1_i2")
		}, whatsapp.SessionInfo{Name: "t1_i2", Status: whatsapp.StatusScanQR}},
		{"chat unknown, 404", 404, `{"statusCode":404,"message":"Chat not found"}`, func(w *whatsapp.WAHA) (any, error) {
			return w.SentSince(ctx, "t1_i2", "1@c.us", time.Unix(1700000000, 0), 10)
		}, []whatsapp.ChatMessage(nil)},
		{"chat empty", 200, `[]`, func(w *whatsapp.WAHA) (any, error) {
			return w.SentSince(ctx, "t1_i2", "1@c.us", time.Unix(1700000000, 0), 10)
		}, []whatsapp.ChatMessage{}},
		{"delete answers nothing", 200, "", func(w *whatsapp.WAHA) (any, error) { return nil, w.DeleteSession(ctx, "t1_i2") }, nil},
		{"typing answers nothing", 201, "", func(w *whatsapp.WAHA) (any, error) { return nil, w.StartTyping(ctx, "t1_i2", "1@c.us") }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWAHA(t, func(_ int, w http.ResponseWriter, _ *http.Request) { answer(w, tc.status, tc.body) })
			got, err := tc.call(newTestWAHA(f.URL))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("404 naming the session", func(t *testing.T) {
		f := newFakeWAHA(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			answer(w, 404, `{"statusCode":404,"message":"We didn't find a session with name 't1_i2'"}`)
		})
		_, err := newTestWAHA(f.URL).MessageExists(ctx, "t1_i2", "1@c.us", "ABC")
		if !errors.Is(err, whatsapp.ErrSessionNotFound) {
			t.Errorf("err = %v, want ErrSessionNotFound", err)
		}
	})
}

func TestWAHASentID(t *testing.T) {
	tests := []struct {
		name string
		body string
		id   string
		want string
	}{
		{"string id (GOWS)", `{"id":"true_1@c.us_GOWSID","timestamp":1700000000}`, "ABC", "true_1@c.us_GOWSID"},
		{"object id (WEBJS)", `{"id":{"fromMe":true,"remote":"1@c.us","id":"W","_serialized":"true_1@c.us_W"}}`, "ABC", "true_1@c.us_W"},
		{"key (NOWEB)", `{"key":{"remoteJid":"1@s.whatsapp.net","fromMe":true,"id":"NOWEBID"},"messageTimestamp":"1700000000"}`, "", "true_1@c.us_NOWEBID"},
		{"nothing: the pre-generated id", `{}`, "ABC", "true_1@c.us_ABC"},
		{"empty body: the pre-generated id", ``, "ABC", "true_1@c.us_ABC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWAHA(t, func(_ int, w http.ResponseWriter, _ *http.Request) { answer(w, 201, tc.body) })
			got, err := newTestWAHA(f.URL).SendText(context.Background(), whatsapp.Text{Session: "t1_i2", ChatID: "1@c.us", ID: tc.id, Body: "hi"})
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != tc.want {
				t.Errorf("ID = %q, want %q", got.ID, tc.want)
			}
			if got.Timestamp.IsZero() {
				t.Error("no timestamp")
			}
		})
	}
}

// TestWAHASentSince: the chat's list is asked for the account's messages
// since the time, newest first, without media; what the engine does not
// filter out (another's message, an older one) is left out here, and an id
// in WEBJS's object form is read.
func TestWAHASentSince(t *testing.T) {
	var query url.Values
	f := newFakeWAHA(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		query = r.URL.Query()
		answer(w, 200, `[
			{"id":"true_1@c.us_NEW","fromMe":true,"body":"Sale","hasMedia":true,"ack":2,"timestamp":1700000100},
			{"id":"false_1@c.us_THEIRS","fromMe":false,"body":"Hi","timestamp":1700000090},
			{"id":{"_serialized":"true_1@c.us_OBJ"},"fromMe":true,"body":"Hello","ack":1,"timestamp":1700000050},
			{"id":"true_1@c.us_OLD","fromMe":true,"body":"Sale","hasMedia":true,"timestamp":1699999000}]`)
	})
	got, err := newTestWAHA(f.URL).SentSince(context.Background(), "t1_i2", "1@c.us", time.Unix(1700000000, 0), 20)
	if err != nil {
		t.Fatal(err)
	}
	want := []whatsapp.ChatMessage{
		{ID: "true_1@c.us_NEW", Key: "NEW", Body: "Sale", HasMedia: true, Ack: 2, Timestamp: time.Unix(1700000100, 0).UTC()},
		{ID: "true_1@c.us_OBJ", Key: "OBJ", Body: "Hello", Ack: 1, Timestamp: time.Unix(1700000050, 0).UTC()},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	wantQuery := url.Values{"limit": {"20"}, "sortOrder": {"desc"}, "downloadMedia": {"false"},
		"filter.fromMe": {"true"}, "filter.timestamp.gte": {"1700000000"}}
	if diff := cmp.Diff(wantQuery, query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
}

// TestWAHAImageWithoutID: sendImage carries no pre-generated id (WAHA's spec
// has none for it) and the image's id is the answer's, or none.
func TestWAHAImageWithoutID(t *testing.T) {
	var body map[string]any
	f := newFakeWAHA(t, func(n int, w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&body)
		if n == 1 {
			answer(w, 201, `{"id":"true_1@c.us_GATEWAY","timestamp":1700000000}`)
			return
		}
		answer(w, 201, `{}`)
	})
	p := newTestWAHA(f.URL)
	img := whatsapp.Image{Session: "t1_i2", ChatID: "1@c.us", ID: "OURS", Mime: "image/png", Data: []byte("\x89PNG"), Caption: "Sale"}
	for _, want := range []string{"true_1@c.us_GATEWAY", ""} {
		got, err := p.SendImage(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		if _, sent := body["id"]; sent || got.ID != want {
			t.Errorf("sent id %v; answer's id %q, want %q", body["id"], got.ID, want)
		}
	}
}

// TestWAHAPollRefusedBeforeSending: a poll WhatsApp would refuse is refused
// without a request; the poll's id is read like a text's.
func TestWAHAPollRefusedBeforeSending(t *testing.T) {
	f := newFakeWAHA(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		answer(w, 201, `{"id":{"fromMe":true,"remote":"1@c.us","id":"P","_serialized":"true_1@c.us_P"}}`)
	})
	w := newTestWAHA(f.URL)
	ctx := context.Background()
	thirteen := make([]string, 13)
	for i := range thirteen {
		thirteen[i] = "option " + strconv.Itoa(i)
	}
	tests := []struct {
		name string
		poll whatsapp.Poll
	}{
		{"no name", whatsapp.Poll{Options: []string{"a", "b"}}},
		{"one option", whatsapp.Poll{Name: "Q", Options: []string{"a"}}},
		{"thirteen options", whatsapp.Poll{Name: "Q", Options: thirteen}},
		{"an empty option", whatsapp.Poll{Name: "Q", Options: []string{"a", " "}}},
		{"the same option twice", whatsapp.Poll{Name: "Q", Options: []string{"a", "b", "a"}}},
		{"no chat", whatsapp.Poll{Name: "Q", Options: []string{"a", "b"}, ChatID: "-"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.poll.Session = "t1_i2"
			if tc.poll.ChatID == "" {
				tc.poll.ChatID = "1@c.us"
			} else if tc.poll.ChatID == "-" {
				tc.poll.ChatID = ""
			}
			if _, err := w.SendPoll(ctx, tc.poll); !errors.Is(err, whatsapp.ErrBadRequest) {
				t.Errorf("err = %v, want ErrBadRequest", err)
			}
		})
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d requests for refused polls", n)
	}
	got, err := w.SendPoll(ctx, whatsapp.Poll{Session: "t1_i2", ChatID: "1@c.us", Name: "Q", Options: thirteen[:12]})
	if err != nil || got.ID != "true_1@c.us_P" {
		t.Errorf("twelve options: %+v, %v", got, err)
	}
}

// TestWAHAImageChecks: images WhatsApp would refuse (no bytes, no type, a
// caption over MaxCaption characters) are refused without a request.
func TestWAHAImageChecks(t *testing.T) {
	f := newFakeWAHA(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		answer(w, 201, `{"id":"true_1@c.us_I"}`)
	})
	w := newTestWAHA(f.URL)
	ctx := context.Background()
	ok := whatsapp.Image{Session: "t1_i2", ChatID: "1@c.us", Mime: "image/jpeg", Data: []byte("jpeg")}
	tests := []struct {
		name string
		edit func(*whatsapp.Image)
	}{
		{"no bytes", func(m *whatsapp.Image) { m.Data = nil }},
		{"no type", func(m *whatsapp.Image) { m.Mime = "" }},
		{"no chat", func(m *whatsapp.Image) { m.ChatID = "" }},
		{"caption too long", func(m *whatsapp.Image) { m.Caption = strings.Repeat("é", whatsapp.MaxCaption+1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := ok
			tc.edit(&m)
			if _, err := w.SendImage(ctx, m); !errors.Is(err, whatsapp.ErrBadRequest) {
				t.Errorf("err = %v, want ErrBadRequest", err)
			}
		})
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d requests for refused images", n)
	}
	m := ok
	m.Caption = strings.Repeat("é", whatsapp.MaxCaption)
	if got, err := w.SendImage(ctx, m); err != nil || got.ID != "true_1@c.us_I" {
		t.Errorf("longest caption: %+v, %v", got, err)
	}
}

// TestWAHAQRAsJSON: some versions answer the image as {mimetype, data}.
func TestWAHAQRAsJSON(t *testing.T) {
	f := newFakeWAHA(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("format") == "raw" {
			answer(w, 200, `{"value":"2@abc"}`)
			return
		}
		answer(w, 200, `{"mimetype":"image/png","data":"`+base64.StdEncoding.EncodeToString(pngBytes)+`"}`)
	})
	got, err := newTestWAHA(f.URL).QR(context.Background(), "t1_i2")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(whatsapp.QR{PNG: pngBytes, Value: "2@abc"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestWAHAPathEscaping: ids reach WAHA as single, escaped path segments.
func TestWAHAPathEscaping(t *testing.T) {
	var got string
	f := newFakeWAHA(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		got = r.URL.EscapedPath()
		answer(w, 200, `{"id":"x"}`)
	})
	if _, err := newTestWAHA(f.URL).MessageExists(context.Background(), "t1_i2", "1@c.us", "true_1@c.us_A/B?C"); err != nil {
		t.Fatal(err)
	}
	if want := "/api/t1_i2/chats/1%40c.us/messages/true_1%40c.us_A%2FB%3FC"; got != want {
		t.Errorf("path %q, want %q", got, want)
	}
}

func TestWAHACreateSessionNeedsWebhook(t *testing.T) {
	f := newFakeWAHA(t, func(int, http.ResponseWriter, *http.Request) {})
	w := whatsapp.NewWAHA(whatsapp.WAHAConfig{BaseURL: f.URL, APIKey: testAPIKey})
	_, err := w.CreateSession(context.Background(), whatsapp.SessionSpec{Name: "t1_i2"})
	if !errors.Is(err, whatsapp.ErrBadRequest) {
		t.Errorf("err = %v, want ErrBadRequest", err)
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d requests, want none", n)
	}
}
