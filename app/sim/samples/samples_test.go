package samples_test

import (
	"bytes"
	"image/jpeg"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/sim/samples"
)

func TestFilesAreWhatTheySay(t *testing.T) {
	for name, tc := range map[string]struct {
		data   []byte
		prefix string
	}{
		samples.VoiceNoteName: {samples.VoiceNote(), "OggS"},
		samples.PhotoName:     {samples.Photo(), "\xff\xd8\xff"},
		samples.PriceListName: {samples.PriceList(), "%PDF-"},
	} {
		if !bytes.HasPrefix(tc.data, []byte(tc.prefix)) {
			t.Errorf("%s starts %q, want %q", name, tc.data[:min(8, len(tc.data))], tc.prefix)
		}
		if len(tc.data) > 30<<10 {
			t.Errorf("%s is %d bytes, want under 30 KB", name, len(tc.data))
		}
	}
	img, err := jpeg.Decode(bytes.NewReader(samples.Photo()))
	if err != nil {
		t.Fatalf("decode photo: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
		t.Errorf("photo is %v, want 64×64", b)
	}
	if !bytes.Contains(samples.VoiceNote(), []byte("OpusHead")) {
		t.Error("voice note is not Ogg Opus")
	}
	if !bytes.HasSuffix(bytes.TrimSpace(samples.PriceList()), []byte("%%EOF")) {
		t.Error("price list does not end with the PDF trailer")
	}
}

func TestReadReturnsACopy(t *testing.T) {
	b := samples.Photo()
	b[0] = 0
	if samples.Photo()[0] != 0xff {
		t.Error("changing a returned file changed the sample")
	}
}

func TestOggDuration(t *testing.T) {
	d := samples.OggDuration(samples.VoiceNote())
	if d < 1500*time.Millisecond || d > 2500*time.Millisecond {
		t.Errorf("voice note lasts %v, want about 2 s", d)
	}
	for _, b := range [][]byte{nil, []byte("OggS"), samples.Photo()} {
		if d := samples.OggDuration(b); d != 0 {
			t.Errorf("OggDuration(%q…) = %v, want 0", b[:min(4, len(b))], d)
		}
	}
}
