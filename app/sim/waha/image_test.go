package waha_test

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/sim/waha"
)

// TestSendImage: an image sent through the API is recorded with its type,
// size and caption, under the pre-generated id when the stand-in is told to
// take it (once per id), sends the same events as a text, and shows on the
// phone page with its caption.
func TestSendImage(t *testing.T) {
	t.Parallel()
	s := newSimWith(t, waha.Options{Timing: waha.FastTiming(), ImageIDs: true})
	h := newHook(t, nil)
	s.working(t, "im1", h)
	s.flush(t)

	var nid struct {
		ID string `json:"id"`
	}
	s.mustCall(t, http.MethodGet, "/api/im1/new-message-id", nil, http.StatusOK).json(t, &nid)
	png := []byte("\x89PNG\r\n\x1a\nsale-image")
	body := imageBody("im1", "15550100500@c.us", nid.ID, "Hi Ana, 20% off", png)
	s.mustCall(t, http.MethodPost, "/api/sendImage", body, http.StatusCreated)
	s.mustCall(t, http.MethodPost, "/api/sendImage", body, http.StatusCreated)

	wantID := "true_15550100500@c.us_" + nid.ID
	want := []waha.SentMessage{{ID: wantID, Key: nid.ID, ChatID: "15550100500@c.us", Type: "image", Mime: "image/png",
		FileName: "sale.png", Size: len(png), Caption: "Hi Ana, 20% off", Requests: 2}}
	if diff := cmp.Diff(want, s.Sent("im1"), cmpIgnoreTime()); diff != "" {
		t.Errorf("Sent (-want +got):\n%s", diff)
	}
	h.waitFor(t, "SERVER ack", func(r hookRequest) bool { return r.env.Event == "message.ack" && statusOf(r) == "SERVER" })
	anyMsg := h.waitFor(t, "message.any", func(r hookRequest) bool { return r.env.Event == "message.any" })
	if !strings.Contains(string(anyMsg.env.Payload), `"hasMedia":true`) || !strings.Contains(string(anyMsg.env.Payload), wantID) {
		t.Errorf("message.any payload %s", anyMsg.env.Payload)
	}

	msg := s.page(t, "/phone/im1?chat=15550100500").doc.Find(`[data-testid=conversation] .msg`).Last()
	src, _ := msg.Find(`[data-testid=image]`).Attr("src")
	if src != "data:image/png;base64,"+base64.StdEncoding.EncodeToString(png) {
		t.Errorf("image src %q", src)
	}
	if !strings.Contains(msg.Find(".body").Text(), "Hi Ana, 20% off") {
		t.Errorf("caption not shown: %q", msg.Text())
	}
}

// imageBody is a sendImage request; id is left out when empty.
func imageBody(session, chatID, id, caption string, data []byte) map[string]any {
	b := map[string]any{"session": session, "chatId": chatID, "caption": caption,
		"file": map[string]any{"mimetype": "image/png", "filename": "sale.png", "data": base64.StdEncoding.EncodeToString(data)}}
	if id != "" {
		b["id"] = id
	}
	return b
}

