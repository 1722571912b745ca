// Package gemini is a stand-in for the Gemini API (generativelanguage,
// v1beta), for local development and tests. The real genai client reaches it
// through HTTPOptions.BaseURL; nothing here is a model.
//
// It answers generateContent, streamGenerateContent and countTokens in
// Google's REST shapes, with Google's error body
// {"error":{"code","message","status"}} that genai turns into a
// genai.APIError. The API key comes in the x-goog-api-key header or the key
// query parameter; any model name is accepted.
//
// Answers are deterministic, short, and start with Marker ("[simulated] ").
// The stand-in answers the last user message of contents:
//   - a request for a person ("human", "agent", "manager", "real person",
//     "speak to someone", "humano", "atendente", "pessoa", …) is a handoff:
//     "[simulated] I'll get a person from the team to help you.";
//   - a bare greeting gets a greeting;
//   - otherwise it quotes the knowledge entry of the system instruction that
//     shares most words with the question, "[simulated] Opening hours:
//     Mon–Fri 9–18". Entries are markdown headings with the text under them
//     ("### Opening hours\nMon–Fri 9–18"); when a heading names the knowledge
//     ("## Business knowledge", "FAQ"), only the headings under it are
//     entries, or, if it has none, its "Title: text" lines;
//   - with no matching entry it says it will check with the team.
//
// Inline data parts (inlineData {mimeType, data}) of the last user turn
// are read as media: the sample voice note of app/sim/samples stands for
// its transcript, samples.VoiceNoteTranscript ("Do you deliver on
// Sundays?"), which is answered as the question; the reply starts by
// saying what came in ("[simulated] I got your photo (image/jpeg, 1203
// bytes). …").
//
// With generationConfig.responseMimeType "application/json" the text is a
// JSON object {"reply": "…", "handoff": false, "reason": ""}, plus, when
// the responseSchema declares them, "media_note" (the sample's transcript,
// or "Voice note (<mime>, <n> bytes)", "Photo (…)", "Document (…)"),
// "question" (the customer's question when no knowledge entry answers it,
// else empty) and "confidence" (0.2 without an answer from the knowledge,
// else 0.9); other properties of the responseSchema get zero values. When the request
// declares the function handoff_to_human (HandoffFunction), a handoff is a
// functionCall part to it instead; once the caller sends back its
// functionResponse, the answer is the handoff text. usageMetadata counts
// about four characters a token, and inline media as Google documents (258
// tokens an image or PDF, 32 a second of audio), by modality.
//
// Faults for tests are methods on Server: FailNext, SetDelay, Requests
// (with each turn's inline parts, Request.Inline) and Reset. For manual use the same controls are served over HTTP, without an
// API key:
//
//	POST /_sim/fail?count=2&status=503   the next 2 model calls fail with 503
//	POST /_sim/delay?duration=3s         every model call first waits 3s (0 to stop)
//	POST /_sim/reset                     clear faults, delay and recorded requests
//	GET  /_sim/requests                  the recorded requests, as JSON
//
// Parameters may also be sent as a form body.
package gemini

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/myaibud/aibud/app/sim"
)

// The model methods the stand-in serves.
const (
	MethodGenerateContent       = "generateContent"
	MethodStreamGenerateContent = "streamGenerateContent"
	MethodCountTokens           = "countTokens"
)

// maxBody is the request size Google accepts for inline requests (20 MB).
const maxBody = 20 << 20

// Options configure a Server.
type Options struct {
	// APIKey is the key callers must send. Empty accepts any non-empty key.
	APIKey string
	// Logger receives one line per model call (never prompts or answers).
	// Nil discards.
	Logger *slog.Logger
}

// Server is the Gemini stand-in. Its methods are safe for concurrent use.
type Server struct {
	apiKey  string
	log     *slog.Logger
	handler http.Handler

	mu         sync.Mutex
	failLeft   int
	failStatus int
	delay      time.Duration
	requests   []Request
	responses  int
}

