package evolution_test

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/sim/evolution"
)

func TestAuthAndNotFound(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	s.create(t, "a1", nil, map[string]any{"token": "tok-a1"})
	s.create(t, "b1", nil, map[string]any{"token": "tok-b1"})
	const unauthorized = `{"status":401,"error":"Unauthorized","response":{"message":"Unauthorized"}}`
	tests := []struct {
		name, key, method, path string
		body                    any
		status                  int
		want                    string
	}{
		{"no key", "", http.MethodGet, "/instance/connectionState/a1", nil, 401, unauthorized},
		{"wrong key", "nope", http.MethodGet, "/instance/connectionState/a1", nil, 401, unauthorized},
		{"another instance's token", "tok-b1", http.MethodGet, "/instance/connectionState/a1", nil, 401, unauthorized},
		{"create needs the global key", "tok-a1", http.MethodPost, "/instance/create", map[string]any{"instanceName": "c1", "integration": "WHATSAPP-BAILEYS"}, 401, unauthorized},
		{"own token", "tok-a1", http.MethodGet, "/instance/connectionState/a1", nil, 200, `{"instance":{"instanceName":"a1","state":"close"}}`},
		{"global key", globalKey, http.MethodGet, "/instance/connectionState/b1", nil, 200, `{"instance":{"instanceName":"b1","state":"close"}}`},
		{"unknown instance before the key", "", http.MethodGet, "/instance/connectionState/zz", nil, 404,
			`{"status":404,"error":"Not Found","response":{"message":["The \"zz\" instance does not exist"]}}`},
		{"name in use before the key", "", http.MethodPost, "/instance/create", map[string]any{"instanceName": "a1", "integration": "WHATSAPP-BAILEYS"}, 403,
			`{"status":403,"error":"Forbidden","response":{"message":["This name \"a1\" is already in use."]}}`},
		{"unknown route", globalKey, http.MethodGet, "/nothing/here", nil, 404, `{"status":404,"error":"Not Found","response":{"message":["Cannot GET /nothing/here"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.request(t, tt.key, tt.method, tt.path, tt.body)
			if got.status != tt.status || string(got.body) != tt.want {
				t.Errorf("got %d %s, want %d %s", got.status, got.body, tt.status, tt.want)
			}
		})
	}

	// fetchInstances with an instance token lists that instance only.
	rows := s.request(t, "tok-b1", http.MethodGet, "/instance/fetchInstances", nil).list(t)
	if len(rows) != 1 || field(rows, "0.name") != "b1" || field(rows, "0.token") != "tok-b1" {
		t.Errorf("fetchInstances with b1's token: %v", rows)
	}
	if n := len(s.api(t, http.MethodGet, "/instance/fetchInstances", nil, 200).list(t)); n != 2 {
		t.Errorf("fetchInstances with the global key: %d rows", n)
	}
	s.api(t, http.MethodGet, "/instance/fetchInstances?instanceName=zz", nil, 404)
}

func TestCreate(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	hook := map[string]any{"url": "http://127.0.0.1:9/hook", "events": []string{"MESSAGES_UPSERT"}}
	tests := []struct {
		name   string
		body   map[string]any
		status int
		want   string // in the body
	}{
		{"no name", map[string]any{"integration": "WHATSAPP-BAILEYS"}, 400, `requires property \"instanceName\"`},
		{"no integration", map[string]any{"instanceName": "v1"}, 400, `"message":["Invalid integration"]`},
		{"other integration", map[string]any{"instanceName": "v1", "integration": "WHATSAPP-BUSINESS"}, 400, "Invalid integration"},
		{"webhook without events", map[string]any{"instanceName": "v1", "integration": "WHATSAPP-BAILEYS", "webhook": map[string]any{"url": "http://x.test/"}}, 400, "reading 'length'"},
		{"webhook as a string", map[string]any{"instanceName": "v1", "integration": "WHATSAPP-BAILEYS", "webhook": "http://x.test/"}, 400, "Invalid url"},
		{"our token", map[string]any{"instanceName": "v2", "integration": "WHATSAPP-BAILEYS", "token": "c0ffee", "webhook": hook}, 201, `"hash":"c0ffee"`},
		{"no qrcode: close, no qrcode field", map[string]any{"instanceName": "v3", "integration": "WHATSAPP-BAILEYS"}, 201, `"status":"close"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.request(t, globalKey, http.MethodPost, "/instance/create", tt.body)
			if got.status != tt.status || !strings.Contains(string(got.body), tt.want) {
				t.Errorf("got %d %s, want %d with %s", got.status, got.body, tt.status, tt.want)
			}
		})
	}
	if _, err := s.Session("v1"); err == nil {
		t.Error("a refused create left an instance")
	}
	v3 := s.api(t, http.MethodGet, "/instance/fetchInstances?instanceName=v3", nil, 200).list(t)
	if tok, _ := field(v3, "0.token").(string); !regexp.MustCompile(`^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$`).MatchString(tok) {
		t.Errorf("generated token %q is not an uppercase UUID", tok)
	}
	if strings.Contains(string(s.request(t, globalKey, http.MethodGet, "/instance/fetchInstances?instanceName=v3", nil).body), "qrcode") {
		t.Error("qrcode in a row")
	}

	// qrcode:true opens the socket and answers the first QR; a number asks
	// for a pairing code too.
	body := s.create(t, "v4", nil, map[string]any{"qrcode": true, "number": "+55 11 98888-7777"})
	if field(body, "instance.status") != "connecting" || field(body, "qrcode.count") != 1.0 {
		t.Errorf("create with qrcode: %v", body)
	}
	if b64, _ := field(body, "qrcode.base64").(string); !strings.HasPrefix(b64, "data:image/png;base64,iVBOR") {
		t.Errorf("qrcode.base64 %.40q", b64)
	}
	if code, _ := field(body, "qrcode.pairingCode").(string); len(code) != 9 {
		t.Errorf("pairing code %q", code)
	}
	if code, _ := field(body, "qrcode.code").(string); !strings.HasPrefix(code, "2@") {
		t.Errorf("qrcode.code %q", code)
	}

	// No QR in time: {"count":0}.
	s.SlowQR("v5", time.Second)
	body = s.create(t, "v5", nil, map[string]any{"qrcode": true})
	if q := field(body, "qrcode"); len(q.(map[string]any)) != 1 || field(body, "qrcode.count") != 0.0 {
		t.Errorf("slow QR: qrcode %v, want {count:0}", q)
	}
}

func TestConnectStates(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	s.create(t, "c1", nil, nil)

	first := s.api(t, http.MethodGet, "/instance/connect/c1", nil, 200).obj(t)
	if field(first, "count") != 1.0 || field(first, "pairingCode") != nil || !strings.HasPrefix(field(first, "base64").(string), "data:image/png;base64,") {
		t.Fatalf("connect from close: %v", first)
	}
	again := s.api(t, http.MethodGet, "/instance/connect/c1?number=5511988887777", nil, 200).obj(t)
	if field(again, "code") != field(first, "code") || field(again, "pairingCode") != nil {
		t.Errorf("connect while connecting: %v, want the same code and no pairing code", again)
	}
	if err := s.RotateQR("c1"); err != nil {
		t.Fatal(err)
	}
	rotated := s.api(t, http.MethodGet, "/instance/connect/c1", nil, 200).obj(t)
	if field(rotated, "count") != 2.0 || field(rotated, "code") == field(first, "code") {
		t.Errorf("after RotateQR: %v", rotated)
	}
	if st := s.api(t, http.MethodGet, "/instance/connectionState/c1", nil, 200); !strings.Contains(string(st.body), `"state":"connecting"`) {
		t.Errorf("state while showing a QR: %s", st.body)
	}
	if err := s.Scan("c1"); err != nil {
		t.Fatal(err)
	}
	if got := string(s.api(t, http.MethodGet, "/instance/connect/c1", nil, 200).body); got != `{"instance":{"instanceName":"c1","state":"open"}}` {
		t.Errorf("connect when open: %s", got)
	}

	// Errors come with HTTP 200.
	s.FailNext("/instance/connect/{instance}", 500, 1)
	if got := string(s.api(t, http.MethodGet, "/instance/connect/c1", nil, 200).body); got != `{"error":true,"message":"[object Object]"}` {
		t.Errorf("failed connect: %s", got)
	}
	s.create(t, "c2", nil, nil)
	if got := string(s.api(t, http.MethodGet, "/instance/connect/c2?number=12ab", nil, 200).body); !strings.Contains(got, `"error":true`) {
		t.Errorf("connect with a bad number: %s", got)
	}

	// No QR in time: {"count":0}; the code comes later by webhook.
	hook := newReceiver(t, nil)
	s.create(t, "c3", hook, nil)
	s.SlowQR("c3", time.Second)
	if got := string(s.api(t, http.MethodGet, "/instance/connect/c3", nil, 200).body); got != `{"count":0}` {
		t.Errorf("slow connect: %s", got)
	}
	qr := hook.await(t, "qrcode.updated", 1)[0].data(t)
	if code, _ := field(qr, "qrcode.code").(string); !strings.HasPrefix(code, "2@") || field(qr, "qrcode.instance") != "c3" {
		t.Errorf("qrcode.updated: %v", qr)
	}

	// A pairing code is asked for from close.
	s.create(t, "c4", nil, nil)
	paired := s.api(t, http.MethodGet, "/instance/connect/c4?number=5511988887777", nil, 200).obj(t)
	if code, _ := field(paired, "pairingCode").(string); !regexp.MustCompile(`^[A-Z0-9]{4}-[A-Z0-9]{4}$`).MatchString(code) {
		t.Errorf("pairing code %v", paired)
	}
	if err := s.Scan("c4"); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Session("c4"); st.Me == nil || st.Me.ID != "5511988887777@s.whatsapp.net" {
		t.Errorf("paired account %+v", st.Me)
	}
}

func TestSend(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	s.open(t, "s1", nil)
	s.create(t, "s2", nil, nil)
	s.SetNumberExists("+44 7700 900123", false)
	s.RefuseSendsTo("15550100999", true)
	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\nstand-in"))
	tests := []struct {
		name   string
		path   string
		body   map[string]any
		status int
		want   map[string]any // fields of the answer
	}{
		{"text", "/message/sendText/s1", map[string]any{"number": "5511988887777", "text": "Olá Ana!"}, 201, map[string]any{
			"key.remoteJid": "5511988887777@s.whatsapp.net", "key.fromMe": true, "status": "PENDING",
			"message.conversation": "Olá Ana!", "messageType": "conversation", "source": "web", "pushName": "Sim s1"}},
		{"BR ninth digit goes", "/message/sendText/s1", map[string]any{"number": "+55 (31) 99123 4567", "text": "oi"}, 201, map[string]any{
			"key.remoteJid": "553191234567@s.whatsapp.net"}},
		{"BR below DDD 31 keeps it", "/message/sendText/s1", map[string]any{"number": "5521991234567", "text": "oi"}, 201, map[string]any{
			"key.remoteJid": "5521991234567@s.whatsapp.net"}},
		{"BR landline-like keeps it", "/message/sendText/s1", map[string]any{"number": "5531951234567", "text": "oi"}, 201, map[string]any{
			"key.remoteJid": "5531951234567@s.whatsapp.net"}},
		{"a JID passes through", "/message/sendText/s1", map[string]any{"number": "201234567890123@lid", "text": "oi"}, 201, map[string]any{
			"key.remoteJid": "201234567890123@lid"}},
		{"a dash is not stripped", "/message/sendText/s1", map[string]any{"number": "+55 31 99123-4567", "text": "oi"}, 400, map[string]any{
			"response.message.0.jid": "553199123-4567@s.whatsapp.net", "response.message.0.exists": false}},
		{"no text", "/message/sendText/s1", map[string]any{"number": "5511988887777"}, 400, map[string]any{
			"response.message.0": `instance requires property "text"`}},
		{"blank text", "/message/sendText/s1", map[string]any{"number": "5511988887777", "text": "  "}, 400, map[string]any{"status": 400.0}},
		{"not on WhatsApp", "/message/sendText/s1", map[string]any{"number": "447700900123", "text": "hi"}, 400, map[string]any{
			"response.message.0.jid": "447700900123@s.whatsapp.net", "response.message.0.exists": false, "response.message.0.number": "447700900123"}},
		{"refused", "/message/sendText/s1", map[string]any{"number": "15550100999", "text": "hi"}, 400, map[string]any{
			"response.message.0": "Error: not-acceptable"}},
		{"not connected", "/message/sendText/s2", map[string]any{"number": "5511988887777", "text": "hi"}, 400, map[string]any{
			"response.message.0": "Error: Connection Closed"}},
		{"single-choice poll", "/message/sendPoll/s1", map[string]any{"number": "5511988887777", "name": "Qual dia?", "selectableCount": 1, "values": []string{"Seg", "Ter"}}, 201, map[string]any{
			"messageType": "pollCreationMessageV3", "message.pollCreationMessageV3.name": "Qual dia?",
			"message.pollCreationMessageV3.options.1.optionName": "Ter", "message.pollCreationMessageV3.selectableOptionsCount": 1.0}},
		{"multiple-choice poll", "/message/sendPoll/s1", map[string]any{"number": "5511988887777", "name": "Quais?", "selectableCount": 0, "values": []string{"A", "B", "C"}}, 201, map[string]any{
			"messageType": "pollCreationMessage", "message.pollCreationMessage.selectableOptionsCount": 0.0}},
		{"poll with one value", "/message/sendPoll/s1", map[string]any{"number": "5511988887777", "name": "?", "selectableCount": 1, "values": []string{"A"}}, 400, map[string]any{"status": 400.0}},
		{"poll with repeated values", "/message/sendPoll/s1", map[string]any{"number": "5511988887777", "name": "?", "selectableCount": 1, "values": []string{"A", "A"}}, 400, map[string]any{"status": 400.0}},
		{"poll without selectableCount", "/message/sendPoll/s1", map[string]any{"number": "5511988887777", "name": "?", "values": []string{"A", "B"}}, 400, map[string]any{
			"response.message.0": `instance requires property "selectableCount"`}},
		{"image as base64", "/message/sendMedia/s1", map[string]any{"number": "5511988887777", "mediatype": "image", "mimetype": "image/png", "caption": "Catálogo", "media": png, "fileName": "cat.png"}, 201, map[string]any{
			"messageType": "imageMessage", "message.imageMessage.caption": "Catálogo", "message.imageMessage.mimetype": "image/png"}},
		{"document as a URL", "/message/sendMedia/s1", map[string]any{"number": "5511988887777", "mediatype": "document", "media": "https://cdn.example.com/list.pdf", "fileName": "list.pdf"}, 201, map[string]any{
			"messageType": "documentMessage", "message.documentMessage.fileName": "list.pdf", "message.documentMessage.mimetype": "application/pdf"}},
		{"a data: URL", "/message/sendMedia/s1", map[string]any{"number": "5511988887777", "mediatype": "image", "media": "data:image/png;base64," + png}, 400, map[string]any{
			"response.message.0": "Owned media must be a url or base64"}},
		{"base64 document without a name", "/message/sendMedia/s1", map[string]any{"number": "5511988887777", "mediatype": "document", "media": png}, 400, map[string]any{
			"response.message.0": "For base64 the file name must be informed."}},
		{"no mediatype", "/message/sendMedia/s1", map[string]any{"number": "5511988887777", "media": png}, 400, map[string]any{
			"response.message.0": `instance requires property "mediatype"`}},
		{"unknown instance", "/message/sendText/zz", map[string]any{"number": "5511988887777", "text": "hi"}, 404, map[string]any{"status": 404.0}},
	}
	id := regexp.MustCompile(`^3EB0[0-9A-F]{16}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.request(t, globalKey, http.MethodPost, tt.path, tt.body)
			if got.status != tt.status {
				t.Fatalf("status %d, want %d: %s", got.status, tt.status, got.body)
			}
			m := got.obj(t)
			for path, want := range tt.want {
				if v := field(m, path); v != want {
					t.Errorf("%s = %#v, want %#v", path, v, want)
				}
			}
			if got.status != 201 {
				return
			}
			if k, _ := field(m, "key.id").(string); !id.MatchString(k) {
				t.Errorf("key.id %q", k)
			}
			if ts, _ := field(m, "messageTimestamp").(float64); time.Since(time.Unix(int64(ts), 0)) > time.Minute {
				t.Errorf("messageTimestamp %v", field(m, "messageTimestamp"))
			}
			if iid, _ := field(m, "instanceId").(string); len(iid) != 36 {
				t.Errorf("instanceId %q", iid)
			}
		})
	}
	sent := s.Sent("s1")
	if len(sent) != 9 || sent[1].ChatID != "553191234567@s.whatsapp.net" || sent[1].Number != "+55 (31) 99123 4567" {
		t.Errorf("Sent: %d, second %+v", len(sent), sent[1])
	}
}

