package evolution_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"

	"github.com/myaibud/aibud/app/sim/evolution"
	"github.com/myaibud/aibud/app/sim/phone/phonetest"
)

// page fetches a phone page without JavaScript.
func (s *sim) page(t *testing.T, path string) *goquery.Document {
	t.Helper()
	res, err := http.Get(s.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, res.StatusCode)
	}
	doc, err := goquery.NewDocumentFromReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// form posts a phone form as a browser without JavaScript does, and
// returns where it redirects.
func (s *sim) form(t *testing.T, path string, values url.Values) string {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.PostForm(s.url+path, values)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body) // the redirect is what counts
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST %s: %d", path, res.StatusCode)
	}
	return res.Header.Get("Location")
}

func TestPhonePage(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	hook := newReceiver(t, nil)
	s.create(t, "ph1", hook, map[string]any{"qrcode": true})

	doc := s.page(t, "/phone/ph1")
	if got := doc.Find("[data-testid=status]").Text(); got != "connecting" {
		t.Errorf("status %q", got)
	}
	if list := s.page(t, "/phone"); !strings.Contains(list.Find(".tag").Text(), "Evolution API stand-in") || list.Find(`a[href="/phone/ph1"]`).Length() != 1 {
		t.Errorf("list page: %q", list.Text())
	}
	src, ok := doc.Find("img[data-testid=qr]").Attr("src")
	if !ok {
		t.Fatal("no QR image")
	}
	res, err := http.Get(s.url + src)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" {
		t.Errorf("QR image: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if loc := s.form(t, "/phone/ph1/scan", nil); loc != "/phone/ph1" {
		t.Errorf("scan went to %q", loc)
	}
	s.waitState(t, "ph1", func(st evolution.SessionState) bool { return st.Status == evolution.StateOpen })

	// A Brazilian lead writes; the conversation is under the JID's number.
	loc := s.form(t, "/phone/ph1/lead", url.Values{"phone": {"+55 31 99123-4567"}, "name": {"Rita"}, "text": {"Olá!"}})
	if loc != "/phone/ph1?chat=553191234567" {
		t.Errorf("lead went to %q", loc)
	}
	up := hook.await(t, "messages.upsert", 1)[0].data(t)
	if field(up, "key.remoteJid") != "553191234567@s.whatsapp.net" || field(up, "pushName") != "Rita" {
		t.Errorf("upsert %v", up)
	}
	s.api(t, http.MethodPost, "/message/sendText/ph1", map[string]any{"number": "5531991234567", "text": "Tudo bem?"}, 201)
	poll := s.api(t, http.MethodPost, "/message/sendPoll/ph1", map[string]any{"number": "553191234567", "name": "Qual dia?", "selectableCount": 1, "values": []string{"Seg", "Ter"}}, 201).obj(t)
	convo := s.page(t, loc).Find("[data-testid=conversation]")
	for _, want := range []string{"Rita · +553191234567", "Olá!", "Tudo bem?", "sent by the app", "Qual dia?"} {
		if !strings.Contains(convo.Text(), want) {
			t.Errorf("the conversation lacks %q: %s", want, convo.Text())
		}
	}
	if id, _ := convo.Find(`form.poll input[name=poll]`).Attr("value"); id != field(poll, "key.id") {
		t.Errorf("poll id %q", id)
	}
	s.form(t, "/phone/ph1/vote", url.Values{"poll": {field(poll, "key.id").(string)}, "chat": {"553191234567"}, "option": {"Ter"}})
	vote := hook.await(t, "messages.upsert", 2)[1].data(t)
	if field(vote, "message.pollUpdateMessage.vote.selectedOptions.0") != "Ter" {
		t.Errorf("vote from the page: %v", vote)
	}
	if loc := s.form(t, "/phone/ph1/drop", nil); loc != "/phone/ph1" {
		t.Errorf("drop went to %q", loc)
	}
	if st, _ := s.Session("ph1"); st.Status != evolution.StateClose {
		t.Errorf("after drop: %s", st.Status)
	}
}

// TestPhoneInBrowser is a smoke test of the phone page in Chromium: the
// lead's message goes out without a reload and the app's answer comes in
// by itself.
func TestPhoneInBrowser(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	s.open(t, "br1", nil)

	ctx, problems := phonetest.Browser(t)
	conversation := func(want string) {
		t.Helper()
		phonetest.WaitConversation(t, ctx, want)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.url+"/phone/br1"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=lead-form]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=lead-form] input[name=phone]`), "+44 7911 123456"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=lead-form] textarea`), "Do you deliver?"),
		chromedp.Click(chromedp.CSS(`[data-testid=lead-form] button.primary`)),
	); err != nil {
		t.Fatal(err)
	}
	conversation("Do you deliver?")
	s.api(t, http.MethodPost, "/message/sendText/br1", map[string]any{"number": "447911123456", "text": "Yes, every day."}, 201)
	conversation("Yes, every day.")
	if got := fmt.Sprint(len(s.Sent("br1"))); got != "1" {
		t.Errorf("sent %s", got)
	}
	for _, p := range problems() {
		t.Errorf("script error: %s", p)
	}
}