// Request is one model call the stand-in received, for tests to inspect.
// Calls refused for their route or API key are not recorded; calls failed
// by FailNext or refused as invalid are.
type Request struct {
	// Method is MethodGenerateContent, MethodStreamGenerateContent or
	// MethodCountTokens.
	Method string `json:"method"`
	// Model is the model of the URL, without "models/" ("gemini-2.5-flash").
	Model string `json:"model"`
	// SystemInstruction is the text of the system instruction's parts,
	// joined with newlines.
	SystemInstruction string `json:"system_instruction"`
	// Contents are the conversation turns, in order.
	Contents []Turn `json:"contents"`
	// Config holds the generation config fields the stand-in reads.
	Config GenerationConfig `json:"config"`
	// Functions are the names of the declared functions (tools).
	Functions []string `json:"functions,omitempty"`
	// Status is the HTTP status answered; 499 when the caller went away
	// during the delay.
	Status int `json:"status"`
	// Raw is the body as received; a body that is not valid JSON is kept as
	// a JSON string.
	Raw json.RawMessage `json:"raw"`
}

// Turn is one item of a request's contents.
type Turn struct {
	// Role is "user", "model" or empty, as sent.
	Role string `json:"role"`
	// Text joins the text parts with newlines, leaving out thoughts.
	Text string `json:"text"`
	// FunctionCall names the function a model turn called, if any.
	FunctionCall string `json:"function_call,omitempty"`
	// FunctionResponse names the function a user turn answers, if any.
	FunctionResponse string `json:"function_response,omitempty"`
	// Media are the turn's inline data parts, in order.
	Media []Inline `json:"media,omitempty"`
}

// GenerationConfig is the part of generationConfig the stand-in reads.
type GenerationConfig struct {
	ResponseMIMEType string `json:"response_mime_type,omitempty"`
	// ResponseSchema is responseSchema, or else responseJsonSchema, as sent.
	ResponseSchema  json.RawMessage `json:"response_schema,omitempty"`
	Temperature     *float64        `json:"temperature,omitempty"`
	TopP            *float64        `json:"top_p,omitempty"`
	TopK            *float64        `json:"top_k,omitempty"`
	MaxOutputTokens int             `json:"max_output_tokens,omitempty"`
	CandidateCount  int             `json:"candidate_count,omitempty"`
	StopSequences   []string        `json:"stop_sequences,omitempty"`
	Seed            *int            `json:"seed,omitempty"`
}

// New returns a Server with no faults armed.
func New(opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{apiKey: opts.APIKey, log: log}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /{version}/models/{call}", s.modelCall)
	mux.HandleFunc("POST /_sim/fail", s.simFail)
	mux.HandleFunc("POST /_sim/delay", s.simDelay)
	mux.HandleFunc("POST /_sim/reset", s.simReset)
	mux.HandleFunc("GET /_sim/requests", s.simRequests)
	mux.HandleFunc("/", s.notFound)
	s.handler = mux
	return s
}

// Handler returns the HTTP handler serving the Gemini API and the /_sim
// controls.
func (s *Server) Handler() http.Handler {
	return s.handler
}

// Run serves a new stand-in on addr until ctx is cancelled, then shuts it
// down. log replaces opts.Logger when not nil.
func Run(ctx context.Context, addr string, opts Options, log *slog.Logger) error {
	if log != nil {
		opts.Logger = log
	}
	s := New(opts)
	return sim.Serve(ctx, "gemini stand-in", addr, s.handler, s.log, func(addr string) {
		s.log.Info("gemini stand-in listening", "addr", addr, "api_key_required", opts.APIKey != "")
	})
}

// FailNext makes the next n model calls answer Google's error for status
// (429 RESOURCE_EXHAUSTED, 500 INTERNAL, 503 UNAVAILABLE, …) instead of
// answering. It replaces faults armed before; n <= 0 disarms them. A status
// outside 400–599 becomes 500.
func (s *Server) FailNext(n int, status int) {
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft = max(n, 0)
	s.failStatus = status
}

