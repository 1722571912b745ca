package gemini_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genai"

	"github.com/myaibud/aibud/app/sim/gemini"
)

const (
	testKey   = "test-key"
	testModel = "gemini-2.5-flash"
)

// system is a system instruction shaped like the one the app builds:
// persona, instructions, then the business knowledge as titled entries.
const system = `You are Ana, the friendly assistant of Café Aurora, a coffee shop in Lisbon.
Answer briefly, in the customer's language. Never invent prices.

## Business knowledge

### Opening hours
Mon–Fri 9–18
Sat 10–14

### Delivery
We deliver within 5 km for €2. Orders over €20 are delivered free.

### Prices
Espresso €1.20, cappuccino €2.50, croissant €1.80.

## Conversation rules
Hand over to a person when asked.`

// reply is the structured answer the app asks for.
type reply struct {
	Reply   string `json:"reply"`
	Handoff bool   `json:"handoff"`
	Reason  string `json:"reason"`
}

// newStandIn serves a stand-in on loopback and returns it with a real genai
// client pointed at it.
func newStandIn(t *testing.T) (*gemini.Server, *genai.Client, string) {
	t.Helper()
	s := gemini.New(gemini.Options{APIKey: testKey})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, newClient(t, ts.URL, testKey), ts.URL
}

func newClient(t *testing.T, baseURL, key string) *genai.Client {
	t.Helper()
	c, err := genai.NewClient(t.Context(), &genai.ClientConfig{
		Backend:     genai.BackendGeminiAPI,
		APIKey:      key,
		HTTPOptions: genai.HTTPOptions{BaseURL: baseURL},
	})
	if err != nil {
		t.Fatalf("new genai client: %v", err)
	}
	return c
}

// conversation is a short chat ending with question from the customer.
func conversation(question string) []*genai.Content {
	return []*genai.Content{
		genai.NewContentFromText("hi", genai.RoleUser),
		genai.NewContentFromText("[simulated] Hi! How can I help you today?", genai.RoleModel),
		genai.NewContentFromText(question, genai.RoleUser),
	}
}

func textConfig() *genai.GenerateContentConfig {
	return &genai.GenerateContentConfig{
		SystemInstruction: genai.NewContentFromText(system, genai.RoleUser),
		Temperature:       genai.Ptr[float32](0.4),
	}
}

func jsonConfig() *genai.GenerateContentConfig {
	cfg := textConfig()
	cfg.ResponseMIMEType = "application/json"
	cfg.ResponseSchema = &genai.Schema{
		Type: genai.TypeObject,
		Properties: map[string]*genai.Schema{
			"reply":   {Type: genai.TypeString},
			"handoff": {Type: genai.TypeBoolean},
			"reason":  {Type: genai.TypeString},
		},
		Required: []string{"reply", "handoff", "reason"},
	}
	return cfg
}

func TestGenerateContentAnswersFromKnowledge(t *testing.T) {
	_, client, _ := newStandIn(t)
	tests := []struct {
		name     string
		question string
		want     []string // substrings of the answer
	}{
		{"opening hours", "what are your opening hours?", []string{"Opening hours:", "Mon–Fri 9–18", "Sat 10–14"}},
		{"open, loosely", "When are you open?", []string{"Opening hours:"}},
		{"delivery", "Do you deliver to Alfama?", []string{"Delivery: We deliver within 5 km"}},
		{"word in the body", "how much is a cappuccino", []string{"Prices: Espresso €1.20"}},
		{"plurals", "Prices for croissants?", []string{"Prices:"}},
		{"greeting", "Hello!", []string{"How can I help you today?"}},
		{"nothing matches", "Do you sell bicycles?", []string{"check with the team"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.Models.GenerateContent(t.Context(), testModel, conversation(tt.question), textConfig())
			if err != nil {
				t.Fatalf("generate content: %v", err)
			}
			got := resp.Text()
			if !strings.HasPrefix(got, gemini.Marker) {
				t.Errorf("answer %q does not start with %q", got, gemini.Marker)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("answer %q does not contain %q", got, w)
				}
			}
			if resp.Candidates[0].Content.Role != genai.RoleModel {
				t.Errorf("role = %q, want %q", resp.Candidates[0].Content.Role, genai.RoleModel)
			}
			if resp.Candidates[0].FinishReason != genai.FinishReasonStop {
				t.Errorf("finish reason = %q, want STOP", resp.Candidates[0].FinishReason)
			}
			u := resp.UsageMetadata
			if u == nil {
				t.Fatal("usage metadata is nil")
			}
			if u.PromptTokenCount <= 0 || u.CandidatesTokenCount <= 0 || u.TotalTokenCount != u.PromptTokenCount+u.CandidatesTokenCount {
				t.Errorf("usage = prompt %d, candidates %d, total %d", u.PromptTokenCount, u.CandidatesTokenCount, u.TotalTokenCount)
			}
			if resp.ModelVersion != testModel || resp.ResponseID == "" {
				t.Errorf("model version %q, response id %q", resp.ModelVersion, resp.ResponseID)
			}
		})
	}
}

