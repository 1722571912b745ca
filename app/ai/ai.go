// Package ai builds the prompt of a tenant's assistant and asks Gemini for
// the answer, through google.golang.org/genai. The model answers in a small
// JSON shape — the reply, and whether a person should take over — so a
// handoff never depends on parsing prose.
package ai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/genai"
)

// Client asks Gemini.
type Client struct {
	genai        *genai.Client
	defaultModel string
	inputBudget  int
}

// Config configures the client.
type Config struct {
	APIKey string
	// BaseURL overrides Google's endpoint (tests and the dev stand-in).
	BaseURL      string
	DefaultModel string
	// InputTokenBudget bounds the estimated input of one call (see Fit);
	// 0 is DefaultInputTokenBudget.
	InputTokenBudget int
	HTTPClient       *http.Client
}

// New returns a client. It makes no request.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cc := &genai.ClientConfig{Backend: genai.BackendGeminiAPI, APIKey: cfg.APIKey, HTTPClient: cfg.HTTPClient}
	if cfg.BaseURL != "" {
		cc.HTTPOptions = genai.HTTPOptions{BaseURL: strings.TrimRight(cfg.BaseURL, "/") + "/"}
	}
	c, err := genai.NewClient(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("gemini client: %w", err)
	}
	budget := cfg.InputTokenBudget
	if budget <= 0 {
		budget = DefaultInputTokenBudget
	}
	return &Client{genai: c, defaultModel: cfg.DefaultModel, inputBudget: budget}, nil
}

// Entry is one piece of business knowledge.
type Entry struct {
	Title string
	Body  string
}

// Turn is one message of the conversation.
type Turn struct {
	// FromCustomer is true for the customer's messages, false for the
	// business's (the AI's or a person's).
	FromCustomer bool
	Text         string
	// Media is a voice note, image or document the customer sent, given
	// to the model inline with the text (its caption, or a placeholder).
	Media *Media
}

// Media is a file the model reads: audio, an image or a PDF.
type Media struct {
	// Kind is the message type: audio, image or document.
	Kind string
	Mime string
	Data []byte
}

// Model is a Gemini model a tenant may choose.
type Model struct {
	ID    string
	Label string
}

// Models are the Gemini models offered in the settings, cheapest first.
var Models = []Model{
	{"gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite: fastest and cheapest"},
	{"gemini-2.5-flash", "Gemini 2.5 Flash: fast, good answers"},
	{"gemini-2.5-pro", "Gemini 2.5 Pro: best answers, slower"},
}

// KnownModel reports whether id is offered (or is the server's default).
func KnownModel(id, serverDefault string) bool {
	if id == serverDefault {
		return true
	}
	for _, m := range Models {
		if m.ID == id {
			return true
		}
	}
	return false
}

// Request is what the assistant knows when it answers.
type Request struct {
	Model        string
	Temperature  float32
	BusinessName string
	Persona      string
	Instructions string
	Knowledge    []Entry
	// Turns is the recent conversation, oldest first, ending with the
	// customer's message(s) to answer.
	Turns []Turn
	// Now and Location tell the model the local date and time.
	Now      time.Time
	Location *time.Location
}

// Reply is the model's answer.
type Reply struct {
	Text    string
	Handoff bool
	Reason  string
	// MediaNote is the transcript of the customer's voice note, or a
	// one-line description of their image or document; empty without media.
	MediaNote string
	// Question is the customer's question the business knowledge did not
	// answer, in their words; empty when it did. Confidence is the model's
	// own estimate (0–1) that its reply is right and grounded.
	Question   string
	Confidence float64
	Model      string
	// Tokens as the API reported them (0 when it did not);
	// AudioInputTokens are the input tokens of audio, which Gemini prices
	// apart.
	InputTokens      int
	AudioInputTokens int
	OutputTokens     int
	Latency          time.Duration
	// Fitted says what was left out to keep the request within the input
	// budget.
	Fitted Fitted
}

// historyTokenBudget bounds the conversation sent with each request.
const historyTokenBudget = 3000

