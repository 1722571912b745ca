package whatsapp_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/whatsapp"
)

const evoMaster = "evolution-master-secret"

// evoHeaders carries the secret of an instance.
func evoHeaders(instance string) http.Header {
	h := http.Header{}
	h.Set(whatsapp.EvolutionSecretHeader, whatsapp.EvolutionInstanceSecret(evoMaster, instance))
	return h
}

func TestEvolutionWebhookAuthentication(t *testing.T) {
	p := whatsapp.NewEvolutionWebhooks(evoMaster)
	body := []byte(`{"event":"connection.update","instance":"t1_i1","data":{"instance":"t1_i1","state":"connecting","statusReason":200},"date_time":"2026-11-30T10:00:00.000Z"}`)
	tests := []struct {
		name string
		h    http.Header
		body []byte
		want error
	}{
		{"its own secret", evoHeaders("t1_i1"), body, nil},
		{"no secret", http.Header{}, body, whatsapp.ErrBadSignature},
		{"a wrong secret", func() http.Header {
			h := http.Header{}
			h.Set(whatsapp.EvolutionSecretHeader, "nope")
			return h
		}(), body, whatsapp.ErrBadSignature},
		{"another instance's secret", evoHeaders("t2_i2"), body, whatsapp.ErrBadSignature},
		{"malformed JSON", evoHeaders("t1_i1"), []byte(`{"event":`), whatsapp.ErrMalformed},
		{"no instance named", evoHeaders(""), []byte(`{"event":"messages.upsert","data":{}}`), whatsapp.ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.ParseWebhook(tc.h, tc.body)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := whatsapp.NewEvolutionWebhooks("").ParseWebhook(evoHeaders("t1_i1"), body); !errors.Is(err, whatsapp.ErrBadSignature) {
		t.Errorf("no secret configured: %v", err)
	}
}

func TestEvolutionWebhookEvents(t *testing.T) {
	ts := time.Unix(1733400000, 0).UTC()
	tests := []struct {
		name string
		body string
		want whatsapp.Event
	}{
		{"incoming text", `{"event":"messages.upsert","instance":"t1_i1","data":{"key":{"remoteJid":"5511988887777@s.whatsapp.net","fromMe":false,"id":"3A5F0C1E"},"pushName":"Ana","status":"DELIVERY_ACK","message":{"conversation":"Vocês entregam?"},"contextInfo":{"stanzaId":"3EB0Q"},"messageType":"conversation","messageTimestamp":1733400000}}`,
			whatsapp.Event{ID: "evo:t1_i1:msg:3A5F0C1E", Kind: whatsapp.EventMessage, Type: "messages.upsert", Session: "t1_i1",
				Message: &whatsapp.Message{ID: "3A5F0C1E", Key: "3A5F0C1E", ChatID: "5511988887777@c.us", ChatKind: whatsapp.ChatDirect,
					Sender: whatsapp.Party{ChatID: "5511988887777@c.us", Phone: "+5511988887777", PushName: "Ana"},
					Source: whatsapp.SourcePhone, Body: "Vocês entregam?", Type: "text", ReplyTo: "3EB0Q", Timestamp: ts, Ack: whatsapp.AckDevice}}},
		{"a BR mobile without its ninth digit", `{"event":"messages.upsert","instance":"t1_i1","data":{"key":{"remoteJid":"553198887777@s.whatsapp.net","fromMe":false,"id":"BR1"},"message":{"conversation":"oi"},"messageType":"conversation","messageTimestamp":"1733400000"}}`,
			whatsapp.Event{ID: "evo:t1_i1:msg:BR1", Kind: whatsapp.EventMessage, Type: "messages.upsert", Session: "t1_i1",
				Message: &whatsapp.Message{ID: "BR1", Key: "BR1", ChatID: "5531998887777@c.us", ChatKind: whatsapp.ChatDirect,
					Sender: whatsapp.Party{ChatID: "5531998887777@c.us", Phone: "+5531998887777"},
					Source: whatsapp.SourcePhone, Body: "oi", Type: "text", Timestamp: ts}}},
		{"a linked id only", `{"event":"messages.upsert","instance":"t1_i1","data":{"key":{"remoteJid":"123456789@lid","fromMe":false,"id":"L1"},"pushName":"Bo","message":{"conversation":"hi"},"messageType":"conversation","messageTimestamp":1733400000}}`,
			whatsapp.Event{ID: "evo:t1_i1:msg:L1", Kind: whatsapp.EventMessage, Type: "messages.upsert", Session: "t1_i1",
				Message: &whatsapp.Message{ID: "L1", Key: "L1", ChatID: "123456789@lid", ChatKind: whatsapp.ChatDirect,
					Sender: whatsapp.Party{ChatID: "123456789@lid", LID: "123456789@lid", PushName: "Bo"},
					Source: whatsapp.SourcePhone, Body: "hi", Type: "text", Timestamp: ts}}},
		{"a linked id with the phone", `{"event":"messages.upsert","instance":"t1_i1","data":{"key":{"remoteJid":"15551234567@s.whatsapp.net","remoteJidAlt":"99887766@lid","fromMe":false,"id":"L2"},"message":{"imageMessage":{"caption":"how much?","mimetype":"image/jpeg"}},"messageType":"imageMessage","messageTimestamp":1733400000}}`,
			whatsapp.Event{ID: "evo:t1_i1:msg:L2", Kind: whatsapp.EventMessage, Type: "messages.upsert", Session: "t1_i1",
				Message: &whatsapp.Message{ID: "L2", Key: "L2", ChatID: "15551234567@c.us", ChatKind: whatsapp.ChatDirect,
					Sender: whatsapp.Party{ChatID: "15551234567@c.us", Phone: "+15551234567", LID: "99887766@lid"},
					Source: whatsapp.SourcePhone, Body: "how much?", Type: "image", HasMedia: true, MediaType: "image/jpeg", Timestamp: ts}}},
		{"typed on the phone", `{"event":"messages.upsert","instance":"t1_i1","data":{"key":{"remoteJid":"15551234567@s.whatsapp.net","fromMe":true,"id":"P1"},"message":{"conversation":"I'll call you"},"messageType":"conversation","messageTimestamp":1733400000}}`,
			whatsapp.Event{ID: "evo:t1_i1:msg:P1", Kind: whatsapp.EventMessage, Type: "messages.upsert", Session: "t1_i1",
				Message: &whatsapp.Message{ID: "P1", Key: "P1", ChatID: "15551234567@c.us", ChatKind: whatsapp.ChatDirect, FromMe: true,
					Sender: whatsapp.Party{ChatID: "15551234567@c.us", Phone: "+15551234567"},
					Source: whatsapp.SourcePhone, Body: "I'll call you", Type: "text", Timestamp: ts, Ack: whatsapp.AckServer}}},
		{"sent through the API", `{"event":"send.message","instance":"t1_i1","data":{"key":{"remoteJid":"15551234567@s.whatsapp.net","fromMe":true,"id":"3EB0A"},"status":"PENDING","message":{"conversation":"Hello"},"messageType":"conversation","messageTimestamp":1733400000}}`,
			whatsapp.Event{ID: "evo:t1_i1:msg:3EB0A", Kind: whatsapp.EventMessage, Type: "send.message", Session: "t1_i1",
				Message: &whatsapp.Message{ID: "3EB0A", Key: "3EB0A", ChatID: "15551234567@c.us", ChatKind: whatsapp.ChatDirect, FromMe: true,
					Sender: whatsapp.Party{ChatID: "15551234567@c.us", Phone: "+15551234567"},
					Source: whatsapp.SourceAPI, Body: "Hello", Type: "text", Timestamp: ts}}},
		{"an ack", `{"event":"messages.update","instance":"t1_i1","data":{"keyId":"3EB0A","remoteJid":"15551234567@s.whatsapp.net","fromMe":true,"status":"READ"}}`,
			whatsapp.Event{ID: "evo:t1_i1:ack:3EB0A:READ", Kind: whatsapp.EventAck, Type: "messages.update", Session: "t1_i1",
				Ack: &whatsapp.Ack{MessageID: "3EB0A", Key: "3EB0A", ChatID: "15551234567@c.us", Level: whatsapp.AckRead, Name: "READ"}}},
		{"a vote", `{"event":"messages.upsert","instance":"t1_i1","data":{"key":{"remoteJid":"15551234567@s.whatsapp.net","fromMe":false,"id":"V1"},"message":{"pollUpdateMessage":{"pollCreationMessageKey":{"id":"3EB0POLL"},"vote":{"selectedOptions":["Tuesday"]}}},"messageType":"pollUpdateMessage","messageTimestamp":1733400000,"pollUpdates":[{"name":"Tuesday","voters":["15551234567@s.whatsapp.net"]}]}}`,
			whatsapp.Event{ID: "evo:t1_i1:vote:V1", Kind: whatsapp.EventPollVote, Type: "messages.upsert", Session: "t1_i1",
				Vote: &whatsapp.PollVote{PollID: "3EB0POLL", PollKey: "3EB0POLL", VoteID: "V1", ChatID: "15551234567@c.us",
					Voter: whatsapp.Party{ChatID: "15551234567@c.us", Phone: "+15551234567"}, Selected: []string{"Tuesday"}, Timestamp: ts}}},
		{"a withdrawn vote", `{"event":"messages.upsert","instance":"t1_i1","data":{"key":{"remoteJid":"15551234567@s.whatsapp.net","fromMe":false,"id":"V2"},"message":{"pollUpdateMessage":{"pollCreationMessageKey":{"id":"3EB0POLL"},"vote":{"selectedOptions":[]}}},"messageType":"pollUpdateMessage","messageTimestamp":1733400000,"pollUpdates":[]}}`,
			whatsapp.Event{ID: "evo:t1_i1:vote:V2", Kind: whatsapp.EventPollVote, Type: "messages.upsert", Session: "t1_i1",
				Vote: &whatsapp.PollVote{PollID: "3EB0POLL", PollKey: "3EB0POLL", VoteID: "V2", ChatID: "15551234567@c.us",
					Voter: whatsapp.Party{ChatID: "15551234567@c.us", Phone: "+15551234567"}, Selected: []string{}, Timestamp: ts}}},
		{"a vote not decrypted", `{"event":"messages.upsert","instance":"t1_i1","data":{"key":{"remoteJid":"15551234567@s.whatsapp.net","fromMe":false,"id":"V3"},"message":{"pollUpdateMessage":{"pollCreationMessageKey":{"id":"3EB0POLL"},"vote":{"selectedOptions":[{"0":12,"1":200}]}}},"messageType":"pollUpdateMessage","messageTimestamp":1733400000}}`,
			whatsapp.Event{ID: "evo:t1_i1:vote:V3", Kind: whatsapp.EventPollVoteFailed, Type: "messages.upsert", Session: "t1_i1",
				Vote: &whatsapp.PollVote{PollID: "3EB0POLL", PollKey: "3EB0POLL", VoteID: "V3", ChatID: "15551234567@c.us",
					Voter: whatsapp.Party{ChatID: "15551234567@c.us", Phone: "+15551234567"}, Timestamp: ts, Failed: true}}},
		{"connected", `{"event":"connection.update","instance":"t1_i1","data":{"instance":"t1_i1","wuid":"5511911112222@s.whatsapp.net","profileName":"Loja","state":"open","statusReason":200},"date_time":"2026-11-30T10:00:00.000Z"}`,
			whatsapp.Event{ID: "evo:t1_i1:connection.update:working:200:2026-11-30T10:00:00.000Z", Kind: whatsapp.EventSessionStatus,
				Type: "connection.update", Session: "t1_i1", Timestamp: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC),
				Me:     &whatsapp.Account{ID: "5511911112222@c.us", Phone: "+5511911112222", PushName: "Loja"},
				Status: &whatsapp.StatusChange{Status: whatsapp.StatusWorking}}},
		{"logged out", `{"event":"connection.update","instance":"t1_i1","data":{"instance":"t1_i1","state":"close","statusReason":401},"date_time":"2026-11-30T10:00:01.000Z"}`,
			whatsapp.Event{ID: "evo:t1_i1:connection.update:logged_out:401:2026-11-30T10:00:01.000Z", Kind: whatsapp.EventSessionStatus,
				Type: "connection.update", Session: "t1_i1", Timestamp: time.Date(2026, 11, 30, 10, 0, 1, 0, time.UTC),
				Status: &whatsapp.StatusChange{Status: whatsapp.StatusLoggedOut}}},
		{"a QR code", `{"event":"qrcode.updated","instance":"t1_i1","data":{"qrcode":{"instance":"t1_i1","code":"2@abc","base64":"data:image/png;base64,iVBO"}},"date_time":"2026-11-30T10:00:02.000Z"}`,
			whatsapp.Event{ID: "evo:t1_i1:qrcode.updated:scan_qr:0:2026-11-30T10:00:02.000Z", Kind: whatsapp.EventSessionStatus,
				Type: "qrcode.updated", Session: "t1_i1", Timestamp: time.Date(2026, 11, 30, 10, 0, 2, 0, time.UTC),
				Status: &whatsapp.StatusChange{Status: whatsapp.StatusScanQR}}},
		{"the QR code limit", `{"event":"qrcode.updated","instance":"t1_i1","data":{"message":"QR code limit reached, please login again","statusCode":500},"date_time":"2026-11-30T10:00:03.000Z"}`,
			whatsapp.Event{ID: "evo:t1_i1:qrcode.updated:failed:0:2026-11-30T10:00:03.000Z", Kind: whatsapp.EventSessionStatus,
				Type: "qrcode.updated", Session: "t1_i1", Timestamp: time.Date(2026, 11, 30, 10, 0, 3, 0, time.UTC),
				Status: &whatsapp.StatusChange{Status: whatsapp.StatusFailed}}},
		{"an unknown event", `{"event":"chats.upsert","instance":"t1_i1","data":[]}`,
			whatsapp.Event{Kind: whatsapp.EventIgnored, Type: "chats.upsert", Session: "t1_i1"}},
		{"a reaction", `{"event":"messages.upsert","instance":"t1_i1","data":{"key":{"remoteJid":"1@s.whatsapp.net","id":"R"},"message":{"reactionMessage":{}},"messageType":"reactionMessage"}}`,
			whatsapp.Event{Kind: whatsapp.EventIgnored, Type: "messages.upsert", Session: "t1_i1"}},
	}
	p := whatsapp.NewEvolutionWebhooks(evoMaster)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.ParseWebhook(evoHeaders("t1_i1"), []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

// A delivery repeated with another envelope time is the same event: the id
// comes from the message, not the delivery.
func TestEvolutionWebhookDuplicatesShareAnID(t *testing.T) {
	a := `{"event":"messages.upsert","instance":"t1_i1","date_time":"2026-11-30T10:00:00.000Z","data":{"key":{"remoteJid":"1555@s.whatsapp.net","id":"DUP"},"message":{"conversation":"x"}}}`
	b := `{"event":"messages.upsert","instance":"t1_i1","date_time":"2026-11-30T10:00:09.000Z","data":{"key":{"remoteJid":"1555@s.whatsapp.net","id":"DUP"},"message":{"conversation":"x"}}}`
	ea, err := whatsapp.ParseEvolutionEvent([]byte(a))
	if err != nil {
		t.Fatal(err)
	}
	eb, err := whatsapp.ParseEvolutionEvent([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	if ea.ID == "" || ea.ID != eb.ID {
		t.Errorf("ids %q and %q", ea.ID, eb.ID)
	}
}