func TestGenerateContentIsDeterministic(t *testing.T) {
	_, client, _ := newStandIn(t)
	var answers []string
	for range 2 {
		resp, err := client.Models.GenerateContent(t.Context(), testModel, conversation("opening hours?"), textConfig())
		if err != nil {
			t.Fatalf("generate content: %v", err)
		}
		answers = append(answers, resp.Text())
	}
	if answers[0] != answers[1] {
		t.Errorf("answers differ: %q and %q", answers[0], answers[1])
	}
}

func TestStructuredOutput(t *testing.T) {
	_, client, _ := newStandIn(t)
	tests := []struct {
		name        string
		question    string
		wantHandoff bool
		wantReply   string
	}{
		{"knowledge", "what are your opening hours?", false, "Mon–Fri 9–18"},
		{"human", "I want to talk to a human", true, "get a person from the team"},
		{"real person", "can I speak to a real person please", true, "get a person from the team"},
		{"spanish", "Quiero hablar con un humano", true, "get a person from the team"},
		{"portuguese", "quero falar com um atendente", true, "get a person from the team"},
		{"per person is not a handoff", "how much is it per person?", false, "[simulated]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.Models.GenerateContent(t.Context(), testModel, conversation(tt.question), jsonConfig())
			if err != nil {
				t.Fatalf("generate content: %v", err)
			}
			var got reply
			if err := json.Unmarshal([]byte(resp.Text()), &got); err != nil {
				t.Fatalf("answer %q is not the JSON asked for: %v", resp.Text(), err)
			}
			if got.Handoff != tt.wantHandoff {
				t.Errorf("handoff = %v, want %v (%+v)", got.Handoff, tt.wantHandoff, got)
			}
			if !strings.HasPrefix(got.Reply, gemini.Marker) || !strings.Contains(got.Reply, tt.wantReply) {
				t.Errorf("reply = %q, want it marked and containing %q", got.Reply, tt.wantReply)
			}
			if got.Handoff && got.Reason == "" {
				t.Error("handoff without a reason")
			}
		})
	}
}

func TestHandoffFunctionCall(t *testing.T) {
	_, client, _ := newStandIn(t)
	cfg := textConfig()
	cfg.Tools = []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{{
		Name:        gemini.HandoffFunction,
		Description: "Hand the chat over to a person of the team.",
		Parameters: &genai.Schema{
			Type:       genai.TypeObject,
			Properties: map[string]*genai.Schema{"reason": {Type: genai.TypeString}},
		},
	}}}}

	contents := conversation("Can I speak to someone from the team?")
	resp, err := client.Models.GenerateContent(t.Context(), testModel, contents, cfg)
	if err != nil {
		t.Fatalf("generate content: %v", err)
	}
	calls := resp.FunctionCalls()
	if len(calls) != 1 || calls[0].Name != gemini.HandoffFunction {
		t.Fatalf("function calls = %+v, want one call to %s", calls, gemini.HandoffFunction)
	}
	if calls[0].Args["reason"] == "" || calls[0].Args["reason"] == nil {
		t.Errorf("args = %v, want a reason", calls[0].Args)
	}

	// The caller runs the function and sends its result back.
	contents = append(contents,
		resp.Candidates[0].Content,
		genai.NewContentFromFunctionResponse(gemini.HandoffFunction, map[string]any{"ok": true}, genai.RoleUser))
	resp, err = client.Models.GenerateContent(t.Context(), testModel, contents, cfg)
	if err != nil {
		t.Fatalf("generate content after the function response: %v", err)
	}
	if got := resp.Text(); !strings.HasPrefix(got, gemini.Marker) || !strings.Contains(got, "person from the team") {
		t.Errorf("answer after handoff = %q", got)
	}

	// Questions that are not handoffs still get text.
	resp, err = client.Models.GenerateContent(t.Context(), testModel, conversation("opening hours?"), cfg)
	if err != nil {
		t.Fatalf("generate content: %v", err)
	}
	if len(resp.FunctionCalls()) != 0 || !strings.Contains(resp.Text(), "Opening hours") {
		t.Errorf("answer = %q with calls %+v, want the opening hours", resp.Text(), resp.FunctionCalls())
	}
}

