package app_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/campaign"
	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// postMessage posts the message step as a multipart form, with a file as
// its image when name is not empty; headers come in name, value pairs.
func (b *browser) postMessage(path string, form url.Values, name string, content []byte, headers ...string) *response {
	b.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, vs := range form {
		for _, v := range vs {
			_ = w.WriteField(k, v)
		}
	}
	if name != "" {
		part, _ := w.CreateFormFile("image", name)
		_, _ = part.Write(content)
	}
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, b.app.URL+path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// testPNG is a small real PNG image.
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mediaCount is how many files the tenant has stored.
func mediaCount(t *testing.T, tenantID int64) int64 {
	t.Helper()
	n, err := dbtest.DB(t).NewSelect().Table("media").Where("tenant_id = ?", tenantID).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCampaignMessageImage: the message step takes a JPEG, PNG or WebP
// image (by content) up to 5 MB, with the text as its caption; refuses
// other files, larger ones and long captions at their fields, storing
// nothing; keeps the image when saved without a new file; removes it on
// request; and the preview shows it from a route only its tenant reaches.
func TestCampaignMessageImage(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	b, tenantID := wizardTenant(t, a, "Image Shop")
	ts := a.store.Tenant(tenantID)
	ctx := context.Background()
	id := newCampaign(t, b)
	base := fmt.Sprintf("/campaigns/%d", id)
	wantRedirect(t, b.upload(base+"/upload", b.csrf(base+"/upload"), "leads.csv", []byte(leadsCSV)), base+"/map")
	tok := b.csrf(base + "/message")
	form := func(text string, extra ...string) url.Values {
		v := url.Values{"_csrf": {tok}, "name": {"Photo sale"}, "kind": {"text"}, "text": {text, "", "", "", ""}, "row": {"0"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	const text = "Hola {{nombre|amigo}}, mira la oferta"
	pic := testPNG(t)

	refused := []struct {
		name, file string
		content    []byte
		want       string
	}{
		{"text named .png", "photo.png", []byte("just some text, not an image"), "not a JPEG, PNG or WebP image"},
		{"pdf", "offer.jpg", []byte("%PDF-1.7\n1 0 obj"), "not a JPEG, PNG or WebP image"},
		{"gif", "anim.gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00"), "not a JPEG, PNG or WebP image"},
		{"over 5 MB", "big.png", append(append([]byte{}, pic...), make([]byte, 5<<20)...), "up to 5 MB"},
		{"empty", "empty.png", []byte{}, "empty"},
	}
	for _, tc := range refused {
		r := b.postMessage(base+"/message", form(text), tc.file, tc.content)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if got := testid(r, "error-image").Text(); !strings.Contains(got, tc.want) {
			t.Errorf("%s: error %q, want %q", tc.name, got, tc.want)
		}
	}
	// A caption longer than WhatsApp's 1,024 characters, with an image.
	long := strings.Repeat("a", 1025)
	r := b.postMessage(base+"/message", form(long), "photo.png", pic)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got := testid(r, "error-text").Text(); !strings.Contains(got, "1,024") {
		t.Errorf("long caption: %q", got)
	}
	if cp, _ := ts.Campaign(ctx, id); cp.MediaID != nil || mediaCount(t, tenantID) != 0 {
		t.Fatalf("a refused image was stored: %v, %d files", cp.MediaID, mediaCount(t, tenantID))
	}

	// A PNG, without htmx: saved, then shown in the form and the preview.
	wantRedirect(t, b.postMessage(base+"/message", form(text), "photo.jpg", pic), base+"/message")
	cp, _ := ts.Campaign(ctx, id)
	if cp.MediaID == nil || cp.Body != text {
		t.Fatalf("saved = %+v", cp)
	}
	mediaID := *cp.MediaID
	if m, err := ts.Media(ctx, mediaID); err != nil || m.Mime != "image/png" || m.FileName != "photo.jpg" || !bytes.Equal(m.Bytes, pic) || m.Size != int64(len(pic)) {
		t.Fatalf("media = %+v, %v", m, err)
	}
	imageURL := fmt.Sprintf("%s/image?v=%d", base, mediaID)
	r = b.get(base + "/message")
	if got := testid(r, "preview-image").AttrOr("src", ""); got != imageURL {
		t.Errorf("preview image %q, want %q", got, imageURL)
	}
	if testid(r, "image-current").Length() != 1 || testid(r, "image-remove").Length() != 1 {
		t.Error("the form does not show the image and its Remove control")
	}
	if enc := testid(r, "message-form").AttrOr("enctype", ""); enc != "multipart/form-data" {
		t.Errorf("form enctype %q", enc)
	}
	if enc := testid(r, "message-save").AttrOr("hx-encoding", ""); enc != "multipart/form-data" {
		t.Errorf("save button hx-encoding %q", enc)
	}
	r = b.get(imageURL)
	wantStatus(t, r, http.StatusOK)
	if r.body != string(pic) || r.Header.Get("Content-Type") != "image/png" || !strings.Contains(r.Header.Get("Cache-Control"), "private") ||
		r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("image route: %d bytes, %v", len(r.body), r.Header)
	}
	// The live preview keeps showing it, and hides it when Remove is ticked.
	r = b.post(base+"/preview", form(text), "HX-Request", "true")
	if got := testid(r, "preview-image").AttrOr("src", ""); got != imageURL {
		t.Errorf("live preview image %q", got)
	}
	r = b.post(base+"/preview", form(text, "remove_image", "on"), "HX-Request", "true")
	if testid(r, "preview-image").Length() != 0 {
		t.Error("the preview shows an image being removed")
	}

	// Another tenant reaches neither the campaign's image nor the file.
	other, _ := a.tenantOf(t, "Other Shop")
	wantStatus(t, other.get(imageURL), http.StatusNotFound)
	wantStatus(t, other.get(fmt.Sprintf("/media/%d", mediaID)), http.StatusNotFound)

	// Saved without a new file (urlencoded, as before): the image stays.
	wantRedirect(t, b.post(base+"/message", form("Otra vez {{nombre}}")), base+"/message")
	if cp, _ := ts.Campaign(ctx, id); cp.MediaID == nil || *cp.MediaID != mediaID || cp.Body != "Otra vez {{nombre}}" {
		t.Errorf("after a save without a file: %+v", cp)
	}
	// Removed: a long text is fine again.
	wantRedirect(t, b.postMessage(base+"/message", form(long, "remove_image", "on"), "", nil), base+"/message")
	if cp, _ := ts.Campaign(ctx, id); cp.MediaID != nil {
		t.Errorf("image not removed: %v", *cp.MediaID)
	}
	wantStatus(t, b.get(imageURL), http.StatusNotFound)

	// With htmx, a WebP named .jpg: stored as WebP, the form comes back in
	// place showing it.
	webp := []byte("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")
	r = b.postMessage(base+"/message", form(text), "photo.jpg", webp, "HX-Request", "true")
	wantStatus(t, r, http.StatusOK)
	cp, _ = ts.Campaign(ctx, id)
	if cp.MediaID == nil {
		t.Fatal("htmx save stored no image")
	}
	if m, _ := ts.Media(ctx, *cp.MediaID); m.Mime != "image/webp" {
		t.Errorf("WebP stored as %q", m.Mime)
	}
	if strings.Contains(r.body, "<html") || testid(r, "message-saved").Length() != 1 ||
		testid(r, "preview-image").AttrOr("src", "") != fmt.Sprintf("%s/image?v=%d", base, *cp.MediaID) {
		t.Errorf("htmx save: %s", abbreviate(r.body))
	}
}

// TestImageCampaignSends: a launched text campaign with an image sends
// each recipient the image once, captioned with their rendered text,
// charged once; the gateway gives each image its own id (WAHA's sendImage
// takes none), which the message takes, so each conversation has one row
// that the acks bring to delivered; the conversation shows it from a route
// only the tenant reaches.
func TestImageCampaignSends(t *testing.T) {
	t.Parallel()
	a := newTestApp(t)
	ctx := context.Background()
	s := newCampaignShop(t, a, 3)
	pic := testPNG(t)
	m, err := s.ts.SaveMedia(ctx, "image/png", "sale.png", pic)
	if err != nil {
		t.Fatal(err)
	}
	s.c.MediaID = &m.ID
	if err := s.ts.SaveCampaignDraft(ctx, s.c); err != nil {
		t.Fatal(err)
	}
	before, _ := s.ts.CreditBalance(ctx)
	s.launch(t, a, campaign.Pace{PerMinute: 60})
	waitFor(t, 30*time.Second, "the campaign to finish", func() bool { return s.state(t) == db.CampaignDone })

	sent := s.sent(a)
	for i, r := range s.rs {
		got := sent[r.Phone[1:]+"@c.us"]
		want := fmt.Sprintf("Hi Lead %d, our spring sale starts today!", i)
		if i == 0 {
			want = "Hi there, our spring sale starts today!"
		}
		if len(got) != 1 || got[0].Type != "image" || got[0].Caption != want || got[0].Mime != "image/png" ||
			got[0].Size != len(pic) || got[0].FileName != "sale.png" || got[0].Requests != 1 {
			t.Errorf("recipient %d got %+v, want the image captioned %q once", i, got, want)
		}
	}
	if after, _ := s.ts.CreditBalance(ctx); after != before-3 {
		t.Errorf("balance %d → %d, want 3 credits charged", before, after)
	}

	rs, _, err := s.ts.Recipients(ctx, s.c.ID, db.Page{Number: 1, PerPage: 10})
	if err != nil || len(rs) != 3 || rs[0].ContactID == nil || rs[0].MessageID == nil {
		t.Fatalf("recipients %+v, %v", rs, err)
	}
	for _, r := range rs {
		if r.ContactID == nil || r.MessageID == nil {
			t.Fatalf("recipient %+v", r)
		}
		waitFor(t, 15*time.Second, "the image delivered", func() bool {
			msg, err := s.ts.Message(ctx, *r.MessageID)
			return err == nil && msg.Status == db.MessageDelivered
		})
		msg, _ := s.ts.Message(ctx, *r.MessageID)
		got := sent[r.Phone[1:]+"@c.us"]
		ms, err := s.ts.Messages(ctx, *r.ContactID, 10)
		if err != nil || len(ms) != 1 || ms[0].ID != msg.ID || len(got) != 1 || msg.WaID != got[0].Key {
			t.Errorf("recipient %s: conversation %+v (%v), at the gateway %+v", r.Phone, ms, err, got)
		}
	}
	msg, err := s.ts.Message(ctx, *rs[0].MessageID)
	if err != nil || msg.Type != "image" || msg.MediaID == nil || *msg.MediaID != m.ID {
		t.Fatalf("message row %+v, %v", msg, err)
	}
	mediaURL := fmt.Sprintf("/media/%d", m.ID)
	page := s.b.get(fmt.Sprintf("/contacts/%d", *rs[0].ContactID))
	if got := testid(page, "message-image").AttrOr("src", ""); got != mediaURL {
		t.Errorf("conversation image %q, want %q", got, mediaURL)
	}
	if !strings.Contains(testid(page, "message-body").Text(), "our spring sale") {
		t.Error("the caption is not shown under the image")
	}
	r := s.b.get(mediaURL)
	wantStatus(t, r, http.StatusOK)
	if r.body != string(pic) || r.Header.Get("Content-Type") != "image/png" {
		t.Errorf("media route: %d bytes, %q", len(r.body), r.Header.Get("Content-Type"))
	}
	other, _ := a.tenantOf(t, "Other Shop")
	wantStatus(t, other.get(mediaURL), http.StatusNotFound)
}
