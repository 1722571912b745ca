package gemini_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genai"

	"github.com/myaibud/aibud/app/sim/gemini"
	"github.com/myaibud/aibud/app/sim/samples"
)

// mediaConfig asks for the app's structured reply, with media_note,
// question and confidence.
func mediaConfig() *genai.GenerateContentConfig {
	cfg := jsonConfig()
	cfg.ResponseSchema.Properties["media_note"] = &genai.Schema{Type: genai.TypeString}
	cfg.ResponseSchema.Properties["question"] = &genai.Schema{Type: genai.TypeString}
	cfg.ResponseSchema.Properties["confidence"] = &genai.Schema{Type: genai.TypeNumber}
	cfg.ResponseSchema.PropertyOrdering = []string{"reply", "handoff", "reason", "media_note", "question", "confidence"}
	return cfg
}

// mediaReply is the structured answer with the media fields.
type mediaReply struct {
	Reply      string  `json:"reply"`
	Handoff    bool    `json:"handoff"`
	MediaNote  string  `json:"media_note"`
	Question   string  `json:"question"`
	Confidence float64 `json:"confidence"`
}

// withMedia is the conversation with a last customer turn carrying the
// bytes inline, then text, as the app sends it.
func withMedia(data []byte, mime, text string) []*genai.Content {
	c := conversation("x")
	c[len(c)-1] = genai.NewContentFromParts([]*genai.Part{genai.NewPartFromBytes(data, mime), genai.NewPartFromText(text)}, genai.RoleUser)
	return c
}

// TestInlineMedia: the stand-in reads inline audio, images and PDFs,
// "transcribes" the sample voice note and answers its question from the
// knowledge, describes other media by type and size, and records the
// parts it received.
func TestInlineMedia(t *testing.T) {
	s, client, _ := newStandIn(t)
	other := []byte("OggS not the sample")
	tests := []struct {
		name    string
		data    []byte
		mime    string
		text    string
		want    mediaReply
		inReply []string
	}{
		{"sample voice note", samples.VoiceNote(), samples.VoiceNoteMime, "[voice note]", mediaReply{
			MediaNote: samples.VoiceNoteTranscript, Confidence: 0.9,
		}, []string{`"Do you deliver on Sundays?"`, "Delivery: We deliver within 5 km"}},
		{"other voice note", other, "audio/ogg", "", mediaReply{
			MediaNote:  fmt.Sprintf("Voice note (audio/ogg, %d bytes)", len(other)),
			Confidence: 0.2,
		}, []string{"voice note (audio/ogg, 19 bytes)", "I don't have that information"}},
		{"photo with a question", samples.Photo(), samples.PhotoMime, "how much is the cappuccino?", mediaReply{
			MediaNote: fmt.Sprintf("Photo (image/jpeg, %d bytes)", len(samples.Photo())), Confidence: 0.9,
		}, []string{"photo (image/jpeg", "cappuccino €2.50"}},
		{"photo nobody can answer", samples.Photo(), samples.PhotoMime, "is this one in stock?", mediaReply{
			MediaNote:  fmt.Sprintf("Photo (image/jpeg, %d bytes)", len(samples.Photo())),
			Question:   "is this one in stock?",
			Confidence: 0.2,
		}, []string{"photo (image/jpeg"}},
		{"pdf", samples.PriceList(), samples.PriceListMime, "what are your opening hours?", mediaReply{
			MediaNote: fmt.Sprintf("Document (application/pdf, %d bytes)", len(samples.PriceList())), Confidence: 0.9,
		}, []string{"document (application/pdf", "Mon–Fri 9–18"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Reset()
			resp, err := client.Models.GenerateContent(t.Context(), testModel, withMedia(tt.data, tt.mime, tt.text), mediaConfig())
			if err != nil {
				t.Fatalf("generate content: %v", err)
			}
			var got mediaReply
			if err := json.Unmarshal([]byte(resp.Text()), &got); err != nil {
				t.Fatalf("answer %q: %v", resp.Text(), err)
			}
			for _, want := range tt.inReply {
				if !strings.Contains(got.Reply, want) {
					t.Errorf("reply %q lacks %q", got.Reply, want)
				}
			}
			if !strings.HasPrefix(got.Reply, gemini.Marker) {
				t.Errorf("reply %q is not marked", got.Reply)
			}
			got.Reply = ""
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}

			reqs := s.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests recorded", len(reqs))
			}
			in := reqs[0].Inline()
			if len(in) != 1 || in[0].MIMEType != tt.mime || in[0].Size != len(tt.data) || string(in[0].Data) != string(tt.data) {
				t.Errorf("recorded inline parts %+v", in)
			}
			if last := reqs[0].Contents[len(reqs[0].Contents)-1]; len(last.Media) != 1 || last.Text != tt.text {
				t.Errorf("last turn %+v", last)
			}
			if u := resp.UsageMetadata; u == nil || len(u.PromptTokensDetails) != 2 || u.PromptTokensDetails[1].TokenCount <= 0 {
				t.Errorf("usage %+v, want text and media tokens", u)
			}
		})
	}
}

// TestVoiceNoteWithoutKnowledge: the sample voice note's question, which
// the knowledge does not answer, is the recorded question.
func TestVoiceNoteWithoutKnowledge(t *testing.T) {
	_, client, _ := newStandIn(t)
	cfg := mediaConfig()
	cfg.SystemInstruction = genai.NewContentFromText("You are a shop assistant.\n\n## Business knowledge\n\n### Opening hours\nMon–Fri 9–18", genai.RoleUser)
	resp, err := client.Models.GenerateContent(t.Context(), testModel, withMedia(samples.VoiceNote(), samples.VoiceNoteMime, ""), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got mediaReply
	if err := json.Unmarshal([]byte(resp.Text()), &got); err != nil {
		t.Fatal(err)
	}
	if got.Question != samples.VoiceNoteTranscript || got.MediaNote != samples.VoiceNoteTranscript || got.Confidence != 0.2 || got.Handoff {
		t.Errorf("answer %+v", got)
	}
}

// TestTextAnswerConfidence: without media, an answer from the knowledge
// is sure and asks nothing; one without is unsure and records the
// question.
func TestTextAnswerConfidence(t *testing.T) {
	_, client, _ := newStandIn(t)
	for question, want := range map[string]mediaReply{
		"what are your opening hours?": {Confidence: 0.9},
		"do you sell gift cards?":      {Question: "do you sell gift cards?", Confidence: 0.2},
	} {
		resp, err := client.Models.GenerateContent(t.Context(), testModel, conversation(question), mediaConfig())
		if err != nil {
			t.Fatal(err)
		}
		var got mediaReply
		if err := json.Unmarshal([]byte(resp.Text()), &got); err != nil {
			t.Fatal(err)
		}
		got.Reply = ""
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", question, diff)
		}
	}
}

// TestInlineWithoutMIMEType is refused, as Google does.
func TestInlineWithoutMIMEType(t *testing.T) {
	_, _, url := newStandIn(t)
	status, body := do(t, "POST", url+"/v1beta/models/"+testModel+":generateContent", testKey,
		`{"contents":[{"role":"user","parts":[{"inlineData":{"data":"AAAA"}}]}]}`)
	if status != 400 || !strings.Contains(body, "mime_type") {
		t.Errorf("%d %s", status, body)
	}
	status, _ = do(t, "POST", url+"/v1beta/models/"+testModel+":generateContent", testKey,
		`{"contents":[{"role":"user","parts":[{"inline_data":{"mime_type":"image/png","data":"AAAA"}}]}]}`)
	if status != 200 {
		t.Errorf("snake_case inline data: %d", status)
	}
}