// Reply asks the model for the next message of the conversation, with the
// request fitted into the client's input budget.
func (c *Client) Reply(ctx context.Context, req Request) (Reply, error) {
	req, fitted := Fit(req, c.inputBudget)
	model := req.Model
	if model == "" {
		model = c.defaultModel
	}
	temp := req.Temperature
	cfg := &genai.GenerateContentConfig{
		SystemInstruction: genai.NewContentFromText(SystemPrompt(req), genai.RoleUser),
		Temperature:       &temp,
		MaxOutputTokens:   1024,
		ResponseMIMEType:  "application/json",
		ResponseSchema: &genai.Schema{
			Type: genai.TypeObject,
			Properties: map[string]*genai.Schema{
				"reply":   {Type: genai.TypeString, Description: "The WhatsApp message to send to the customer."},
				"handoff": {Type: genai.TypeBoolean, Description: "True when a person from the business should take over."},
				"reason":  {Type: genai.TypeString, Description: "Why a person should take over; empty otherwise."},
				"media_note": {Type: genai.TypeString, Description: "The transcript of the customer's voice note, or a " +
					"one-line description of their image or document, in its own language; empty when they sent none."},
				"question": {Type: genai.TypeString, Description: "The customer's question that the business knowledge " +
					"does not answer, short and in their words; empty when the knowledge answers it or there is none."},
				"confidence": {Type: genai.TypeNumber, Description: "How sure you are, from 0 to 1, that the reply is " +
					"right and grounded in the business knowledge."},
			},
			Required:         []string{"reply", "handoff"},
			PropertyOrdering: []string{"reply", "handoff", "reason", "media_note", "question", "confidence"},
		},
	}
	// Fit chose the turns; Contents only shapes them.
	contents := Contents(req.Turns, c.inputBudget)
	if len(contents) == 0 {
		return Reply{}, errors.New("ai: nothing to answer")
	}
	start := time.Now()
	resp, err := c.genai.Models.GenerateContent(ctx, model, contents, cfg)
	out := Reply{Model: model, Latency: time.Since(start), Fitted: fitted}
	if err != nil {
		return out, fmt.Errorf("gemini: %w", withRetryHint(err))
	}
	if u := resp.UsageMetadata; u != nil {
		out.InputTokens, out.OutputTokens = int(u.PromptTokenCount), int(u.CandidatesTokenCount+u.ThoughtsTokenCount)
		for _, d := range u.PromptTokensDetails {
			if d != nil && d.Modality == genai.MediaModalityAudio {
				out.AudioInputTokens += int(d.TokenCount)
			}
		}
	}
	if resp.ModelVersion != "" {
		out.Model = resp.ModelVersion
	}
	text := strings.TrimSpace(resp.Text())
	if text == "" {
		return out, fmt.Errorf("gemini: %w", ErrEmpty)
	}
	var parsed struct {
		Reply      string   `json:"reply"`
		Handoff    bool     `json:"handoff"`
		Reason     string   `json:"reason"`
		MediaNote  string   `json:"media_note"`
		Question   string   `json:"question"`
		Confidence *float64 `json:"confidence"`
	}
	if err := json.Unmarshal([]byte(text), &parsed); err != nil || (parsed.Reply == "" && !parsed.Handoff) {
		// Not the JSON asked for: the text itself is the best answer.
		out.Text, out.Confidence = text, 1
		return out, nil
	}
	out.Text, out.Handoff, out.Reason = strings.TrimSpace(parsed.Reply), parsed.Handoff, strings.TrimSpace(parsed.Reason)
	out.MediaNote, out.Question = strings.TrimSpace(parsed.MediaNote), strings.TrimSpace(parsed.Question)
	out.Confidence = 1 // a model that does not say is taken at its word
	if c := parsed.Confidence; c != nil {
		out.Confidence = min(max(*c, 0), 1)
	}
	return out, nil
}

// RetryHint is a model error that says when to try again: Google sends a
// RetryInfo detail with rate limits and overloads. Job retries honour it.
type RetryHint struct {
	Err   error
	After time.Duration
}

func (e *RetryHint) Error() string { return e.Err.Error() }
func (e *RetryHint) Unwrap() error { return e.Err }

// RetryAfter is the wait the API asked for.
func (e *RetryHint) RetryAfter() time.Duration { return e.After }

// withRetryHint wraps an API error that carries a RetryInfo detail.
func withRetryHint(err error) error {
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	for _, d := range apiErr.Details {
		if t, _ := d["@type"].(string); !strings.HasSuffix(t, "google.rpc.RetryInfo") {
			continue
		}
		if v, _ := d["retryDelay"].(string); v != "" {
			if after, perr := time.ParseDuration(v); perr == nil && after > 0 {
				return &RetryHint{Err: err, After: after}
			}
		}
	}
	return err
}

// FailureReason says in plain words why a model call failed, for the
// tenant; the technical detail is for the log and the owner's console.
func FailureReason(err error) string {
	var apiErr genai.APIError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "the AI service took too long to answer"
	case errors.Is(err, ErrEmpty):
		return "the AI service returned no answer (it may have judged the conversation unsafe)"
	case errors.As(err, &apiErr) && apiErr.Code == http.StatusTooManyRequests:
		return "the AI service is busy"
	case errors.As(err, &apiErr) && (apiErr.Code == http.StatusUnauthorized || apiErr.Code == http.StatusForbidden):
		return "the AI service refused this server's key; the platform owner has been told"
	case errors.As(err, &apiErr) && apiErr.Code >= 500:
		return "the AI service had a problem"
	case errors.As(err, &apiErr):
		return "the AI service refused the request"
	}
	return "the AI service could not be reached"
}

