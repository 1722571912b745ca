package evolution_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/sim/evolution"
)

// events lists the posts' event names.
func events(posts []post) []string {
	var out []string
	for _, p := range posts {
		out = append(out, p.env.Event)
	}
	return out
}

// status is the status (messages.update) or state (connection.update) of
// a post.
func status(t *testing.T, p post) string {
	t.Helper()
	d := p.data(t)
	if v, ok := d["status"].(string); ok {
		return v
	}
	v, _ := d["state"].(string)
	return v
}

func TestWebhookEnvelopeAndHeaders(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{ServerURL: "https://evo.example.com"})
	hook := newReceiver(t, nil)
	s.open(t, "w1", hook)
	sent := s.api(t, http.MethodPost, "/message/sendText/w1", map[string]any{"number": "5511988887777", "text": "Oi"}, 201).obj(t)
	hook.await(t, "messages.update", 2)
	s.flush(t)

	got := hook.got()
	want := []string{"instance.create", "connection.update", "qrcode.updated", "connection.update", "send.message", "messages.update", "messages.update"}
	if strings.Join(events(got), " ") != strings.Join(want, " ") {
		t.Fatalf("events %v, want %v", events(got), want)
	}
	for _, p := range got {
		if v := p.header.Get("X-Aibud-Webhook-Token"); v != "secret-w1" {
			t.Errorf("%s: custom header %q", p.env.Event, v)
		}
		if p.env.Instance != "w1" || p.env.Destination != hook.url || p.env.ServerURL != "https://evo.example.com" || p.env.APIKey != nil {
			t.Errorf("%s: envelope %+v", p.env.Event, p.env)
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", p.env.DateTime); err != nil {
			t.Errorf("%s: date_time %q", p.env.Event, p.env.DateTime)
		}
		for _, k := range []string{"id", "event_id", "timestamp"} {
			if _, ok := p.raw[k]; ok {
				t.Errorf("%s: the envelope has %q; Evolution's has no event id", p.env.Event, k)
			}
		}
		if _, ok := p.raw["apikey"]; !ok {
			t.Errorf("%s: no apikey key", p.env.Event)
		}
	}
	if got[0].env.Sender != "" || !strings.HasSuffix(got[4].env.Sender, "@s.whatsapp.net") {
		t.Errorf("sender before and after connecting: %q, %q", got[0].env.Sender, got[4].env.Sender)
	}
	if d := got[1].data(t); d["state"] != "connecting" || d["statusReason"] != 200.0 {
		t.Errorf("connecting: %v", d)
	}
	if d := got[3].data(t); d["state"] != "open" || d["wuid"] != got[4].env.Sender || d["profileName"] != "Sim w1" {
		t.Errorf("open: %v", d)
	}
	echo := got[4].data(t)
	if field(echo, "key.id") != field(sent, "key.id") || field(echo, "status") != "PENDING" || field(echo, "message.conversation") != "Oi" {
		t.Errorf("send.message %v, answer %v", echo, sent)
	}
	for i, want := range []string{"SERVER_ACK", "DELIVERY_ACK"} {
		d := got[5+i].data(t)
		if d["status"] != want || d["keyId"] != field(sent, "key.id") || d["remoteJid"] != "5511988887777@s.whatsapp.net" || d["fromMe"] != true || d["instanceId"] != field(sent, "instanceId") {
			t.Errorf("ack %d: %v", i, d)
		}
		if id, _ := d["messageId"].(string); !strings.HasPrefix(id, "cm") {
			t.Errorf("ack %d: messageId %q", i, id)
		}
	}
	if err := s.Read("w1", field(sent, "key.id").(string)); err != nil {
		t.Fatal(err)
	}
	if last := hook.await(t, "messages.update", 3)[2]; status(t, last) != "READ" {
		t.Errorf("read: %s", status(t, last))
	}
}