// TestSendImageIgnoresTheID: by default the stand-in does what WAHA's spec
// allows, ignoring the pre-generated id of sendImage: each send is a new
// image with an id of its own, answered, echoed and acknowledged under it,
// and the chat's message list shows it.
func TestSendImageIgnoresTheID(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "im3", h)
	s.flush(t)
	body := imageBody("im3", "15550100700@c.us", "3EB0OURS", "New menu", []byte("\x89PNG\r\n\x1a\nmenu"))
	var first, second struct {
		ID string `json:"id"`
	}
	s.mustCall(t, http.MethodPost, "/api/sendImage", body, http.StatusCreated).json(t, &first)
	s.mustCall(t, http.MethodPost, "/api/sendImage", body, http.StatusCreated).json(t, &second)
	sent := s.Sent("im3")
	if len(sent) != 2 || first.ID == second.ID || strings.Contains(first.ID, "3EB0OURS") ||
		sent[0].ID != first.ID || sent[1].ID != second.ID || sent[0].Requests != 1 {
		t.Fatalf("answers %q, %q; sent %+v", first.ID, second.ID, sent)
	}
	h.waitFor(t, "the echo under the gateway's id", func(r hookRequest) bool {
		return r.env.Event == "message.any" && strings.Contains(string(r.env.Payload), first.ID)
	})
	h.waitFor(t, "the ack under the gateway's id", func(r hookRequest) bool {
		return r.env.Event == "message.ack" && strings.Contains(string(r.env.Payload), first.ID)
	})

	var list []struct {
		ID       string `json:"id"`
		Body     string `json:"body"`
		HasMedia bool   `json:"hasMedia"`
		FromMe   bool   `json:"fromMe"`
	}
	s.mustCall(t, http.MethodGet, "/api/im3/chats/15550100700@c.us/messages?limit=1&filter.fromMe=true&filter.timestamp.gte=0",
		nil, http.StatusOK).json(t, &list)
	if len(list) != 1 || list[0].ID != second.ID || list[0].Body != "New menu" || !list[0].HasMedia || !list[0].FromMe {
		t.Errorf("newest message %+v, want the second image", list)
	}
	later := time.Now().Add(time.Hour).Unix()
	s.mustCall(t, http.MethodGet, "/api/im3/chats/15550100700@c.us/messages?limit=5&filter.timestamp.gte="+strconv.FormatInt(later, 10),
		nil, http.StatusOK).json(t, &list)
	if len(list) != 0 {
		t.Errorf("messages after an hour from now: %+v", list)
	}
}

// TestSendImageErrors: images WAHA would refuse are refused with 400 and
// nothing is recorded.
func TestSendImageErrors(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	s.working(t, "im2", nil)
	data := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n"))
	file := func(mime, data string) map[string]any { return map[string]any{"mimetype": mime, "data": data} }
	tests := []struct {
		name string
		body map[string]any
	}{
		{"no file", map[string]any{"caption": "hi"}},
		{"a URL", map[string]any{"file": map[string]any{"mimetype": "image/png", "url": "https://example.com/a.png"}}},
		{"no data", map[string]any{"file": file("image/png", "")}},
		{"not base64", map[string]any{"file": file("image/png", "%%%")}},
		{"not an image type", map[string]any{"file": file("application/pdf", data)}},
		{"caption too long", map[string]any{"file": file("image/png", data), "caption": strings.Repeat("a", 1025)}},
		{"no chat", map[string]any{"chatId": "", "file": file("image/png", data)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"session": "im2", "chatId": "15550100600@c.us"}
			for k, v := range tt.body {
				body[k] = v
			}
			if got := s.call(t, http.MethodPost, "/api/sendImage", body); got.status != http.StatusBadRequest {
				t.Errorf("status %d, want 400: %s", got.status, got.body)
			}
		})
	}
	if n := len(s.Sent("im2")); n != 0 {
		t.Errorf("%d messages recorded from refused sends", n)
	}
}

// TestHoldAnswersUntilReleased: a held sendImage is carried out at once,
// its echo delivered, and its answer comes only when released.
func TestHoldAnswersUntilReleased(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "im4", h)
	s.flush(t)
	release := s.Hold("/api/sendImage")
	defer release()
	answered := make(chan answer, 1)
	go func() {
		answered <- s.call(t, http.MethodPost, "/api/sendImage", imageBody("im4", "15550100800@c.us", "", "Held", []byte("\x89PNG")))
	}()
	h.waitFor(t, "the echo of the held send", func(r hookRequest) bool {
		return r.env.Event == "message.any" && strings.Contains(string(r.env.Payload), `"Held"`)
	})
	select {
	case a := <-answered:
		t.Fatalf("answered %d before the release", a.status)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	if a := <-answered; a.status != http.StatusCreated {
		t.Errorf("status %d after the release: %s", a.status, a.body)
	}
}