// SetDelay makes every model call wait d before answering, or until the
// caller gives up. Zero removes the delay.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = max(d, 0)
}

// Requests returns the model calls received so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// Reset disarms faults, removes the delay and forgets recorded requests.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLeft, s.failStatus, s.delay = 0, 0, 0
	s.requests = nil
	s.responses = 0
}

// takeFault uses up one armed fault, if any.
func (s *Server) takeFault() (status int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failLeft == 0 {
		return 0, false
	}
	s.failLeft--
	return s.failStatus, true
}

func (s *Server) currentDelay() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delay
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
}

// nextResponseID numbers answers, so that they stay deterministic.
func (s *Server) nextResponseID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.responses++
	return fmt.Sprintf("sim-%06d", s.responses)
}

// modelCall serves POST /{version}/models/{model}:{method}.
func (s *Server) modelCall(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	call := r.PathValue("call")
	i := strings.LastIndex(call, ":")
	if i <= 0 || !knownVersion(r.PathValue("version")) {
		s.notFound(w, r)
		return
	}
	model, method := call[:i], call[i+1:]
	switch method {
	case MethodGenerateContent, MethodStreamGenerateContent, MethodCountTokens:
	default:
		s.notFound(w, r)
		return
	}
	if status, ok := s.checkKey(w, r); !ok {
		s.log.Warn("gemini call refused", "method", method, "model", model, "status", status)
		return
	}

	rec := Request{Method: method, Model: model}
	status, injected := s.serve(w, r, &rec)
	rec.Status = status
	s.record(rec)

	level := slog.LevelInfo
	switch {
	case injected || status == 499:
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelWarn
	}
	s.log.LogAttrs(r.Context(), level, "gemini call",
		slog.String("method", method),
		slog.String("model", model),
		slog.Int("status", status),
		slog.Bool("injected_fault", injected),
		slog.Duration("duration", time.Since(start)))
}

func knownVersion(v string) bool {
	return v == "v1beta" || v == "v1" || v == "v1alpha"
}

// checkKey answers as Google does when the API key is missing (403) or
// wrong (400).
func (s *Server) checkKey(w http.ResponseWriter, r *http.Request) (status int, ok bool) {
	key := r.Header.Get("x-goog-api-key")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	if key == "" {
		return writeError(w, http.StatusForbidden,
			"Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.",
			nil), false
	}
	if s.apiKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.apiKey)) != 1 {
		return writeError(w, http.StatusBadRequest, "API key not valid. Please pass a valid API key.",
			[]map[string]any{{
				"@type":    "type.googleapis.com/google.rpc.ErrorInfo",
				"reason":   "API_KEY_INVALID",
				"domain":   "googleapis.com",
				"metadata": map[string]any{"service": "generativelanguage.googleapis.com"},
			}}), false
	}
	return 0, true
}

// serve reads, delays, fails or answers one model call, filling rec. It
// returns the status written and whether it was an injected fault.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rec *Request) (status int, injected bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return writeError(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("Request payload size exceeds the limit: %d bytes.", tooBig.Limit), nil), false
		}
		return writeError(w, http.StatusBadRequest, "Could not read the request body.", nil), false
	}
	rec.Raw = rawJSON(body)
	req, parseErr := parseRequest(rec.Method, body)
	if parseErr == nil {
		fillRecord(rec, req)
	}

	if err := sleep(r.Context(), s.currentDelay()); err != nil {
		return 499, false
	}
	if st, ok := s.takeFault(); ok {
		return writeError(w, st, faultMessage(st), faultDetails(st)), true
	}
	if parseErr != nil {
		return writeError(w, http.StatusBadRequest, "Invalid JSON payload received. "+parseErr.Error(), nil), false
	}
	if msg := problem(rec.Method, req); msg != "" {
		return writeError(w, http.StatusBadRequest, msg, nil), false
	}

	if rec.Method == MethodCountTokens {
		n := max(promptTokens(req), 1)
		return writeJSON(w, http.StatusOK, wireCountResponse{
			TotalTokens:         n,
			PromptTokensDetails: promptDetails(req),
		}), false
	}
	resp, err := s.generate(req, rec.Model)
	if err != nil {
		return writeError(w, http.StatusBadRequest, err.Error(), nil), false
	}
	if rec.Method == MethodStreamGenerateContent {
		return writeStream(w, r, resp), false
	}
	return writeJSON(w, http.StatusOK, resp), false
}

