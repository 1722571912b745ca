package ai

import (
	"net/http"
	"strings"
)

// LowConfidence is the confidence below which an answer counts as one the
// AI was not sure of: its question is recorded as a knowledge gap.
const LowConfidence = 0.5

// SniffMime checks a downloaded file against what the model reads for its
// message type and returns the type to store it under. The bytes decide
// where they can (images and PDFs must be what they look like); audio
// formats the sniffer does not know (AAC, AMR, MP4) are taken at the
// gateway's word when it names a readable audio type.
func SniffMime(typ, claimed string, data []byte) (string, bool) {
	if len(data) == 0 {
		return "", false
	}
	sniffed, _, _ := strings.Cut(http.DetectContentType(data), ";")
	claimed = strings.ToLower(strings.TrimSpace(strings.SplitN(claimed, ";", 2)[0]))
	switch typ {
	case "image", "document":
		return sniffed, ReadableMime(typ, sniffed)
	case "audio":
		switch {
		case sniffed == "application/ogg":
			return "audio/ogg", true
		case ReadableMime(typ, sniffed):
			return sniffed, true
		case sniffed == "application/octet-stream" && ReadableMime(typ, claimed):
			return claimed, true
		}
	}
	return "", false
}

// MediaLabel names a kind of media in the conversation the model reads and
// in the tenant's inbox.
func MediaLabel(typ string) string {
	switch typ {
	case "audio":
		return "Voice note"
	case "image":
		return "Photo"
	case "document":
		return "Document"
	case "video":
		return "Video"
	case "location":
		return "Location"
	case "contact":
		return "Contact card"
	}
	return "Media"
}
