package evolution_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/myaibud/aibud/app/sim/evolution"
	"github.com/myaibud/aibud/app/sim/samples"
)

// TestLeadMediaWithItsBytes: media a lead sends with Data comes in
// messages.upsert as <type>Message {mimetype, fileName, caption, seconds}
// and getBase64FromMediaMessage returns those bytes.
func TestLeadMediaWithItsBytes(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	hook := newReceiver(t, nil)
	s.open(t, "md1", hook)

	for i, tt := range []struct {
		media evolution.Media
		want  map[string]any
	}{
		{evolution.Media{Type: "audio", Mimetype: samples.VoiceNoteMime, Data: samples.VoiceNote()}, map[string]any{
			"messageType": "audioMessage", "message.audioMessage.mimetype": samples.VoiceNoteMime,
			"message.audioMessage.seconds": 2.0, "message.audioMessage.ptt": true}},
		{evolution.Media{Type: "image", Mimetype: samples.PhotoMime, Caption: "how much is this?", Data: samples.Photo()}, map[string]any{
			"messageType": "imageMessage", "message.imageMessage.caption": "how much is this?", "message.imageMessage.mimetype": "image/jpeg"}},
		{evolution.Media{Type: "document", Mimetype: samples.PriceListMime, Filename: samples.PriceListName, Data: samples.PriceList()}, map[string]any{
			"messageType": "documentMessage", "message.documentMessage.fileName": "price-list.pdf", "message.documentMessage.mimetype": "application/pdf"}},
	} {
		id, err := s.LeadSendsMedia("md1", "15550100300", "Ana", tt.media)
		if err != nil {
			t.Fatal(err)
		}
		ups := hook.await(t, "messages.upsert", i+1)
		d := ups[i].data(t)
		if field(d, "key.id") != id {
			t.Fatalf("upsert %v, want id %s", d, id)
		}
		for path, want := range tt.want {
			if v := field(d, path); v != want {
				t.Errorf("%s: %s = %#v, want %#v", tt.media.Type, path, v, want)
			}
		}

		got := s.api(t, http.MethodPost, "/chat/getBase64FromMediaMessage/md1", map[string]any{"message": map[string]any{"key": map[string]any{"id": id}}}, 201).obj(t)
		data, err := base64.StdEncoding.DecodeString(field(got, "base64").(string))
		if err != nil || !bytes.Equal(data, tt.media.Data) {
			t.Errorf("%s: getBase64FromMediaMessage gave %d bytes (%v), want the %d sent", tt.media.Type, len(data), err, len(tt.media.Data))
		}
		if field(got, "mimetype") != tt.media.Mimetype || field(got, "mediaType") != tt.want["messageType"] {
			t.Errorf("%s: getBase64FromMediaMessage %v", tt.media.Type, got)
		}
		if tt.media.Filename != "" && field(got, "fileName") != tt.media.Filename {
			t.Errorf("%s: fileName %v", tt.media.Type, field(got, "fileName"))
		}
	}
}

// TestPhonePageSendsSamples: the phone page's "Send as" sends the sample
// voice note, photo and PDF, and shows them.
func TestPhonePageSendsSamples(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	hook := newReceiver(t, nil)
	s.open(t, "md2", hook)

	for _, v := range []url.Values{
		{"phone": {"+15550100301"}, "name": {"Bo"}, "media": {"audio"}},
		{"phone": {"+15550100301"}, "name": {"Bo"}, "media": {"image"}, "text": {"this one?"}},
		{"phone": {"+15550100301"}, "name": {"Bo"}, "media": {"document"}},
	} {
		s.form(t, "/phone/md2/lead", v)
	}
	ups := hook.await(t, "messages.upsert", 3)
	for i, want := range []struct {
		typ  string
		data []byte
	}{{"audioMessage", samples.VoiceNote()}, {"imageMessage", samples.Photo()}, {"documentMessage", samples.PriceList()}} {
		d := ups[i].data(t)
		if field(d, "messageType") != want.typ {
			t.Fatalf("upsert %d: %v", i, d)
		}
		got := s.api(t, http.MethodPost, "/chat/getBase64FromMediaMessage/md2", map[string]any{"message": map[string]any{"key": map[string]any{"id": field(d, "key.id")}}}, 201).obj(t)
		if field(got, "base64") != base64.StdEncoding.EncodeToString(want.data) {
			t.Errorf("%s: not the sample's bytes", want.typ)
		}
	}
	convo := s.page(t, "/phone/md2?chat=15550100301").Find("[data-testid=conversation]")
	for _, want := range []string{"🎤 Voice note 0:02", "this one?", "📄 price-list.pdf"} {
		if !strings.Contains(convo.Text(), want) {
			t.Errorf("the conversation lacks %q: %s", want, convo.Text())
		}
	}
	if src, _ := convo.Find("[data-testid=image]").Attr("src"); src != "data:image/jpeg;base64,"+base64.StdEncoding.EncodeToString(samples.Photo()) {
		t.Errorf("the photo shows as %.40q", src)
	}
}