// parseRequest decodes a generateContent body, or a countTokens body into
// the same shape.
func parseRequest(method string, body []byte) (*wireRequest, error) {
	if method != MethodCountTokens {
		var req wireRequest
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("decode %s request: %w", method, err)
		}
		return &req, nil
	}
	var cr wireCountRequest
	if err := json.Unmarshal(body, &cr); err != nil {
		return nil, fmt.Errorf("decode %s request: %w", method, err)
	}
	if cr.GenerateContentRequest != nil && len(cr.Contents) == 0 {
		return cr.GenerateContentRequest, nil
	}
	return &wireRequest{Contents: cr.Contents}, nil
}

// problem returns what Google says about a request it refuses, or "".
func problem(method string, req *wireRequest) string {
	what := "GenerateContentRequest"
	if method == MethodCountTokens {
		what = "CountTokensRequest"
	}
	if len(req.Contents) == 0 {
		return fmt.Sprintf("* %s.contents: contents is not specified", what)
	}
	for i, c := range req.Contents {
		switch c.Role {
		case "", "user", "model", "function":
		default:
			return "Please use a valid role: user, model."
		}
		if len(c.Parts) == 0 {
			return fmt.Sprintf("* %s.contents[%d].parts: contents.parts must not be empty.", what, i)
		}
		for j, b := range c.inline() {
			if b.mime() == "" {
				return fmt.Sprintf("* %s.contents[%d].parts[%d].inline_data.mime_type: mime_type is not specified", what, i, j)
			}
		}
	}
	return ""
}

// fillRecord copies what tests assert on from the parsed request.
func fillRecord(rec *Request, req *wireRequest) {
	if sys := req.system(); sys != nil {
		rec.SystemInstruction = sys.text()
	}
	for _, c := range req.Contents {
		t := Turn{Role: c.Role, Text: c.text()}
		for _, b := range c.inline() {
			t.Media = append(t.Media, Inline{MIMEType: b.mime(), Size: len(b.Data), Data: b.Data})
		}
		for _, p := range c.Parts {
			if p.FunctionCall != nil {
				t.FunctionCall = p.FunctionCall.Name
			}
			if p.FunctionResponse != nil {
				t.FunctionResponse = p.FunctionResponse.Name
			}
		}
		rec.Contents = append(rec.Contents, t)
	}
	rec.Config = req.config().public()
	for _, f := range req.functions() {
		rec.Functions = append(rec.Functions, f.Name)
	}
}

