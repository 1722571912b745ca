package gemini

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKnowledgeEntries(t *testing.T) {
	tests := []struct {
		name   string
		system string
		want   []string // titles
	}{
		{
			name:   "headings without a knowledge section",
			system: "You are Bo.\n### Opening hours\nMon–Fri 9–18\n### Empty\n### Returns\n30 days",
			want:   []string{"Opening hours", "Returns"},
		},
		{
			name: "only the entries under the knowledge heading",
			system: "# Persona\nYou are Bo.\n## Instructions\nBe brief.\n## Business knowledge\n" +
				"### Opening hours\nMon–Fri 9–18\n### Parking\nFree at the back\n## Rules\nNo prices you do not know.",
			want: []string{"Opening hours", "Parking"},
		},
		{
			name:   "title: text lines under a knowledge heading",
			system: "## FAQ\n- Opening hours: Mon–Fri 9–18\n- Parking: free\nnot an entry",
			want:   []string{"Opening hours", "Parking"},
		},
		{
			name:   "no headings",
			system: "You are Bo. Opening hours: 9-18.",
			want:   nil,
		},
		{
			name:   "hashtags are not headings",
			system: "#promo\n### Real\ntext",
			want:   []string{"Real"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range knowledgeEntries(tt.system) {
				got = append(got, e.title)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("titles (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	system := "## Conhecimento do negócio\n### Horário de funcionamento\nSeg–Sex 9h–18h\n" +
		"### Entregas\nEntregamos em Lisboa.\n### Opening hours\nMon–Fri 9–18\n### Shipping costs\nFree over €50"
	tests := []struct {
		name      string
		question  string
		wantEntry string
		wantText  string
		handoff   bool
	}{
		{"english", "What are your opening hours?", "Opening hours", Marker + "Opening hours: Mon–Fri 9–18", false},
		{"accents folded", "qual o horario de funcionamento?", "Horário de funcionamento", "", false},
		{"portuguese plural", "fazem entrega?", "Entregas", "", false},
		{"plural in question", "how much is shipping? any costs?", "Shipping costs", "", false},
		{"handoff wins over knowledge", "opening hours? actually get me a manager", "", handoffReply, true},
		{"nothing", "do you like jazz", "", fallbackReply, false},
		{"empty", "   ", "", greetingReply, false},
		{"greeting", "Bom dia!", "", greetingReply, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decide(system, tt.question)
			if got.entry != tt.wantEntry {
				t.Errorf("entry = %q, want %q", got.entry, tt.wantEntry)
			}
			if tt.wantText != "" && got.text != tt.wantText {
				t.Errorf("text = %q, want %q", got.text, tt.wantText)
			}
			if !strings.HasPrefix(got.text, Marker) {
				t.Errorf("text %q is not marked", got.text)
			}
			if got.handoff != tt.handoff {
				t.Errorf("handoff = %v, want %v", got.handoff, tt.handoff)
			}
		})
	}
}

func TestWantsHuman(t *testing.T) {
	tests := []struct {
		message string
		want    bool
	}{
		{"I want to talk to a human", true},
		{"can I speak to a real person?", true},
		{"let me speak to someone", true},
		{"is there an agent available", true},
		{"call your manager", true},
		{"Quiero hablar con una persona", true},
		{"quero falar com um atendente", true},
		{"falar com alguém por favor", true},
		{"Preciso de uma pessoa", true},
		{"price per person?", false},
		{"quanto custa por pessoa?", false},
		{"can someone deliver tomorrow?", false},
		{"what are your opening hours?", false},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			if got := wantsHuman(tt.message); got != tt.want {
				t.Errorf("wantsHuman(%q) = %v, want %v", tt.message, got, tt.want)
			}
		})
	}
}

func TestStructuredReply(t *testing.T) {
	a := answer{text: Marker + "hi \"there\"", handoff: true, reason: "asked"}
	tests := []struct {
		name   string
		schema string
		want   string
	}{
		{"no schema", "", `{"reply": "[simulated] hi \"there\"", "handoff": true, "reason": "asked"}`},
		{
			name:   "extra properties get zero values",
			schema: `{"type":"OBJECT","properties":{"reply":{"type":"STRING"},"mood":{"type":"STRING"},"score":{"type":"NUMBER"},"tags":{"type":"ARRAY"}}}`,
			want:   `{"reply": "[simulated] hi \"there\"", "handoff": true, "reason": "asked", "mood": "", "score": 0, "tags": []}`,
		},
		{
			name:   "property ordering and JSON Schema types",
			schema: `{"type":"object","properties":{"ok":{"type":["boolean","null"]}},"propertyOrdering":["ok","reason"]}`,
			want:   `{"ok": false, "reason": "asked", "reply": "[simulated] hi \"there\"", "handoff": true}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := structuredReply(a, json.RawMessage(tt.schema))
			if err != nil {
				t.Fatalf("structured reply: %v", err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Errorf("%s is not valid JSON", got)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		text string
		want int
	}{
		{"", 0},
		{"a", 1},
		{"abcd", 1},
		{"abcde", 2},
		{"çãõé", 1},
	}
	for _, tt := range tests {
		if got := tokens(tt.text); got != tt.want {
			t.Errorf("tokens(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}