// ErrEmpty is returned when the model answered nothing (e.g. blocked).
var ErrEmpty = errors.New("the model returned no answer")

// Retryable reports whether a failed call may succeed later: rate limits,
// server errors, timeouts and network errors are; refusals of the request
// (bad key, bad model, invalid input) are not.
func Retryable(err error) bool {
	var apiErr genai.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == http.StatusTooManyRequests || apiErr.Code >= 500 || apiErr.Code == http.StatusRequestTimeout
	}
	return !errors.Is(err, ErrEmpty)
}

// SystemPrompt is the assistant's standing instructions: persona, the
// tenant's instructions, the business knowledge and the house rules.
func SystemPrompt(req Request) string {
	var b strings.Builder
	persona := strings.TrimSpace(req.Persona)
	if persona == "" {
		persona = "You are the WhatsApp assistant of " + req.BusinessName + "."
	}
	b.WriteString(persona)
	b.WriteString("\n\n")
	if ins := strings.TrimSpace(req.Instructions); ins != "" {
		b.WriteString("# Instructions\n")
		b.WriteString(ins)
		b.WriteString("\n\n")
	}
	if len(req.Knowledge) > 0 {
		b.WriteString("# Business knowledge\n")
		for _, k := range req.Knowledge {
			fmt.Fprintf(&b, "## %s\n%s\n\n", strings.TrimSpace(k.Title), strings.TrimSpace(k.Body))
		}
	}
	loc := req.Location
	if loc == nil {
		loc = time.UTC
	}
	now := req.Now
	if now.IsZero() {
		now = time.Now()
	}
	fmt.Fprintf(&b, "# Rules\n"+
		"- It is %s (%s) at the business.\n"+
		"- You write WhatsApp messages: short, plain text, no markdown headings.\n"+
		"- Answer in the language of the customer's last message.\n"+
		"- Rely only on the business knowledge for facts about the business.\n"+
		"- Set handoff to true, with a reason, when the customer asks for a person, is upset, "+
		"or needs something only a person can do; then tell them a person from the team will answer.\n"+
		"- Answer all of the customer's latest messages together in one reply.\n"+
		"- The customer may send a voice note, a photo or a document: answer what it says or shows as if they had "+
		"written it, and put its transcript (a voice note) or a one-line description (a photo or document) in media_note.\n"+
		"- When the business knowledge does not answer the customer's question, do not guess: say a person from the "+
		"team will confirm, put their question in question, and give a low confidence.\n",
		now.In(loc).Format("Monday 2 January 2006, 15:04"), loc.String())
	return b.String()
}

// OpeningNote introduces the business's messages that came before the
// customer's first one in the conversation sent to the model.
const OpeningNote = "[Earlier, the business sent the customer this message:]\n"

// Contents turns the conversation into model turns, newest kept first
// within budget tokens (as EstimateTokens counts them), and merges
// consecutive turns of one side as the API expects alternation.

func Contents(turns []Turn, budget int) []*genai.Content {
	var kept []Turn
	used := 0
	for i := len(turns) - 1; i >= 0; i-- {
		t := turns[i]
		if strings.TrimSpace(t.Text) == "" {
			continue
		}
		cost := turnCost(t)
		if used+cost > budget && len(kept) > 0 {
			break
		}
		used += cost
		kept = append(kept, t)
	}
	// The model must start with the customer: what the business wrote
	// first (a campaign's message, say) opens the first customer turn as
	// context, so that a reply to it is understood.
	var opening []string
	for len(kept) > 0 && !kept[len(kept)-1].FromCustomer {
		opening = append(opening, kept[len(kept)-1].Text)
		kept = kept[:len(kept)-1]
	}
	var out []*genai.Content
	if len(opening) > 0 && len(kept) > 0 {
		out = append(out, genai.NewContentFromText(OpeningNote+strings.Join(opening, "\n\n"), genai.RoleUser))
	}
	for i := len(kept) - 1; i >= 0; i-- {
		t := kept[i]
		role := genai.Role(genai.RoleModel)
		if t.FromCustomer {
			role = genai.RoleUser
		}
		parts := []*genai.Part{genai.NewPartFromText(t.Text)}
		if t.Media != nil && t.FromCustomer {
			parts = []*genai.Part{genai.NewPartFromBytes(t.Media.Data, t.Media.Mime), genai.NewPartFromText(t.Text)}
		}
		if n := len(out); n > 0 && out[n-1].Role == string(role) {
			out[n-1].Parts = append(out[n-1].Parts, parts...)
			continue
		}
		out = append(out, genai.NewContentFromParts(parts, role))
	}
	return out
}