func TestChatRoutes(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	s.open(t, "h1", nil)
	s.SetNumberExists("447700900123", false)
	ana, err := s.LeadSays("h1", "+5531991234567", "Ana", "Oi!")
	if err != nil {
		t.Fatal(err)
	}
	lid, err := s.LeadSaysAsLID("h1", "201234567890123", "", "Bia", "Olá")
	if err != nil {
		t.Fatal(err)
	}
	photo, err := s.LeadSendsMedia("h1", "5531991234567", "Ana", evolution.Media{Type: "image", Mimetype: "image/jpeg", Caption: "olha"})
	if err != nil {
		t.Fatal(err)
	}
	s.api(t, http.MethodPost, "/message/sendText/h1", map[string]any{"number": "5531991234567", "text": "Oi Ana"}, 201)

	numbers := s.api(t, http.MethodPost, "/chat/whatsappNumbers/h1", map[string]any{"numbers": []string{"5531991234567", "447700900123"}}, 200).list(t)
	if field(numbers, "0.jid") != "553191234567@s.whatsapp.net" || field(numbers, "0.exists") != true || field(numbers, "0.number") != "5531991234567" || field(numbers, "0.name") != "Ana" {
		t.Errorf("first number: %v", numbers[0])
	}
	if field(numbers, "1.exists") != false || field(numbers, "1.jid") != "447700900123@s.whatsapp.net" {
		t.Errorf("second number: %v", numbers[1])
	}

	read := s.api(t, http.MethodPost, "/chat/markMessageAsRead/h1", map[string]any{"readMessages": []map[string]any{
		{"remoteJid": "553191234567@s.whatsapp.net", "fromMe": false, "id": ana},
		{"remoteJid": "201234567890123@lid", "fromMe": false, "id": lid},
	}}, 201)
	if string(read.body) != `{"message":"Read messages","read":"success"}` {
		t.Errorf("markMessageAsRead: %s", read.body)
	}

	all := s.api(t, http.MethodPost, "/chat/findMessages/h1", map[string]any{"where": map[string]any{"key": map[string]any{"remoteJid": "553191234567@s.whatsapp.net"}}, "page": 1, "offset": 2}, 200).obj(t)
	if field(all, "messages.total") != 3.0 || field(all, "messages.pages") != 2.0 || field(all, "messages.currentPage") != 1.0 {
		t.Errorf("findMessages counts: %v", field(all, "messages"))
	}
	if field(all, "messages.records.0.key.fromMe") != true || field(all, "messages.records.1.key.id") != photo || field(all, "messages.records.1.messageType") != "imageMessage" {
		t.Errorf("findMessages records, newest first: %v", field(all, "messages.records"))
	}
	mine := s.api(t, http.MethodPost, "/chat/findMessages/h1", map[string]any{"where": map[string]any{"key": map[string]any{"id": ana}}}, 200).obj(t)
	if field(mine, "messages.total") != 1.0 || field(mine, "messages.records.0.pushName") != "Ana" || field(mine, "messages.records.0.message.conversation") != "Oi!" || field(mine, "messages.records.0.status") != "DELIVERY_ACK" {
		t.Errorf("findMessages by id: %v", mine)
	}

	media := s.api(t, http.MethodPost, "/chat/getBase64FromMediaMessage/h1", map[string]any{"message": map[string]any{"key": map[string]any{"id": photo}}}, 201).obj(t)
	data, _ := base64.StdEncoding.DecodeString(field(media, "base64").(string))
	if field(media, "mimetype") != "image/jpeg" || field(media, "mediaType") != "imageMessage" || len(data) < 4 || data[0] != 0xff {
		t.Errorf("getBase64FromMediaMessage: %v", media)
	}
	s.api(t, http.MethodPost, "/chat/getBase64FromMediaMessage/h1", map[string]any{"message": map[string]any{"key": map[string]any{"id": ana}}}, 400)
}