// generate builds the answer to a valid generateContent request.
func (s *Server) generate(req *wireRequest, model string) (wireResponse, error) {
	system := ""
	if sys := req.system(); sys != nil {
		system = sys.text()
	}
	cfg := req.config().public()
	question, answered, media := lastUserMessage(req.Contents)
	got := readInline(media)
	if got.transcript != "" {
		question = got.transcript
	}

	a := decide(system, question)
	if answered == HandoffFunction {
		a = answer{text: handoffReply, handoff: true, reason: handoffReason}
	}
	a = a.about(question, got)

	var part wirePart
	finish := "STOP"
	handoffFn, declared := findFunction(req.functions(), HandoffFunction)
	switch {
	case a.handoff && declared && answered == "":
		args, err := handoffArgs(handoffFn, a)
		if err != nil {
			return wireResponse{}, err
		}
		part.FunctionCall = &wireFunctionCall{Name: HandoffFunction, Args: args}
	case isJSONMIME(cfg.ResponseMIMEType):
		text, err := structuredReply(a, cfg.ResponseSchema)
		if err != nil {
			return wireResponse{}, err
		}
		part.Text = text
	default:
		part.Text, finish = limitText(a.text, cfg)
	}

	out := tokens(part.Text)
	if part.FunctionCall != nil {
		b, err := json.Marshal(part.FunctionCall)
		if err != nil {
			return wireResponse{}, fmt.Errorf("encode function call: %w", err)
		}
		out = tokens(string(b))
	}
	out = max(out, 1)
	in := max(promptTokens(req), 1)
	return wireResponse{
		Candidates: []wireCandidate{{
			Content:      wireContent{Role: "model", Parts: []wirePart{part}},
			FinishReason: finish,
		}},
		UsageMetadata: &wireUsage{
			PromptTokenCount:     in,
			CandidatesTokenCount: out,
			TotalTokenCount:      in + out,
			PromptTokensDetails:  promptDetails(req),
		},
		ModelVersion: model,
		ResponseID:   s.nextResponseID(),
	}, nil
}

// lastUserMessage returns the text and the inline data of the last user
// turn. When that turn only answers a function call, it returns the
// function's name and the text of the user turn before it.
func lastUserMessage(cs []wireContent) (text, answered string, media []wireBlob) {
	for i := len(cs) - 1; i >= 0; i-- {
		c := cs[i]
		if c.Role == "model" {
			continue
		}
		media = c.inline()
		if t := c.text(); t != "" || len(media) > 0 {
			return t, answered, media
		}
		for _, p := range c.Parts {
			if p.FunctionResponse != nil && answered == "" {
				answered = p.FunctionResponse.Name
			}
		}
	}
	return "", answered, nil
}

func findFunction(fs []wireFunctionDeclaration, name string) (wireFunctionDeclaration, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	return wireFunctionDeclaration{}, false
}

// handoffArgs fills the "reason" parameter when the function declares one.
func handoffArgs(f wireFunctionDeclaration, a answer) (map[string]any, error) {
	params := firstRaw(f.Parameters, f.ParametersJSONSchema)
	if len(params) == 0 {
		return nil, nil
	}
	var s wireSchema
	if err := json.Unmarshal(params, &s); err != nil {
		return nil, fmt.Errorf("read parameters of %s: %w", f.Name, err)
	}
	if _, ok := s.Properties["reason"]; !ok {
		return nil, nil
	}
	return map[string]any{"reason": a.reason}, nil
}

