// Package samples holds the small media files a simulated lead sends: a
// voice note, a product photo and a one-page PDF price list (the files in
// files/). The phone page of the gateway stand-ins sends them, and the
// Gemini stand-in recognises the voice note and "transcribes" it as
// VoiceNoteTranscript.
//
// The voice note was made with espeak-ng and opusenc (Debian packages
// espeak-ng and opus-tools):
//
//	espeak-ng -s 150 -w say.wav "Do you deliver on Sundays?"
//	opusenc --bitrate 16 --downmix-mono say.wav voice-note.ogg
//
// the photo (64×64) with image/jpeg, the PDF by hand.
package samples

import (
	"bytes"
	"embed"
	"encoding/binary"
	"time"
)

//go:embed files
var files embed.FS

// VoiceNoteTranscript is what the sample voice note says.
const VoiceNoteTranscript = "Do you deliver on Sundays?"

// The sample files' names and types.
const (
	VoiceNoteName = "voice-note.ogg"
	VoiceNoteMime = "audio/ogg; codecs=opus"
	PhotoName     = "photo.jpg"
	PhotoMime     = "image/jpeg"
	PriceListName = "price-list.pdf"
	PriceListMime = "application/pdf"
)

// VoiceNote returns the sample voice note (Ogg Opus, about two seconds).
func VoiceNote() []byte { return read(VoiceNoteName) }

// Photo returns the sample product photo (JPEG, 64×64).
func Photo() []byte { return read(PhotoName) }

// PriceList returns the sample one-page PDF price list.
func PriceList() []byte { return read(PriceListName) }

// read returns a copy of an embedded file, so callers may change it.
func read(name string) []byte {
	b, err := files.ReadFile("files/" + name)
	if err != nil {
		panic("samples: " + name + " is not embedded: " + err.Error()) // the embed lists it
	}
	return b
}

// OggDuration returns the playing time of an Ogg Opus file: the granule
// position of its last page less the pre-skip of its OpusHead, at 48 kHz.
// It returns 0 when b is not Ogg Opus.
func OggDuration(b []byte) time.Duration {
	head := bytes.Index(b, []byte("OpusHead"))
	last := bytes.LastIndex(b, []byte("OggS"))
	if !bytes.HasPrefix(b, []byte("OggS")) || head < 0 || head+12 > len(b) || last+14 > len(b) {
		return 0
	}
	preSkip := uint64(binary.LittleEndian.Uint16(b[head+10 : head+12]))
	granule := binary.LittleEndian.Uint64(b[last+6 : last+14])
	if granule == ^uint64(0) || granule <= preSkip {
		return 0
	}
	return time.Duration(granule-preSkip) * time.Second / 48000
}