func TestWebhookConfig(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	hook := newReceiver(t, nil)
	s.open(t, "k1", nil)

	// set needs the object wrapped in "webhook", enabled and url; event
	// names are checked.
	bad := []map[string]any{
		{"url": hook.url, "enabled": true, "events": []string{"SEND_MESSAGE"}},
		{"webhook": map[string]any{"url": hook.url, "events": []string{"SEND_MESSAGE"}}},
		{"webhook": map[string]any{"enabled": true, "url": hook.url, "events": []string{"send.message"}}},
		{"webhook": map[string]any{"enabled": true, "url": hook.url}},
	}
	for _, body := range bad {
		s.api(t, http.MethodPost, "/webhook/set/k1", body, 400)
	}
	if got := string(s.api(t, http.MethodGet, "/webhook/find/k1", nil, 200).body); got != "null" {
		t.Errorf("find before set: %s", got)
	}
	row := s.api(t, http.MethodPost, "/webhook/set/k1", map[string]any{"webhook": map[string]any{
		"enabled": true, "url": hook.url, "byEvents": true, "base64": false,
		"headers": map[string]string{"x-secret": "s3cr3t", "jwt_key": "jwt-secret"},
		"events":  []string{"MESSAGES_UPSERT"},
	}}, 201).obj(t)
	if field(row, "url") != hook.url || field(row, "enabled") != true || field(row, "webhookByEvents") != true || field(row, "events.0") != "MESSAGES_UPSERT" {
		t.Errorf("set: %v", row)
	}
	found := s.api(t, http.MethodGet, "/webhook/find/k1", nil, 200).obj(t)
	if field(found, "id") != field(row, "id") || field(found, "headers.x-secret") != "s3cr3t" {
		t.Errorf("find: %v", found)
	}

	// Only the events listed are posted; byEvents adds the event to the
	// path; jwt_key becomes a Bearer token.
	s.api(t, http.MethodPost, "/message/sendText/k1", map[string]any{"number": "5511988887777", "text": "not listed"}, 201)
	if _, err := s.LeadSays("k1", "5511988887777", "Ana", "listed"); err != nil {
		t.Fatal(err)
	}
	s.flush(t)
	got := hook.got()
	if len(got) != 1 || got[0].env.Event != "messages.upsert" {
		t.Fatalf("posts %v, want one messages.upsert", events(got))
	}
	if got[0].path != "/api/webhooks/evolution/messages-upsert" || got[0].env.Destination != hook.url+"/messages-upsert" {
		t.Errorf("byEvents path %q, destination %q", got[0].path, got[0].env.Destination)
	}
	if got[0].header.Get("X-Secret") != "s3cr3t" || got[0].header.Get("Jwt_key") != "" || !strings.HasPrefix(got[0].header.Get("Authorization"), "Bearer ey") {
		t.Errorf("headers %v", got[0].header)
	}

	// Lowercase names at create are stored and never match.
	quiet := newReceiver(t, nil)
	s.api(t, http.MethodPost, "/instance/create", map[string]any{"instanceName": "k2", "integration": "WHATSAPP-BAILEYS", "qrcode": true,
		"webhook": map[string]any{"url": quiet.url, "events": []string{"qrcode.updated", "connection.update"}}}, 201)
	s.flush(t)
	if n := len(quiet.got()); n != 0 {
		t.Errorf("lowercase events got %d posts", n)
	}
}

func TestWebhookRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		answers  []int
		attempts int
		done     bool
	}{
		{"500 twice, then 200", []int{500, 500, 200}, 3, true},
		{"401 is final", []int{401, 200}, 1, false},
		{"422 is final", []int{422, 200}, 1, false},
		{"429 is retried", []int{429, 200}, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, evolution.Options{})
			hook := newReceiver(t, func(n int) int { return tt.answers[min(n, len(tt.answers)-1)] })
			s.api(t, http.MethodPost, "/instance/create", map[string]any{"instanceName": "r1", "integration": "WHATSAPP-BAILEYS",
				"webhook": map[string]any{"url": hook.url, "events": []string{"INSTANCE_CREATE"}}}, 201)
			s.flush(t)
			e := s.Events()[0]
			if len(e.Deliveries) != 1 {
				t.Fatalf("deliveries %+v", e.Deliveries)
			}
			d := e.Deliveries[0]
			if d.Attempts != tt.attempts || d.Delivered != tt.done || d.GaveUp == tt.done || len(hook.got()) != tt.attempts {
				t.Errorf("delivery %+v, %d posts", d, len(hook.got()))
			}
		})
	}
}