func isJSONMIME(mime string) bool {
	mt, _, _ := strings.Cut(mime, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

// limitText applies stopSequences and maxOutputTokens as the model would,
// returning the finish reason.
func limitText(text string, cfg GenerationConfig) (string, string) {
	for _, stop := range cfg.StopSequences {
		if i := strings.Index(text, stop); stop != "" && i >= 0 {
			text = text[:i]
		}
	}
	if cfg.MaxOutputTokens > 0 && tokens(text) > cfg.MaxOutputTokens {
		r := []rune(text)
		return string(r[:cfg.MaxOutputTokens*4]), "MAX_TOKENS"
	}
	return text, "STOP"
}

func promptTokens(req *wireRequest) int {
	n := 0
	for _, d := range promptDetails(req) {
		n += d.TokenCount
	}
	return n
}

// promptDetails counts the prompt's tokens by modality: TEXT first, then
// the media of the contents' inline parts.
func promptDetails(req *wireRequest) []wireModalityTokens {
	n := contentTokens(req.Contents)
	if sys := req.system(); sys != nil {
		n += contentTokens([]wireContent{*sys})
	}
	out := []wireModalityTokens{{Modality: "TEXT", TokenCount: max(n, 1)}}
	var parts []wireBlob
	for _, c := range req.Contents {
		parts = append(parts, c.inline()...)
	}
	media := inlineTokens(parts)
	for _, m := range []string{"IMAGE", "AUDIO", "VIDEO", "DOCUMENT"} {
		if media[m] > 0 {
			out = append(out, wireModalityTokens{Modality: m, TokenCount: media[m]})
		}
	}
	return out
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("delay: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}

// rawJSON keeps a body as JSON: itself when valid, else as a JSON string.
func rawJSON(body []byte) json.RawMessage {
	if json.Valid(body) {
		return json.RawMessage(append([]byte(nil), body...))
	}
	b, _ := json.Marshal(string(body))
	return b
}

// faultDetails adds the RetryInfo Google sends with a 429, so that callers
// honouring it are exercised (the delay is short to keep tests fast).
func faultDetails(status int) []map[string]any {
	if status != http.StatusTooManyRequests {
		return nil
	}
	return []map[string]any{{
		"@type":      "type.googleapis.com/google.rpc.RetryInfo",
		"retryDelay": "1s",
	}}
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.log.Warn("gemini stand-in: no such route", "http_method", r.Method, "path", r.URL.Path)
	writeError(w, http.StatusNotFound, fmt.Sprintf("The requested URL %s was not found on this server.", r.URL.Path), nil)
}

// writeError writes Google's error body and returns the status.
func writeError(w http.ResponseWriter, status int, message string, details []map[string]any) int {
	return writeJSON(w, status, wireError{Error: wireErrorBody{
		Code:    status,
		Message: message,
		Status:  rpcStatus(status),
		Details: details,
	}})
}

// writeJSON writes v as JSON and returns the status.
func writeJSON(w http.ResponseWriter, status int, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own wire types get here; they always encode.
		http.Error(w, "encode response", http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return status
}

// writeStream answers streamGenerateContent in one chunk: server-sent events
// with alt=sse (what genai asks for), else a JSON array.
func writeStream(w http.ResponseWriter, r *http.Request, resp wireResponse) int {
	if r.URL.Query().Get("alt") != "sse" {
		return writeJSON(w, http.StatusOK, []wireResponse{resp})
	}
	b, err := json.Marshal(resp)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, "data: %s\r\n\r\n", b)
	return http.StatusOK
}

// simFail serves POST /_sim/fail?count=N&status=S (defaults 1 and 500).
func (s *Server) simFail(w http.ResponseWriter, r *http.Request) {
	n, err := formInt(r, "count", 1)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	status, err := formInt(r, "status", http.StatusInternalServerError)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	s.FailNext(n, status)
	s.mu.Lock()
	n, status = s.failLeft, s.failStatus
	s.mu.Unlock()
	s.log.Info("gemini stand-in: faults armed", "count", n, "status", status)
	writeJSON(w, http.StatusOK, map[string]int{"count": n, "status": status})
}

// simDelay serves POST /_sim/delay?duration=D (a Go duration, "0" to stop).
func (s *Server) simDelay(w http.ResponseWriter, r *http.Request) {
	d, err := time.ParseDuration(r.FormValue("duration"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("duration: %v", err), nil)
		return
	}
	s.SetDelay(d)
	s.log.Info("gemini stand-in: delay set", "delay", max(d, 0))
	writeJSON(w, http.StatusOK, map[string]string{"delay": max(d, 0).String()})
}

// simReset serves POST /_sim/reset.
func (s *Server) simReset(w http.ResponseWriter, _ *http.Request) {
	s.Reset()
	s.log.Info("gemini stand-in: reset")
	w.WriteHeader(http.StatusNoContent)
}

// simRequests serves GET /_sim/requests.
func (s *Server) simRequests(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Requests())
}

func formInt(r *http.Request, name string, def int) (int, error) {
	v := r.FormValue(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}
