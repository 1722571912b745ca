package whatsapp

import (
	"encoding/json"
	"testing"
	"time"
)

func TestReceivedEvent(t *testing.T) {
	since := time.Unix(1733400000, 0)
	webhook := func(data string) Event {
		ev, err := ParseEvolutionEvent([]byte(`{"event":"messages.upsert","instance":"t1_i1","date_time":"2026-11-30T10:00:00.000Z","data":` + data + `}`))
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	text := `{"id":"cm1","key":{"remoteJid":"5511988887777@s.whatsapp.net","fromMe":false,"id":"3A5F"},"pushName":"Ana","messageType":"conversation","message":{"conversation":"Vocês entregam?"},"messageTimestamp":1733400005,"status":"DELIVERY_ACK","MessageUpdate":[]}`
	lid := `{"key":{"remoteJid":"123456789@lid","fromMe":false,"id":"L1"},"messageType":"conversation","message":{"conversation":"hi"},"messageTimestamp":1733400000}`
	tests := []struct {
		name      string
		record    string
		wantOK    bool
		wantOlder bool
	}{
		{"a received text", text, true, false},
		{"a linked id only", lid, true, false},
		{"before since", `{"key":{"remoteJid":"1555@s.whatsapp.net","fromMe":false,"id":"OLD"},"message":{"conversation":"x"},"messageTimestamp":1733399990}`, false, true},
		{"sent by the account", `{"key":{"remoteJid":"1555@s.whatsapp.net","fromMe":true,"id":"ME"},"message":{"conversation":"x"},"messageTimestamp":1733400005}`, false, false},
		{"a reaction", `{"key":{"remoteJid":"1555@s.whatsapp.net","fromMe":false,"id":"R"},"messageType":"reactionMessage","message":{"reactionMessage":{"text":"👍"}},"messageTimestamp":1733400005}`, false, false},
		{"no time: skipped, the list goes on", `{"key":{"remoteJid":"1555@s.whatsapp.net","fromMe":false,"id":"NT"},"message":{"conversation":"x"}}`, false, false},
		{"no id", `{"key":{"remoteJid":"1555@s.whatsapp.net","fromMe":false},"message":{"conversation":"x"},"messageTimestamp":1733400005}`, false, false},
		{"not a record", `[1,2]`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, ok, older := receivedEvent("t1_i1", json.RawMessage(tt.record), since)
			if ok != tt.wantOK || older != tt.wantOlder {
				t.Fatalf("ok %v, older %v; want %v, %v", ok, older, tt.wantOK, tt.wantOlder)
			}
			if !ok {
				return
			}
			// The webhook that would have carried it has the same id and
			// message, so whichever comes first is the one stored.
			want := webhook(tt.record)
			if ev.Event.ID != want.ID || ev.Event.Kind != EventMessage || *ev.Event.Message != *want.Message {
				t.Errorf("event %+v %+v, want %+v %+v", ev.Event, ev.Event.Message, want, want.Message)
			}
			again, err := ParseStoredEvent(ProviderEvolution, ev.Payload)
			if err != nil || again.ID != want.ID || again.Message.Body != want.Message.Body {
				t.Errorf("the payload parses as %+v, %v", again, err)
			}
		})
	}
}
