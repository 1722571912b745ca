package waha_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/sim/samples"
	"github.com/myaibud/aibud/app/sim/waha"
)

// mediaOf waits for the lead's message event with media and returns its
// media object.
func mediaOf(t *testing.T, h *hook, id string) (url, mimetype string, filename *string) {
	t.Helper()
	r := h.waitFor(t, "the lead's media message", func(r hookRequest) bool {
		return r.env.Event == "message" && strings.Contains(string(r.env.Payload), id)
	})
	var p struct {
		HasMedia bool `json:"hasMedia"`
		Media    struct {
			URL      string  `json:"url"`
			Mimetype string  `json:"mimetype"`
			Filename *string `json:"filename"`
		} `json:"media"`
	}
	if err := json.Unmarshal(r.env.Payload, &p); err != nil || !p.HasMedia {
		t.Fatalf("message payload %s (%v)", r.env.Payload, err)
	}
	return p.Media.URL, p.Media.Mimetype, p.Media.Filename
}

// TestLeadMediaIsServedAtItsURL: a voice note and a PDF a lead sends with
// their bytes are served at the media.url of the webhook, as WAHA serves
// /api/files/…, with their type and length and only with the API key.
func TestLeadMediaIsServedAtItsURL(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "md1", h)

	voice := waha.Media{Type: "audio", Mimetype: samples.VoiceNoteMime, Data: samples.VoiceNote()}
	id, err := s.LeadSendsMedia("md1", "+15550100700", "Ana", voice)
	if err != nil {
		t.Fatal(err)
	}
	key := id[strings.LastIndex(id, "_")+1:]
	u, mimetype, filename := mediaOf(t, h, id)
	if want := s.url + "/api/files/md1/" + key + ".oga"; u != want || mimetype != samples.VoiceNoteMime || filename != nil {
		t.Errorf("media %q %q %v, want %q", u, mimetype, filename, want)
	}
	path := strings.TrimPrefix(u, s.url)
	a := s.mustCall(t, http.MethodGet, path, nil, http.StatusOK)
	if !bytes.Equal(a.body, samples.VoiceNote()) || a.header.Get("Content-Type") != samples.VoiceNoteMime ||
		a.header.Get("Content-Length") != strconv.Itoa(len(samples.VoiceNote())) {
		t.Errorf("file: %d bytes, %q, length %q", len(a.body), a.header.Get("Content-Type"), a.header.Get("Content-Length"))
	}

	// Like every /api route: the key is needed; unknown files are 404.
	if a := s.callWith(t, http.MethodGet, path, nil, nil); a.status != http.StatusUnauthorized {
		t.Errorf("without the API key: %d", a.status)
	}
	for _, p := range []string{"/api/files/md1/NOPE.oga", "/api/files/nosession/" + key + ".oga", "/api/files/md1/" + key + ".mp3"} {
		if a := s.call(t, http.MethodGet, p, nil); a.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, a.status)
		}
	}

	// A document keeps its name and extension.
	pdf := waha.Media{Type: "document", Mimetype: samples.PriceListMime, Filename: samples.PriceListName, Data: samples.PriceList()}
	id, err = s.LeadSendsMedia("md1", "+15550100700", "Ana", pdf)
	if err != nil {
		t.Fatal(err)
	}
	u, mimetype, filename = mediaOf(t, h, id)
	if !strings.HasSuffix(u, ".pdf") || mimetype != "application/pdf" || filename == nil || *filename != "price-list.pdf" {
		t.Errorf("document media %q %q %v", u, mimetype, filename)
	}
	if a := s.mustCall(t, http.MethodGet, strings.TrimPrefix(u, s.url), nil, http.StatusOK); !bytes.Equal(a.body, samples.PriceList()) {
		t.Error("the PDF's bytes differ")
	}

	// Media without bytes has a URL, and no file behind it.
	id, err = s.LeadSendsMedia("md1", "+15550100700", "Ana", waha.Media{Type: "video", Mimetype: "video/mp4"})
	if err != nil {
		t.Fatal(err)
	}
	if u, _, _ = mediaOf(t, h, id); !strings.HasSuffix(u, ".mp4") {
		t.Errorf("video url %q", u)
	}
	if a := s.call(t, http.MethodGet, strings.TrimPrefix(u, s.url), nil); a.status != http.StatusNotFound {
		t.Errorf("a file without bytes: %d, want 404", a.status)
	}
}

// TestMediaFileFaults: FailNext, Delay and Hold apply to the file route.
func TestMediaFileFaults(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	s.working(t, "md2", h)
	id, err := s.LeadSendsMedia("md2", "15550100701", "Bo", waha.Media{Type: "image", Mimetype: samples.PhotoMime, Data: samples.Photo()})
	if err != nil {
		t.Fatal(err)
	}
	u, _, _ := mediaOf(t, h, id)
	path := strings.TrimPrefix(u, s.url)
	if !strings.HasSuffix(path, ".jpeg") {
		t.Errorf("photo path %q", path)
	}

	s.FailNext("/api/files/{session}/{file}", http.StatusNotFound, 1)
	if a := s.call(t, http.MethodGet, path, nil); a.status != http.StatusNotFound {
		t.Errorf("after FailNext: %d, want 404", a.status)
	}
	s.mustCall(t, http.MethodGet, path, nil, http.StatusOK)

	s.Delay(path, 150*time.Millisecond)
	start := time.Now()
	a := s.mustCall(t, http.MethodGet, path, nil, http.StatusOK)
	if took := time.Since(start); took < 150*time.Millisecond || !bytes.Equal(a.body, samples.Photo()) {
		t.Errorf("delayed answer after %v, %d bytes", took, len(a.body))
	}
	s.Delay(path, 0)
}

// TestMediaBaseURL: Options.BaseURL names the stand-in in media URLs.
func TestMediaBaseURL(t *testing.T) {
	t.Parallel()
	s := newSimWith(t, waha.Options{Timing: waha.FastTiming(), BaseURL: "http://waha.test:3000/"})
	h := newHook(t, nil)
	s.working(t, "md3", h)
	id, err := s.LeadSendsMedia("md3", "15550100702", "Cy", waha.Media{Type: "image", Mimetype: "image/png", Data: []byte("\x89PNG")})
	if err != nil {
		t.Fatal(err)
	}
	if u, _, _ := mediaOf(t, h, id); !strings.HasPrefix(u, "http://waha.test:3000/api/files/md3/") || !strings.HasSuffix(u, ".png") {
		t.Errorf("media url %q", u)
	}
}
