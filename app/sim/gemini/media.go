package gemini

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/myaibud/aibud/app/sim/samples"
)

// Inline is one inline data part (audio, an image, a PDF) of a request,
// as Requests reports it.
type Inline struct {
	MIMEType string `json:"mime_type"`
	// Size is the number of bytes, decoded.
	Size int `json:"size"`
	// Data holds the bytes; /_sim/requests leaves them out (Raw has them).
	Data []byte `json:"-"`
}

// Inline returns the inline data parts of every turn of the request, in
// order.
func (r Request) Inline() []Inline {
	var out []Inline
	for _, t := range r.Contents {
		out = append(out, t.Media...)
	}
	return out
}

// Media token counts, as Google documents them: an image or a PDF page
// 258 tokens, a second of audio 32.
const (
	imageTokens       = 258
	audioTokensPerSec = 32
)

// received is what the stand-in makes of the inline parts of the
// customer's latest turn.
type received struct {
	// note is the media_note: the transcript of the sample voice note, or
	// "Voice note (<mime>, <n> bytes)", "Photo (…)", "Document (…)".
	note string
	// transcript is the sample voice note's words, which stand for the
	// customer's question.
	transcript string
	// what says in the reply what the stand-in received.
	what string
}

// readInline describes inline parts.
func readInline(parts []wireBlob) received {
	var r received
	var notes, whats []string
	for _, p := range parts {
		mime, n := p.mime(), len(p.Data)
		kind := mediaKind(mime)
		what := fmt.Sprintf("%s (%s, %d bytes)", kind, mime, n)
		note := what
		if kind == "Voice note" && bytes.Equal(p.Data, samples.VoiceNote()) {
			note = samples.VoiceNoteTranscript
			what += fmt.Sprintf(": %q", note)
			if r.transcript == "" {
				r.transcript = note
			}
		}
		notes = append(notes, note)
		whats = append(whats, strings.ToLower(what[:1])+what[1:])
	}
	r.note = strings.Join(notes, "; ")
	r.what = strings.Join(whats, "; ")
	return r
}

// mediaKind names media of a MIME type as the media note does.
func mediaKind(mime string) string {
	switch t, _, _ := strings.Cut(strings.ToLower(mime), "/"); {
	case t == "audio":
		return "Voice note"
	case t == "image":
		return "Photo"
	case t == "video":
		return "Video"
	case t == "application" || t == "text":
		return "Document"
	}
	return "File"
}

// inlineTokens estimates the tokens of inline parts, by modality (AUDIO,
// IMAGE, DOCUMENT, VIDEO).
func inlineTokens(parts []wireBlob) map[string]int {
	out := map[string]int{}
	for _, p := range parts {
		switch mediaKind(p.mime()) {
		case "Voice note":
			secs := int((samples.OggDuration(p.Data) + time.Second - 1) / time.Second)
			if secs == 0 {
				secs = len(p.Data)/2000 + 1 // about 16 kbit/s
			}
			out["AUDIO"] += secs * audioTokensPerSec
		case "Photo":
			out["IMAGE"] += imageTokens
		case "Video":
			out["VIDEO"] += 10 * imageTokens
		default:
			out["DOCUMENT"] += imageTokens
		}
	}
	return out
}