func TestFailNext(t *testing.T) {
	s, client, _ := newStandIn(t)
	tests := []struct {
		status     int
		wantStatus string
	}{
		{http.StatusTooManyRequests, "RESOURCE_EXHAUSTED"},
		{http.StatusInternalServerError, "INTERNAL"},
		{http.StatusServiceUnavailable, "UNAVAILABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.wantStatus, func(t *testing.T) {
			s.FailNext(1, tt.status)
			_, err := client.Models.GenerateContent(t.Context(), testModel, conversation("opening hours?"), textConfig())
			var apiErr genai.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error = %v, want a genai.APIError", err)
			}
			if apiErr.Code != tt.status || apiErr.Status != tt.wantStatus {
				t.Errorf("error = %d %s, want %d %s", apiErr.Code, apiErr.Status, tt.status, tt.wantStatus)
			}
			if !strings.Contains(apiErr.Message, "simulated") {
				t.Errorf("message %q is not marked simulated", apiErr.Message)
			}

			if _, err := client.Models.GenerateContent(t.Context(), testModel, conversation("opening hours?"), textConfig()); err != nil {
				t.Errorf("call after the fault: %v", err)
			}
		})
	}
}

func TestFailNextUnderConcurrency(t *testing.T) {
	s, client, _ := newStandIn(t)
	s.FailNext(5, http.StatusServiceUnavailable)

	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	for range 20 {
		wg.Go(func() {
			_, err := client.Models.GenerateContent(t.Context(), testModel, conversation("delivery?"), textConfig())
			if err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed != 5 {
		t.Errorf("%d calls failed, want 5", failed)
	}
	if got := len(s.Requests()); got != 20 {
		t.Errorf("%d requests recorded, want 20", got)
	}
}

func TestSetDelay(t *testing.T) {
	s, client, _ := newStandIn(t)
	s.SetDelay(5 * time.Second)

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := client.Models.GenerateContent(ctx, testModel, conversation("opening hours?"), textConfig())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("call took %v, the context should have ended it", d)
	}

	s.SetDelay(50 * time.Millisecond)
	start = time.Now()
	if _, err := client.Models.GenerateContent(t.Context(), testModel, conversation("opening hours?"), textConfig()); err != nil {
		t.Fatalf("generate content with a short delay: %v", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("call took %v, want at least the delay", d)
	}
}

func TestRequestsRecordThePrompt(t *testing.T) {
	s, client, _ := newStandIn(t)
	if _, err := client.Models.GenerateContent(t.Context(), testModel, conversation("what are your opening hours?"), jsonConfig()); err != nil {
		t.Fatalf("generate content: %v", err)
	}

	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests recorded, want 1", len(reqs))
	}
	got := reqs[0]
	if got.Method != gemini.MethodGenerateContent || got.Model != testModel || got.Status != http.StatusOK {
		t.Errorf("method %q, model %q, status %d", got.Method, got.Model, got.Status)
	}
	for _, want := range []string{"You are Ana", "## Business knowledge", "### Opening hours\nMon–Fri 9–18"} {
		if !strings.Contains(got.SystemInstruction, want) {
			t.Errorf("system instruction does not carry %q", want)
		}
	}
	wantTurns := []gemini.Turn{
		{Role: "user", Text: "hi"},
		{Role: "model", Text: "[simulated] Hi! How can I help you today?"},
		{Role: "user", Text: "what are your opening hours?"},
	}
	if diff := cmp.Diff(wantTurns, got.Contents); diff != "" {
		t.Errorf("contents (-want +got):\n%s", diff)
	}
	if got.Config.ResponseMIMEType != "application/json" || len(got.Config.ResponseSchema) == 0 {
		t.Errorf("config = %+v, want JSON with a schema", got.Config)
	}
	if got.Config.Temperature == nil || *got.Config.Temperature < 0.39 || *got.Config.Temperature > 0.41 {
		t.Errorf("temperature = %v, want 0.4", got.Config.Temperature)
	}
	if !json.Valid(got.Raw) || !strings.Contains(string(got.Raw), `"systemInstruction"`) {
		t.Errorf("raw body = %s", got.Raw)
	}

	s.Reset()
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests after Reset, want 0", n)
	}
}

func TestMaxOutputTokens(t *testing.T) {
	_, client, _ := newStandIn(t)
	cfg := textConfig()
	cfg.MaxOutputTokens = 3
	resp, err := client.Models.GenerateContent(t.Context(), testModel, conversation("opening hours?"), cfg)
	if err != nil {
		t.Fatalf("generate content: %v", err)
	}
	if resp.Candidates[0].FinishReason != genai.FinishReasonMaxTokens {
		t.Errorf("finish reason = %q, want MAX_TOKENS", resp.Candidates[0].FinishReason)
	}
	if got := len([]rune(resp.Text())); got != 12 {
		t.Errorf("answer %q has %d characters, want 12", resp.Text(), got)
	}
}

func TestGenerateContentStream(t *testing.T) {
	_, client, _ := newStandIn(t)
	var got strings.Builder
	for resp, err := range client.Models.GenerateContentStream(t.Context(), testModel, conversation("opening hours?"), textConfig()) {
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		got.WriteString(resp.Text())
	}
	if !strings.HasPrefix(got.String(), gemini.Marker) || !strings.Contains(got.String(), "Opening hours") {
		t.Errorf("streamed answer = %q", got.String())
	}
}

func TestCountTokens(t *testing.T) {
	s, client, _ := newStandIn(t)
	resp, err := client.Models.CountTokens(t.Context(), testModel, conversation("what are your opening hours?"), nil)
	if err != nil {
		t.Fatalf("count tokens: %v", err)
	}
	// "hi" 1 + the model turn 11 + the question 7.
	if resp.TotalTokens != 19 {
		t.Errorf("total tokens = %d, want 19", resp.TotalTokens)
	}
	if reqs := s.Requests(); len(reqs) != 1 || reqs[0].Method != gemini.MethodCountTokens {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestWrongAPIKey(t *testing.T) {
	_, _, url := newStandIn(t)
	client := newClient(t, url, "not-the-key")
	_, err := client.Models.GenerateContent(t.Context(), testModel, conversation("hi"), nil)
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error = %v, want a genai.APIError", err)
	}
	if apiErr.Code != http.StatusBadRequest || !strings.Contains(apiErr.Message, "API key not valid") {
		t.Errorf("error = %+v", apiErr)
	}
}

func TestAnyKeyWhenNoneConfigured(t *testing.T) {
	ts := httptest.NewServer(gemini.New(gemini.Options{}).Handler())
	t.Cleanup(ts.Close)
	client := newClient(t, ts.URL, "whatever")
	if _, err := client.Models.GenerateContent(t.Context(), testModel, conversation("hi"), nil); err != nil {
		t.Errorf("generate content: %v", err)
	}
}

// TestHTTPErrors checks the answers to calls the genai client would not
// make, with plain HTTP.
func TestHTTPErrors(t *testing.T) {
	_, _, url := newStandIn(t)
	const generate = "/v1beta/models/gemini-2.5-flash:generateContent"
	valid := `{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}`
	tests := []struct {
		name       string
		method     string
		path       string
		key        string
		body       string
		wantCode   int
		wantStatus string
	}{
		{"unknown path", http.MethodPost, "/v1beta/files", testKey, valid, 404, "NOT_FOUND"},
		{"unknown model method", http.MethodPost, "/v1beta/models/gemini-2.5-flash:embedText", testKey, valid, 404, "NOT_FOUND"},
		{"unknown version", http.MethodPost, "/v9/models/gemini-2.5-flash:generateContent", testKey, valid, 404, "NOT_FOUND"},
		{"wrong http method", http.MethodGet, generate, testKey, "", 404, "NOT_FOUND"},
		{"missing key", http.MethodPost, generate, "", valid, 403, "PERMISSION_DENIED"},
		{"wrong key", http.MethodPost, generate, "nope", valid, 400, "INVALID_ARGUMENT"},
		{"malformed json", http.MethodPost, generate, testKey, `{"contents":`, 400, "INVALID_ARGUMENT"},
		{"missing contents", http.MethodPost, generate, testKey, `{"systemInstruction":{"parts":[{"text":"x"}]}}`, 400, "INVALID_ARGUMENT"},
		{"empty parts", http.MethodPost, generate, testKey, `{"contents":[{"role":"user","parts":[]}]}`, 400, "INVALID_ARGUMENT"},
		{"bad role", http.MethodPost, generate, testKey, `{"contents":[{"role":"bot","parts":[{"text":"x"}]}]}`, 400, "INVALID_ARGUMENT"},
		{"key as query parameter", http.MethodPost, generate + "?key=" + testKey, "", valid, 200, ""},
		{"snake_case body", http.MethodPost, generate, testKey, `{"system_instruction":{"parts":[{"text":"### Hours\n9-18"}]},"contents":[{"parts":[{"text":"hours?"}]}]}`, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := do(t, tt.method, url+tt.path, tt.key, tt.body)
			if code != tt.wantCode {
				t.Fatalf("status = %d, want %d: %s", code, tt.wantCode, body)
			}
			if tt.wantStatus == "" {
				return
			}
			var got struct {
				Error genai.APIError `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("body %q is not Google's error shape: %v", body, err)
			}
			if got.Error.Code != tt.wantCode || got.Error.Status != tt.wantStatus || got.Error.Message == "" {
				t.Errorf("error = %+v, want %d %s", got.Error, tt.wantCode, tt.wantStatus)
			}
		})
	}
}

func TestHTTPControls(t *testing.T) {
	s, client, url := newStandIn(t)

	if code, body := do(t, http.MethodPost, url+"/_sim/fail?count=2&status=503", "", ""); code != http.StatusOK {
		t.Fatalf("arm faults: %d %s", code, body)
	}
	for i, want := range []int{503, 503, 0} {
		_, err := client.Models.GenerateContent(t.Context(), testModel, conversation("hi"), nil)
		var apiErr genai.APIError
		errors.As(err, &apiErr)
		if apiErr.Code != want {
			t.Errorf("call %d: error %v, want code %d", i, err, want)
		}
	}

	if code, body := do(t, http.MethodPost, url+"/_sim/delay?duration=2s", "", ""); code != http.StatusOK {
		t.Fatalf("set delay: %d %s", code, body)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := client.Models.GenerateContent(ctx, testModel, conversation("hi"), nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want a deadline error", err)
	}
	if code, _ := do(t, http.MethodPost, url+"/_sim/delay?duration=soon", "", ""); code != http.StatusBadRequest {
		t.Errorf("bad duration: status %d, want 400", code)
	}

	// The cancelled call is recorded when the stand-in notices the
	// cancellation, which can come a moment after the client gave up.
	var reqs []gemini.Request
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, body := do(t, http.MethodGet, url+"/_sim/requests", "", "")
		reqs = nil
		if err := json.Unmarshal([]byte(body), &reqs); code != http.StatusOK || err != nil {
			t.Fatalf("list requests: %d %v %s", code, err, body)
		}
		if len(reqs) >= 4 || time.Now().After(deadline) {
			break
		}
	}
	if len(reqs) != 4 || reqs[0].Status != 503 || reqs[2].Status != 200 {
		t.Errorf("requests = %+v", reqs)
	}

	if code, _ := do(t, http.MethodPost, url+"/_sim/reset", "", ""); code != http.StatusNoContent {
		t.Errorf("reset: status %d", code)
	}
	if n := len(s.Requests()); n != 0 {
		t.Errorf("%d requests after reset", n)
	}
	if _, err := client.Models.GenerateContent(t.Context(), testModel, conversation("hi"), nil); err != nil {
		t.Errorf("call after reset: %v", err)
	}
}

func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("free the port: %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- gemini.Run(ctx, addr, gemini.Options{APIKey: testKey}, nil) }()

	client := newClient(t, "http://"+addr, testKey)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := client.Models.GenerateContent(t.Context(), testModel, conversation("hi"), nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stand-in never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop after the context ended")
	}
}

func do(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if key != "" {
		req.Header.Set("x-goog-api-key", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, string(b)
}
