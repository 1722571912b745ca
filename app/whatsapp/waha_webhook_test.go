package whatsapp_test

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/whatsapp"
)

const testWebhookSecret = "webhook-secret"

func readExample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(wahaDir, "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func sign(key string, body []byte) string {
	mac := hmac.New(sha512.New, []byte(key))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func signed(body []byte) http.Header {
	h := http.Header{}
	h.Set("X-Webhook-Hmac", sign(testWebhookSecret, body))
	h.Set("X-Webhook-Hmac-Algorithm", "sha512")
	return h
}

func TestWAHAWebhookHMACVector(t *testing.T) {
	var v struct {
		Algorithm string `json:"algorithm"`
		Key       string `json:"key"`
		Body      string `json:"body"`
		Expected  string `json:"expected_x_webhook_hmac"`
	}
	if err := json.Unmarshal(readExample(t, "hmac-sha512-test-vector.json"), &v); err != nil {
		t.Fatal(err)
	}
	if got := sign(v.Key, []byte(v.Body)); got != v.Expected {
		t.Fatalf("test helper signs %s, want %s", got, v.Expected)
	}
	h := http.Header{}
	h.Set("X-Webhook-Hmac", v.Expected)
	h.Set("X-Webhook-Hmac-Algorithm", v.Algorithm)
	_, err := whatsapp.NewWAHAWebhooks(v.Key).ParseWebhook(h, []byte(v.Body))
	// The vector's body is signed right but is no full event.
	if !errors.Is(err, whatsapp.ErrMalformed) {
		t.Errorf("err = %v, want ErrMalformed (signature accepted, body incomplete)", err)
	}
}

func TestWAHAWebhookSignature(t *testing.T) {
	body := readExample(t, "message.json")
	other := readExample(t, "message.ack.json")
	modified := []byte(strings.Replace(string(body), "Hi there!", "Hi there?", 1))
	tests := []struct {
		name    string
		secret  string
		header  http.Header
		body    []byte
		wantErr error
	}{
		{"signed", testWebhookSecret, signed(body), body, nil},
		{"without the algorithm header", testWebhookSecret, http.Header{"X-Webhook-Hmac": {sign(testWebhookSecret, body)}}, body, nil},
		{"uppercase algorithm", testWebhookSecret, http.Header{"X-Webhook-Hmac": {sign(testWebhookSecret, body)}, "X-Webhook-Hmac-Algorithm": {"SHA512"}}, body, nil},
		{"unsigned", testWebhookSecret, http.Header{}, body, whatsapp.ErrBadSignature},
		{"wrong key", testWebhookSecret, http.Header{"X-Webhook-Hmac": {sign("other", body)}}, body, whatsapp.ErrBadSignature},
		{"signature of another body", testWebhookSecret, signed(other), body, whatsapp.ErrBadSignature},
		{"replayed signature, modified body", testWebhookSecret, signed(body), modified, whatsapp.ErrBadSignature},
		{"re-encoded body", testWebhookSecret, signed(body), reencode(t, body), whatsapp.ErrBadSignature},
		{"not hex", testWebhookSecret, http.Header{"X-Webhook-Hmac": {"zz" + sign(testWebhookSecret, body)[2:]}}, body, whatsapp.ErrBadSignature},
		{"truncated", testWebhookSecret, http.Header{"X-Webhook-Hmac": {sign(testWebhookSecret, body)[:64]}}, body, whatsapp.ErrBadSignature},
		{"other algorithm", testWebhookSecret, http.Header{"X-Webhook-Hmac": {sign(testWebhookSecret, body)}, "X-Webhook-Hmac-Algorithm": {"sha256"}}, body, whatsapp.ErrBadSignature},
		{"no secret configured", "", http.Header{"X-Webhook-Hmac": {sign("", body)}}, body, whatsapp.ErrBadSignature},
		{"malformed but signed", testWebhookSecret, signed([]byte(`{"id":`)), []byte(`{"id":`), whatsapp.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := whatsapp.NewWAHAWebhooks(tc.secret).ParseWebhook(tc.header, tc.body)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// reencode decodes and encodes JSON again, as a careless verifier would.
func reencode(t *testing.T, body []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWAHAWebhookEvents(t *testing.T) {
	meta := map[string]string{"tenant.id": "t_123", "user.email": "email@example.com"}
	me := &whatsapp.Account{ID: "71111111111@c.us", Phone: "+71111111111", PushName: "~"}
	tests := []struct {
		file string
		want whatsapp.Event
	}{
		{"message.json", whatsapp.Event{
			ID: "evt_01aaaaaaaaaaaaaaaaaaaaaaaa", Kind: whatsapp.EventMessage, Type: "message", Session: "default",
			Metadata: meta, Me: me, Timestamp: time.UnixMilli(1667561485123).UTC(),
			Message: &whatsapp.Message{
				ID:        "false_11111111111@c.us_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
				ChatID:    "11111111111@c.us",
				ChatKind:  whatsapp.ChatDirect,
				Sender:    whatsapp.Party{ChatID: "11111111111@c.us", Phone: "+11111111111"},
				Source:    whatsapp.SourcePhone,
				Body:      "Hi there!",
				Type:      "text",
				Timestamp: time.Unix(1667561485, 0).UTC(),
				Ack:       whatsapp.AckDevice,
			},
		}},
		{"message.group.json", whatsapp.Event{
			ID: "evt_01bbbbbbbbbbbbbbbbbbbbbbbb", Kind: whatsapp.EventMessage, Type: "message", Session: "default",
			Metadata: meta, Me: me, Timestamp: time.UnixMilli(1748482829123).UTC(),
			Message: &whatsapp.Message{
				ID:        "false_120363000000000001@g.us_55D26CACC264D9153D88C0C89F06C480_153219082764294@lid",
				ChatID:    "120363000000000001@g.us",
				ChatKind:  whatsapp.ChatGroup,
				Sender:    whatsapp.Party{ChatID: "153219082764294@lid", LID: "153219082764294@lid"},
				Source:    whatsapp.SourcePhone,
				Body:      "hello group",
				Type:      "text",
				Timestamp: time.Unix(1748482829, 0).UTC(),
				Ack:       whatsapp.AckServer,
			},
		}},
		{"message.any.from-api.json", whatsapp.Event{
			ID: "evt_01cccccccccccccccccccccccc", Kind: whatsapp.EventMessage, Type: "message.any", Session: "default",
			Metadata: meta, Me: me, Timestamp: time.UnixMilli(1748482805123).UTC(),
			Message: &whatsapp.Message{
				ID:        "true_11111111111@c.us_3EB0D6438EA8F3869F9D1D",
				ChatID:    "11111111111@c.us",
				ChatKind:  whatsapp.ChatDirect,
				Sender:    whatsapp.Party{ChatID: "71111111111@c.us", Phone: "+71111111111"},
				FromMe:    true,
				Source:    whatsapp.SourceAPI,
				Body:      "Hi there!",
				Type:      "text",
				Timestamp: time.Unix(1748482805, 0).UTC(),
				Ack:       whatsapp.AckServer,
			},
		}},
		{"message.ack.json", whatsapp.Event{
			ID: "evt_01hhhhhhhhhhhhhhhhhhhhhhhh", Kind: whatsapp.EventAck, Type: "message.ack", Session: "default",
			Metadata: meta, Me: me, Timestamp: time.UnixMilli(1667561500123).UTC(),
			Ack: &whatsapp.Ack{MessageID: "true_11111111111@c.us_4CC5EDD64BC22EBA6D639F2AF571346C", ChatID: "11111111111@c.us", Level: whatsapp.AckRead, Name: "READ"},
		}},
		{"message.reaction.json", whatsapp.Event{
			ID: "evt_01jjjjjjjjjjjjjjjjjjjjjjjj", Kind: whatsapp.EventIgnored, Type: "message.reaction", Session: "default",
			Metadata: meta, Me: &whatsapp.Account{ID: "79222222222@c.us", Phone: "+79222222222", PushName: "WAHA"},
			Timestamp: time.UnixMilli(1710481111853).UTC(),
		}},
		{"session.status.working.json", whatsapp.Event{
			ID: "evt_01dddddddddddddddddddddddd", Kind: whatsapp.EventSessionStatus, Type: "session.status", Session: "default",
			Metadata: meta, Me: me, Timestamp: time.UnixMilli(1700000003123).UTC(),
			Status: &whatsapp.StatusChange{Status: whatsapp.StatusWorking},
		}},
		{"session.status.scan_qr_code.json", whatsapp.Event{
			ID: "evt_01eeeeeeeeeeeeeeeeeeeeeeee", Kind: whatsapp.EventSessionStatus, Type: "session.status", Session: "default",
			Metadata: meta, Timestamp: time.UnixMilli(1700000002500).UTC(),
			Status: &whatsapp.StatusChange{Status: whatsapp.StatusScanQR},
		}},
		{"poll.vote.json", whatsapp.Event{
			ID: "evt_01ffffffffffffffffffffffff", Kind: whatsapp.EventPollVote, Type: "poll.vote", Session: "default",
			Metadata: meta, Me: me, Timestamp: time.UnixMilli(1692861427123).UTC(),
			Vote: &whatsapp.PollVote{
				PollID:    "true_1111111111@c.us_BAE5F2EF5C69001E",
				PollKey:   "BAE5F2EF5C69001E",
				VoteID:    "false_1111111111@c.us_83ACBE602A05C79B234B54415E95EE8A",
				ChatID:    "1111111111@c.us",
				Voter:     whatsapp.Party{ChatID: "1111111111@c.us", Phone: "+1111111111"},
				Selected:  []string{"Awesome!"},
				Timestamp: time.Unix(1692861427, 0).UTC(),
			},
		}},
		{"poll.vote.failed.json", whatsapp.Event{
			ID: "evt_01gggggggggggggggggggggggg", Kind: whatsapp.EventPollVoteFailed, Type: "poll.vote.failed", Session: "default",
			Metadata: meta, Me: me, Timestamp: time.UnixMilli(1692956972123).UTC(),
			Vote: &whatsapp.PollVote{
				PollID:    "true_1111111111@c.us_BAE595F4E0A2042C",
				PollKey:   "BAE595F4E0A2042C",
				VoteID:    "false_11111111111@c.us_2E8C4CDA89EDE3BC0BC7F605364B8451",
				ChatID:    "111111111@c.us",
				Voter:     whatsapp.Party{ChatID: "111111111@c.us", Phone: "+111111111"},
				Selected:  []string{},
				Timestamp: time.Unix(1692956972, 0).UTC(),
				Failed:    true,
			},
		}},
	}
	p := whatsapp.NewWAHAWebhooks(testWebhookSecret)
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			body := readExample(t, tc.file)
			got, err := p.ParseWebhook(signed(body), body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(keyed(tc.want), got); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
			// A stored body parses the same without its headers.
			stored, err := whatsapp.ParseWAHAEvent(body)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, stored); diff != "" {
				t.Errorf("ParseWAHAEvent differs (-webhook +stored):\n%s", diff)
			}
		})
	}
}

// edit returns the example with its payload changed by f.
func edit(t *testing.T, file string, f func(env, payload map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(readExample(t, file), &env); err != nil {
		t.Fatal(err)
	}
	payload, _ := env["payload"].(map[string]any)
	f(env, payload)
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWAHAWebhookMessages(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want *whatsapp.Message
	}{
		{"sender by lid", edit(t, "message.json", func(_, p map[string]any) {
			p["from"] = "153219082764294@lid"
			p["_data"] = map[string]any{"notifyName": "Ann"}
		}), &whatsapp.Message{
			ID: "false_11111111111@c.us_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ChatID: "153219082764294@lid", ChatKind: whatsapp.ChatDirect,
			Sender: whatsapp.Party{ChatID: "153219082764294@lid", LID: "153219082764294@lid", PushName: "Ann"},
			Source: whatsapp.SourcePhone, Body: "Hi there!", Type: "text", Timestamp: time.Unix(1667561485, 0).UTC(), Ack: whatsapp.AckDevice,
		}},
		{"image with caption, reply (NOWEB data)", edit(t, "message.json", func(_, p map[string]any) {
			p["from"] = "15551234567@s.whatsapp.net"
			p["hasMedia"] = true
			p["body"] = "look"
			p["media"] = map[string]any{"url": "http://waha/api/files/x.jpeg", "mimetype": "image/jpeg", "filename": nil, "error": nil}
			p["replyTo"] = map[string]any{"id": "AAAA", "participant": "15551234567@c.us", "body": "hi", "hasMedia": false}
			p["_data"] = map[string]any{"pushName": "Bob", "message": map[string]any{"imageMessage": map[string]any{"caption": "look"}}}
			p["timestamp"] = 1667561485.5
		}), &whatsapp.Message{
			ID: "false_11111111111@c.us_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ChatID: "15551234567@s.whatsapp.net", ChatKind: whatsapp.ChatDirect,
			Sender: whatsapp.Party{ChatID: "15551234567@s.whatsapp.net", Phone: "+15551234567", PushName: "Bob"},
			Source: whatsapp.SourcePhone, Body: "look", Type: "image", HasMedia: true, MediaURL: "http://waha/api/files/x.jpeg", MediaType: "image/jpeg",
			ReplyTo: "AAAA", Timestamp: time.Unix(1667561485, 500*int64(time.Millisecond)).UTC(), Ack: whatsapp.AckDevice,
		}},
		{"voice note (WEBJS data), id object", edit(t, "message.json", func(_, p map[string]any) {
			p["id"] = map[string]any{"fromMe": false, "remote": "11111111111@c.us", "id": "V", "_serialized": "false_11111111111@c.us_V"}
			p["body"] = ""
			p["hasMedia"] = true
			p["media"] = map[string]any{"url": "http://waha/api/files/v.oga", "mimetype": "audio/ogg; codecs=opus"}
			p["_data"] = map[string]any{"type": "ptt", "notifyName": "Cy"}
		}), &whatsapp.Message{
			ID: "false_11111111111@c.us_V", ChatID: "11111111111@c.us", ChatKind: whatsapp.ChatDirect,
			Sender: whatsapp.Party{ChatID: "11111111111@c.us", Phone: "+11111111111", PushName: "Cy"},
			Source: whatsapp.SourcePhone, Type: "audio", HasMedia: true, MediaURL: "http://waha/api/files/v.oga", MediaType: "audio/ogg; codecs=opus",
			Timestamp: time.Unix(1667561485, 0).UTC(), Ack: whatsapp.AckDevice,
		}},
		{"status update", edit(t, "message.json", func(_, p map[string]any) {
			p["from"] = "status@broadcast"
			p["participant"] = "15551234567@c.us"
			p["_data"] = map[string]any{"Info": map[string]any{"PushName": "Dee"}}
		}), &whatsapp.Message{
			ID: "false_11111111111@c.us_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ChatID: "status@broadcast", ChatKind: whatsapp.ChatStatus,
			Sender: whatsapp.Party{ChatID: "15551234567@c.us", Phone: "+15551234567", PushName: "Dee"},
			Source: whatsapp.SourcePhone, Body: "Hi there!", Type: "text", Timestamp: time.Unix(1667561485, 0).UTC(), Ack: whatsapp.AckDevice,
		}},
		{"channel post", edit(t, "message.json", func(_, p map[string]any) {
			p["from"] = "120363000000000002@newsletter"
		}), &whatsapp.Message{
			ID: "false_11111111111@c.us_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ChatID: "120363000000000002@newsletter", ChatKind: whatsapp.ChatChannel,
			Sender: whatsapp.Party{ChatID: "120363000000000002@newsletter"},
			Source: whatsapp.SourcePhone, Body: "Hi there!", Type: "text", Timestamp: time.Unix(1667561485, 0).UTC(), Ack: whatsapp.AckDevice,
		}},
		{"sent from the phone, device jid", edit(t, "message.any.from-api.json", func(_, p map[string]any) {
			p["source"] = "app"
			p["from"] = "71111111111:12@s.whatsapp.net"
		}), &whatsapp.Message{
			ID: "true_11111111111@c.us_3EB0D6438EA8F3869F9D1D", ChatID: "11111111111@c.us", ChatKind: whatsapp.ChatDirect,
			Sender: whatsapp.Party{ChatID: "71111111111:12@s.whatsapp.net", Phone: "+71111111111"}, FromMe: true,
			Source: whatsapp.SourcePhone, Body: "Hi there!", Type: "text", Timestamp: time.Unix(1748482805, 0).UTC(), Ack: whatsapp.AckServer,
		}},
	}
	p := whatsapp.NewWAHAWebhooks(testWebhookSecret)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.ParseWebhook(signed(tc.body), tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != whatsapp.EventMessage {
				t.Fatalf("kind %q", got.Kind)
			}
			if diff := cmp.Diff(keyed(whatsapp.Event{Message: tc.want}).Message, got.Message); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWAHAWebhookGroupVote(t *testing.T) {
	body := edit(t, "poll.vote.json", func(_, p map[string]any) {
		vote := p["vote"].(map[string]any)
		vote["from"] = "120363000000000001@g.us"
		vote["participant"] = "153219082764294@lid"
		vote["selectedOptions"] = []string{"Mon", "Tue"}
		poll := p["poll"].(map[string]any)
		poll["to"] = "120363000000000001@g.us"
	})
	got, err := whatsapp.ParseWAHAEvent(body)
	if err != nil {
		t.Fatal(err)
	}
	want := &whatsapp.PollVote{
		PollID: "true_1111111111@c.us_BAE5F2EF5C69001E", PollKey: "BAE5F2EF5C69001E", ChatID: "120363000000000001@g.us",
		VoteID:   "false_1111111111@c.us_83ACBE602A05C79B234B54415E95EE8A",
		Voter:    whatsapp.Party{ChatID: "153219082764294@lid", LID: "153219082764294@lid"},
		Selected: []string{"Mon", "Tue"}, Timestamp: time.Unix(1692861427, 0).UTC(),
	}
	if diff := cmp.Diff(want, got.Vote); diff != "" {
		t.Errorf("vote (-want +got):\n%s", diff)
	}
}

// TestWAHAWebhookVotes: edge cases of poll.vote and poll.vote.failed, each
// an edit of WAHA's example.
func TestWAHAWebhookVotes(t *testing.T) {
	base := whatsapp.PollVote{
		PollID: "true_1111111111@c.us_BAE5F2EF5C69001E", PollKey: "BAE5F2EF5C69001E",
		VoteID: "false_1111111111@c.us_83ACBE602A05C79B234B54415E95EE8A", ChatID: "1111111111@c.us",
		Voter:    whatsapp.Party{ChatID: "1111111111@c.us", Phone: "+1111111111"},
		Selected: []string{"Awesome!"}, Timestamp: time.Unix(1692861427, 0).UTC(),
	}
	tests := []struct {
		name string
		file string
		edit func(env, vote, poll map[string]any)
		want func(v *whatsapp.PollVote)
	}{
		{"the example", "poll.vote.json", func(_, _, _ map[string]any) {}, func(*whatsapp.PollVote) {}},
		{"withdrawn: empty selection", "poll.vote.json",
			func(_, vote, _ map[string]any) { vote["selectedOptions"] = []any{} },
			func(v *whatsapp.PollVote) { v.Selected = []string{} }},
		{"withdrawn: null selection", "poll.vote.json",
			func(_, vote, _ map[string]any) { vote["selectedOptions"] = nil },
			func(v *whatsapp.PollVote) { v.Selected = []string{} }},
		{"several options", "poll.vote.json",
			func(_, vote, _ map[string]any) { vote["selectedOptions"] = []any{"Good!", "Not bad!"} },
			func(v *whatsapp.PollVote) { v.Selected = []string{"Good!", "Not bad!"} }},
		{"a voter known by linked id", "poll.vote.json",
			func(_, vote, poll map[string]any) {
				vote["from"], vote["id"], poll["to"] = "153219082764294@lid", "false_153219082764294@lid_AAAA", "153219082764294@lid"
			},
			func(v *whatsapp.PollVote) {
				v.ChatID, v.VoteID = "153219082764294@lid", "false_153219082764294@lid_AAAA"
				v.Voter = whatsapp.Party{ChatID: "153219082764294@lid", LID: "153219082764294@lid"}
			}},
		{"a bare poll id (GOWS)", "poll.vote.json",
			func(_, _, poll map[string]any) { poll["id"] = "BAE5F2EF5C69001E" },
			func(v *whatsapp.PollVote) { v.PollID = "BAE5F2EF5C69001E" }},
		{"unknown fields are ignored", "poll.vote.json",
			func(env, vote, poll map[string]any) {
				env["extra"], vote["ack"], poll["participant"] = map[string]any{"x": 1}, 2, nil
				vote["_data"] = map[string]any{"pollUpdateMessage": map[string]any{}}
			},
			func(*whatsapp.PollVote) {}},
		{"a timestamp in milliseconds", "poll.vote.json",
			func(_, vote, _ map[string]any) { vote["timestamp"] = 1692861427500 },
			func(v *whatsapp.PollVote) { v.Timestamp = time.UnixMilli(1692861427500).UTC() }},
		{"failed: options unknown even if sent", "poll.vote.failed.json",
			func(_, vote, _ map[string]any) { vote["selectedOptions"] = []any{"Awesome!"} },
			func(v *whatsapp.PollVote) {
				*v = whatsapp.PollVote{PollID: "true_1111111111@c.us_BAE595F4E0A2042C", PollKey: "BAE595F4E0A2042C",
					VoteID: "false_11111111111@c.us_2E8C4CDA89EDE3BC0BC7F605364B8451", ChatID: "111111111@c.us",
					Voter:    whatsapp.Party{ChatID: "111111111@c.us", Phone: "+111111111"},
					Selected: []string{}, Timestamp: time.Unix(1692956972, 0).UTC(), Failed: true}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := edit(t, tc.file, func(env, p map[string]any) {
				tc.edit(env, p["vote"].(map[string]any), p["poll"].(map[string]any))
			})
			got, err := whatsapp.ParseWAHAEvent(body)
			if err != nil {
				t.Fatal(err)
			}
			want := base
			want.Selected = slices.Clone(base.Selected)
			tc.want(&want)
			if diff := cmp.Diff(&want, got.Vote); diff != "" {
				t.Errorf("vote (-want +got):\n%s", diff)
			}
			if got.Vote.PollKey != whatsapp.WAHAMessageKey(got.Vote.PollID) {
				t.Errorf("PollKey %q is not MessageKey(%q)", got.Vote.PollKey, got.Vote.PollID)
			}
		})
	}
}

func TestWAHAWebhookMalformed(t *testing.T) {
	tests := []struct {
		name string
		body []byte
	}{
		{"not JSON", []byte("hello")},
		{"truncated", []byte(`{"id":"evt_1","event":"message"`)},
		{"array", []byte(`[]`)},
		{"empty", []byte(``)},
		{"no id", edit(t, "message.json", func(env, _ map[string]any) { delete(env, "id") })},
		{"no event", edit(t, "message.json", func(env, _ map[string]any) { env["event"] = "" })},
		{"event not a string", edit(t, "message.json", func(env, _ map[string]any) { env["event"] = 3 })},
		{"message without payload", edit(t, "message.json", func(env, _ map[string]any) { env["payload"] = nil })},
		{"message payload not an object", edit(t, "message.json", func(env, _ map[string]any) { env["payload"] = "x" })},
		{"message without id", edit(t, "message.json", func(_, p map[string]any) { delete(p, "id") })},
		{"ack without level", edit(t, "message.ack.json", func(_, p map[string]any) { delete(p, "ack") })},
		{"status without status", edit(t, "session.status.working.json", func(_, p map[string]any) { delete(p, "status") })},
		{"vote without poll", edit(t, "poll.vote.json", func(_, p map[string]any) { delete(p, "poll") })},
	}
	p := whatsapp.NewWAHAWebhooks(testWebhookSecret)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.ParseWebhook(signed(tc.body), tc.body)
			if !errors.Is(err, whatsapp.ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

// TestWAHAWebhookWithoutMetadata: metadata is absent when the session has
// none; unknown events are kept with their type.
func TestWAHAWebhookWithoutMetadata(t *testing.T) {
	body := edit(t, "message.reaction.json", func(env, _ map[string]any) {
		delete(env, "metadata")
		env["event"] = "group.v2.join"
	})
	got, err := whatsapp.ParseWAHAEvent(body)
	if err != nil {
		t.Fatal(err)
	}
	if got.Kind != whatsapp.EventIgnored || got.Type != "group.v2.join" || got.Metadata != nil {
		t.Errorf("got kind %q type %q metadata %v", got.Kind, got.Type, got.Metadata)
	}
}

// keyed fills in the keys a parsed event carries: WAHA's bare message ids.
func keyed(e whatsapp.Event) whatsapp.Event {
	if e.Message != nil {
		m := *e.Message
		m.Key = whatsapp.WAHAMessageKey(m.ID)
		e.Message = &m
	}
	if e.Ack != nil {
		a := *e.Ack
		a.Key = whatsapp.WAHAMessageKey(a.MessageID)
		e.Ack = &a
	}
	return e
}
