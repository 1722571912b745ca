package jobs

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/ai"
	"github.com/myaibud/aibud/db"
)

func TestNotesOf(t *testing.T) {
	voice, photo := &ai.Media{Kind: "audio", Mime: "audio/ogg"}, &ai.Media{Kind: "image", Mime: "image/jpeg"}
	burst := []db.Message{{ID: 1, Body: "hi"}, {ID: 2}, {ID: 3}, {ID: 4, Body: "and this, how much?"}}
	tests := []struct {
		name  string
		media map[int64]*ai.Media
		out   ai.Reply
		want  replyNotes
	}{
		{"a confident answer to text teaches nothing", nil, ai.Reply{Text: "9 to 5", Confidence: 0.9}, replyNotes{}},
		{"the note goes on the latest file", map[int64]*ai.Media{2: voice, 3: photo},
			ai.Reply{MediaNote: "A red bag", Confidence: 0.9}, replyNotes{NoteOn: 3, Note: "A red bag"}},
		{"a note without a file is dropped", nil, ai.Reply{MediaNote: "A red bag", Confidence: 0.9}, replyNotes{}},
		{"the note is cleaned", map[int64]*ai.Media{2: voice},
			ai.Reply{MediaNote: "Sundays\x00?\xff", Confidence: 0.9}, replyNotes{NoteOn: 2, Note: "Sundays?\uFFFD"}},
		{"the question the model names", nil, ai.Reply{Question: "Do you ship abroad?", Confidence: 0.2},
			replyNotes{Question: "Do you ship abroad?"}},
		{"low confidence without a question: the last message", nil, ai.Reply{Confidence: 0.3},
			replyNotes{Question: "and this, how much?"}},
		{"at the threshold it is not low", nil, ai.Reply{Confidence: ai.LowConfidence}, replyNotes{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, notesOf(burst, tt.media, tt.out)); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}