func TestDuplicatesAndOrder(t *testing.T) {
	t.Parallel()
	t.Run("Options.Duplicates", func(t *testing.T) {
		t.Parallel()
		s := start(t, evolution.Options{Duplicates: 2})
		hook := newReceiver(t, nil)
		s.open(t, "d1", hook)
		id, err := s.LeadSays("d1", "5511988887777", "Ana", "Oi")
		if err != nil {
			t.Fatal(err)
		}
		posts := hook.await(t, "messages.upsert", 3)
		s.flush(t)
		if posts = hook.got("messages.upsert"); len(posts) != 3 {
			t.Fatalf("%d posts of one message", len(posts))
		}
		for _, p := range posts {
			if field(p.data(t), "key.id") != id {
				t.Errorf("duplicate of another message: %v", p.data(t))
			}
		}
	})
	t.Run("Redeliver", func(t *testing.T) {
		t.Parallel()
		s := start(t, evolution.Options{})
		hook := newReceiver(t, nil)
		s.open(t, "d2", hook)
		if _, err := s.LeadSays("d2", "5511988887777", "Ana", "Oi"); err != nil {
			t.Fatal(err)
		}
		s.flush(t)
		var upsert evolution.Event
		for _, e := range s.Events() {
			if e.Type == "messages.upsert" {
				upsert = e
			}
		}
		if err := s.Redeliver(upsert.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Redeliver("evo_999"); err == nil {
			t.Error("Redeliver of an unknown event")
		}
		posts := hook.await(t, "messages.upsert", 2)
		if string(posts[0].env.Data) != string(posts[1].env.Data) || posts[0].env.DateTime != posts[1].env.DateTime {
			t.Errorf("the redelivery differs:\n%s\n%s", posts[0].env.Data, posts[1].env.Data)
		}
	})
	t.Run("DelayNext", func(t *testing.T) {
		t.Parallel()
		s := start(t, evolution.Options{})
		hook := newReceiver(t, nil)
		s.open(t, "d3", hook)
		s.DelayNext("d3", "send.message", 100*time.Millisecond)
		s.api(t, http.MethodPost, "/message/sendText/d3", map[string]any{"number": "5511988887777", "text": "Oi"}, 201)
		hook.await(t, "send.message", 1)
		got := events(hook.got("send.message", "messages.update"))
		if len(got) < 2 || got[0] != "messages.update" || got[len(got)-1] != "send.message" {
			t.Errorf("order %v, want the acks before the delayed send.message", got)
		}
	})
}

func TestInboundSenders(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	hook := newReceiver(t, nil)
	s.open(t, "l1", hook)
	tests := []struct {
		name string
		send func() (string, error)
		want map[string]any
	}{
		{"phone", func() (string, error) { return s.LeadSays("l1", "+1 555 010 0200", "Ana", "Oi") }, map[string]any{
			"key.remoteJid": "15550100200@s.whatsapp.net", "key.fromMe": false, "key.remoteJidAlt": nil,
			"pushName": "Ana", "status": "DELIVERY_ACK", "message.conversation": "Oi", "messageType": "conversation", "source": "android"}},
		{"BR ninth digit goes", func() (string, error) { return s.LeadSays("l1", "5531991234567", "Bia", "Oi") }, map[string]any{
			"key.remoteJid": "553191234567@s.whatsapp.net"}},
		{"lid only", func() (string, error) { return s.LeadSaysAsLID("l1", "201234567890123", "", "Caio", "Oi") }, map[string]any{
			"key.remoteJid": "201234567890123@lid", "key.remoteJidAlt": nil, "key.addressingMode": "lid"}},
		{"lid with a phone", func() (string, error) {
			return s.LeadSaysAsLID("l1", "201234567890124@lid", "5511977776666", "Duda", "Oi")
		}, map[string]any{
			"key.remoteJid": "5511977776666@s.whatsapp.net", "key.remoteJidAlt": "201234567890124@lid"}},
		{"typed on the phone", func() (string, error) { return s.OwnerSaysFromPhone("l1", "5511977776666", "Já te respondo") }, map[string]any{
			"key.remoteJid": "5511977776666@s.whatsapp.net", "key.fromMe": true, "pushName": "Sim l1", "status": "SERVER_ACK"}},
		{"photo", func() (string, error) {
			return s.LeadSendsMedia("l1", "15550100200", "Ana", evolution.Media{Type: "image", Mimetype: "image/jpeg", Caption: "olha"})
		}, map[string]any{"messageType": "imageMessage", "message.imageMessage.caption": "olha", "message.imageMessage.mimetype": "image/jpeg"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := tt.send()
			if err != nil {
				t.Fatal(err)
			}
			d := hook.await(t, "messages.upsert", i+1)[i].data(t)
			if field(d, "key.id") != id {
				t.Fatalf("upsert %v, want id %s", d, id)
			}
			for path, want := range tt.want {
				if v := field(d, path); v != want {
					t.Errorf("%s = %#v, want %#v", path, v, want)
				}
			}
		})
	}
	if _, err := s.LeadSays("l1", "12ab", "", "x"); err == nil {
		t.Error("a bad phone was accepted")
	}
	if _, err := s.LeadSays("nope", "15550100200", "", "x"); err == nil {
		t.Error("an unknown instance was accepted")
	}
}

func TestVotes(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	hook := newReceiver(t, nil)
	s.open(t, "p1", hook)
	poll := s.api(t, http.MethodPost, "/message/sendPoll/p1", map[string]any{"number": "5531991234567", "name": "Qual dia?", "selectableCount": 1, "values": []string{"Segunda", "Terça"}}, 201).obj(t)
	pollID := field(poll, "key.id").(string)
	tests := []struct {
		name     string
		vote     func() (string, error)
		selected []any
		tally    map[string]int // voters per option; nil: no pollUpdates
	}{
		{"vote", func() (string, error) { return s.LeadVotes("p1", "", pollID, "Terça") }, []any{"Terça"}, map[string]int{"Segunda": 0, "Terça": 1}},
		{"changed vote", func() (string, error) { return s.LeadVotes("p1", "", pollID, "Segunda") }, []any{"Segunda"}, map[string]int{"Segunda": 1, "Terça": 0}},
		{"withdrawn vote", func() (string, error) { return s.LeadVotes("p1", "", pollID) }, []any{}, map[string]int{"Segunda": 0, "Terça": 0}},
		{"failed vote", func() (string, error) { return s.LeadVoteFails("p1", "", pollID) }, nil, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eventID, err := tt.vote()
			if err != nil || !strings.HasPrefix(eventID, "evo_") {
				t.Fatalf("vote: %q, %v", eventID, err)
			}
			d := hook.await(t, "messages.upsert", i+1)[i].data(t)
			if d["messageType"] != "pollUpdateMessage" || field(d, "key.remoteJid") != "553191234567@s.whatsapp.net" || field(d, "key.fromMe") != false {
				t.Errorf("vote message %v", d)
			}
			up := "message.pollUpdateMessage."
			if field(d, up+"pollCreationMessageKey.id") != pollID || field(d, up+"pollCreationMessageKey.fromMe") != true {
				t.Errorf("poll key %v", field(d, up+"pollCreationMessageKey"))
			}
			selected, _ := field(d, up+"vote.selectedOptions").([]any)
			if tt.tally == nil {
				if _, ok := d["pollUpdates"]; ok || len(selected) != 1 {
					t.Errorf("failed vote: pollUpdates %v, selectedOptions %v", d["pollUpdates"], selected)
				}
				if _, ok := selected[0].(map[string]any); !ok {
					t.Errorf("failed vote: selectedOptions %v are not opaque objects", selected)
				}
				return
			}
			if len(selected) != len(tt.selected) || (len(selected) > 0 && selected[0] != tt.selected[0]) {
				t.Errorf("selectedOptions %v, want %v", selected, tt.selected)
			}
			updates, _ := d["pollUpdates"].([]any)
			if len(updates) != 2 {
				t.Fatalf("pollUpdates %v", d["pollUpdates"])
			}
			for _, u := range updates {
				name := field(u, "name").(string)
				if voters, _ := field(u, "voters").([]any); len(voters) != tt.tally[name] {
					t.Errorf("%s has voters %v, want %d", name, voters, tt.tally[name])
				}
			}
		})
	}
	if _, err := s.LeadVotes("p1", "", pollID, "Domingo"); err == nil {
		t.Error("a vote for no option")
	}
	if _, err := s.LeadVotes("p1", "", pollID, "Segunda", "Terça"); err == nil {
		t.Error("two answers in a single-answer poll")
	}
	if _, err := s.LeadVotes("p1", "", "3EB0FFFFFFFFFFFFFFFF", "Segunda"); err == nil {
		t.Error("a vote in an unknown poll")
	}
}
