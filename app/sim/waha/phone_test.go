package waha_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/myaibud/aibud/app/sim/waha"
)

// page is a phone page, fetched without JavaScript.
type page struct {
	status int
	header http.Header
	doc    *goquery.Document
	url    *url.URL
}

// noRedirects is a client that shows 303s.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (s *sim) page(t *testing.T, path string) page {
	t.Helper()
	res, err := http.Get(s.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	doc, err := goquery.NewDocumentFromReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: res.StatusCode, header: res.Header, doc: doc, url: res.Request.URL}
}

// post submits a phone form as a browser without JavaScript does.
func (s *sim) post(t *testing.T, path string, form url.Values, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body) // the status and headers are what count
	res.Body.Close()
	return res
}

func TestPhonePage(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	if p := s.page(t, "/phone"); p.status != http.StatusOK || !strings.Contains(p.doc.Find("main").Text(), "No sessions yet") {
		t.Fatalf("empty list: %d %q", p.status, p.doc.Find("main").Text())
	}
	s.createSession(t, "t3_i4", h)
	s.waitStatus(t, "t3_i4", waha.StatusScanQR)

	list := s.page(t, "/phone")
	if link := list.doc.Find(`[data-testid=sessions] a[href="/phone/t3_i4"]`); link.Length() != 1 {
		t.Fatalf("no link to the session in %s", list.doc.Find("main").Text())
	}

	// The QR code, and the scan button.
	p := s.page(t, "/phone/t3_i4")
	if got := p.doc.Find("[data-testid=status]").Text(); got != waha.StatusScanQR {
		t.Errorf("status %q", got)
	}
	src, ok := p.doc.Find("img[data-testid=qr]").Attr("src")
	if !ok {
		t.Fatal("no QR image")
	}
	res, err := http.Get(s.url + src)
	if err != nil {
		t.Fatal(err)
	}
	png, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, png)
	if res := s.post(t, "/phone/t3_i4/scan", nil, nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/phone/t3_i4" {
		t.Fatalf("scan: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	s.waitStatus(t, "t3_i4", waha.StatusWorking)

	// The person writes as a lead; the app answers; the page shows both.
	res = s.post(t, "/phone/t3_i4/lead", url.Values{"phone": {"+55 11 91234-5678"}, "name": {"Rita"}, "text": {"Olá, tudo bem?"}}, nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/phone/t3_i4?chat=5511912345678" {
		t.Fatalf("lead: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	h.waitFor(t, "the lead's message", func(r hookRequest) bool { return r.env.Event == "message" })
	s.mustCall(t, http.MethodPost, "/api/sendText", map[string]any{"session": "t3_i4", "chatId": "5511912345678@c.us", "text": "Tudo ótimo! Como posso ajudar?"}, http.StatusCreated)
	var poll struct {
		ID string `json:"id"`
	}
	s.mustCall(t, http.MethodPost, "/api/sendPoll", map[string]any{
		"session": "t3_i4", "chatId": "5511912345678@c.us",
		"poll": map[string]any{"name": "Qual horário?", "options": []string{"Manhã", "Tarde"}, "multipleAnswers": false},
	}, http.StatusCreated).json(t, &poll)
	s.mustCall(t, http.MethodPost, "/api/startTyping", map[string]any{"session": "t3_i4", "chatId": "5511912345678@c.us"}, http.StatusCreated)

	p = s.page(t, "/phone/t3_i4?chat=5511912345678")
	convo := p.doc.Find("[data-testid=conversation]")
	for _, want := range []string{"Rita · +5511912345678", "Olá, tudo bem?", "Tudo ótimo! Como posso ajudar?", "sent by the app", "Qual horário?", "typing…"} {
		if !strings.Contains(convo.Text(), want) {
			t.Errorf("conversation lacks %q: %s", want, convo.Text())
		}
	}
	if v, _ := p.doc.Find(`[data-testid=lead-form] input[name=phone]`).Attr("value"); v != "+5511912345678" {
		t.Errorf("lead form phone %q", v)
	}
	if v, _ := convo.Find(`form.poll input[name=poll]`).Attr("value"); v != poll.ID {
		t.Errorf("poll form for %q, want %q", v, poll.ID)
	}

	// Voting from the page.
	res = s.post(t, "/phone/t3_i4/vote", url.Values{"poll": {poll.ID}, "option": {"Tarde"}, "chat": {"5511912345678"}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("vote: %d", res.StatusCode)
	}
	h.waitFor(t, "poll.vote", func(r hookRequest) bool {
		return r.env.Event == "poll.vote" && strings.Contains(string(r.env.Payload), `"selectedOptions":["Tarde"]`)
	})

	// The owner writes from the phone.
	res = s.post(t, "/phone/t3_i4/owner", url.Values{"to": {"+5511912345678"}, "text": {"Aqui é o dono"}}, http.Header{"X-Phone-Fetch": {"1"}})
	if res.StatusCode != http.StatusNoContent || res.Header.Get("X-Chat") != "5511912345678" {
		t.Fatalf("owner: %d, X-Chat %q", res.StatusCode, res.Header.Get("X-Chat"))
	}
	owner := h.waitFor(t, "the owner's message", func(r hookRequest) bool {
		return r.env.Event == "message.any" && strings.Contains(string(r.env.Payload), "Aqui é o dono")
	})
	var payload struct {
		FromMe bool   `json:"fromMe"`
		Source string `json:"source"`
	}
	if err := json.Unmarshal(owner.env.Payload, &payload); err != nil || !payload.FromMe || payload.Source != "app" {
		t.Errorf("owner's message.any %s", owner.env.Payload)
	}

	// The lead sends a photo with a caption, and a voice note.
	s.post(t, "/phone/t3_i4/lead", url.Values{"phone": {"+5511912345678"}, "media": {"image"}, "text": {"Este aqui?"}}, nil)
	s.post(t, "/phone/t3_i4/lead", url.Values{"phone": {"+5511912345678"}, "media": {"audio"}}, nil)
	for _, want := range []string{`"imageMessage"`, `"audioMessage"`} {
		h.waitFor(t, "the lead's "+want, func(r hookRequest) bool {
			return r.env.Event == "message" && strings.Contains(string(r.env.Payload), want) && strings.Contains(string(r.env.Payload), `"hasMedia":true`)
		})
	}
	convo = s.page(t, "/phone/t3_i4?chat=5511912345678").doc.Find("[data-testid=conversation]")
	for _, want := range []string{"Este aqui?", "🎤 Voice note 0:02"} {
		if !strings.Contains(convo.Text(), want) {
			t.Errorf("conversation lacks %q", want)
		}
	}
	if src, _ := convo.Find("[data-testid=image]").Attr("src"); !strings.HasPrefix(src, "data:image/jpeg;base64,") {
		t.Errorf("the lead's photo shows as %q", src)
	}

	// Errors come back as 400 to fetch and in the page otherwise.
	res = s.post(t, "/phone/t3_i4/lead", url.Values{"phone": {"nope"}, "text": {"x"}}, http.Header{"X-Phone-Fetch": {"1"}})
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad lead phone by fetch: %d", res.StatusCode)
	}
	res = s.post(t, "/phone/t3_i4/lead", url.Values{"phone": {"nope"}, "text": {"x"}}, nil)
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Query().Get("err") == "" {
		t.Errorf("bad lead phone: redirect to %q", res.Header.Get("Location"))
	}
	if p := s.page(t, loc.String()); strings.TrimSpace(p.doc.Find("#flash").Text()) == "" {
		t.Error("the error is not shown")
	}
}

func TestPhoneLiveWaitsForChanges(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	s.working(t, "t5_i6", nil)
	p := s.page(t, "/phone/t5_i6")
	version := p.header.Get("X-Version")
	if _, err := strconv.Atoi(version); err != nil {
		t.Fatalf("X-Version %q", version)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		_, _ = s.LeadSays("t5_i6", "15550100200", "Zé", "chegou?") // checked below
	}()
	start := time.Now()
	live := s.page(t, "/phone/t5_i6?live=1&chat=15550100200&v="+version)
	if took := time.Since(start); took < 40*time.Millisecond || took > 10*time.Second {
		t.Errorf("the live answer came after %v", took)
	}
	if !strings.Contains(live.doc.Text(), "chegou?") || live.header.Get("X-Version") == version {
		t.Errorf("live answer %q, version %s", live.doc.Text(), live.header.Get("X-Version"))
	}
	if live.doc.Find("form[data-testid=lead-form]").Length() != 0 {
		t.Error("the live part holds the forms, which would lose what the person types")
	}
}
