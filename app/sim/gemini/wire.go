package gemini

import (
	"encoding/json"
	"net/http"
	"strings"
)

// The JSON shapes of the Gemini REST API (v1beta, "mldev"), limited to the
// fields the stand-in reads or writes. Names follow google.golang.org/genai's
// types.go; unknown fields are ignored, as protobuf JSON does for us here.
//
// The REST API also accepts snake_case names (Google's curl examples use
// them), so the few that matter have a second field.

// wireRequest is the body of generateContent and streamGenerateContent.
type wireRequest struct {
	Contents               []wireContent         `json:"contents"`
	SystemInstruction      *wireContent          `json:"systemInstruction,omitempty"`
	SystemInstructionSnake *wireContent          `json:"system_instruction,omitempty"`
	GenerationConfig       *wireGenerationConfig `json:"generationConfig,omitempty"`
	GenerationConfigSnake  *wireGenerationConfig `json:"generation_config,omitempty"`
	Tools                  []wireTool            `json:"tools,omitempty"`
}

// system returns the system instruction under either spelling.
func (r *wireRequest) system() *wireContent {
	if r.SystemInstruction != nil {
		return r.SystemInstruction
	}
	return r.SystemInstructionSnake
}

// config returns the generation config under either spelling, never nil.
func (r *wireRequest) config() *wireGenerationConfig {
	switch {
	case r.GenerationConfig != nil:
		return r.GenerationConfig
	case r.GenerationConfigSnake != nil:
		return r.GenerationConfigSnake
	}
	return &wireGenerationConfig{}
}

// functions returns the declarations of every tool, in order.
func (r *wireRequest) functions() []wireFunctionDeclaration {
	var fs []wireFunctionDeclaration
	for _, t := range r.Tools {
		fs = append(fs, t.FunctionDeclarations...)
		fs = append(fs, t.FunctionDeclarationsSnake...)
	}
	return fs
}

// wireCountRequest is the body of countTokens: either contents alone or a
// whole generateContent request.
type wireCountRequest struct {
	Contents               []wireContent `json:"contents"`
	GenerateContentRequest *wireRequest  `json:"generateContentRequest,omitempty"`
}

type wireContent struct {
	Role  string     `json:"role,omitempty"`
	Parts []wirePart `json:"parts"`
}

// text joins the content's text parts, leaving out thoughts.
func (c *wireContent) text() string {
	var texts []string
	for _, p := range c.Parts {
		if p.Text != "" && !p.Thought {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n")
}

// inline returns the content's inline data parts, under either spelling.
func (c *wireContent) inline() []wireBlob {
	var out []wireBlob
	for _, p := range c.Parts {
		switch {
		case p.InlineData != nil:
			out = append(out, *p.InlineData)
		case p.InlineDataSnake != nil:
			out = append(out, *p.InlineDataSnake)
		}
	}
	return out
}

type wirePart struct {
	Text             string                `json:"text,omitempty"`
	Thought          bool                  `json:"thought,omitempty"`
	InlineData       *wireBlob             `json:"inlineData,omitempty"`
	InlineDataSnake  *wireBlob             `json:"inline_data,omitempty"`
	FunctionCall     *wireFunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *wireFunctionResponse `json:"functionResponse,omitempty"`
}

// wireBlob is inline data: bytes (base64 in JSON) of a MIME type.
type wireBlob struct {
	MIMEType      string `json:"mimeType,omitempty"`
	MIMETypeSnake string `json:"mime_type,omitempty"`
	Data          []byte `json:"data"`
}

// mime returns the blob's MIME type under either spelling.
func (b wireBlob) mime() string {
	return firstNonEmpty(b.MIMEType, b.MIMETypeSnake)
}

type wireFunctionCall struct {
	Name string         `json:"name"`
	Args map[string]any `json:"args,omitempty"`
}

type wireFunctionResponse struct {
	Name     string         `json:"name"`
	Response map[string]any `json:"response,omitempty"`
}

type wireGenerationConfig struct {
	Temperature             *float64        `json:"temperature,omitempty"`
	TopP                    *float64        `json:"topP,omitempty"`
	TopK                    *float64        `json:"topK,omitempty"`
	CandidateCount          int             `json:"candidateCount,omitempty"`
	MaxOutputTokens         int             `json:"maxOutputTokens,omitempty"`
	MaxOutputTokensSnake    int             `json:"max_output_tokens,omitempty"`
	StopSequences           []string        `json:"stopSequences,omitempty"`
	Seed                    *int            `json:"seed,omitempty"`
	ResponseMIMEType        string          `json:"responseMimeType,omitempty"`
	ResponseMIMETypeSnake   string          `json:"response_mime_type,omitempty"`
	ResponseSchema          json.RawMessage `json:"responseSchema,omitempty"`
	ResponseSchemaSnake     json.RawMessage `json:"response_schema,omitempty"`
	ResponseJSONSchema      json.RawMessage `json:"responseJsonSchema,omitempty"`
	ResponseJSONSchemaSnake json.RawMessage `json:"response_json_schema,omitempty"`
}

// public returns the config as Requests reports it, merging the spellings.
func (g *wireGenerationConfig) public() GenerationConfig {
	return GenerationConfig{
		ResponseMIMEType: firstNonEmpty(g.ResponseMIMEType, g.ResponseMIMETypeSnake),
		ResponseSchema:   firstRaw(g.ResponseSchema, g.ResponseSchemaSnake, g.ResponseJSONSchema, g.ResponseJSONSchemaSnake),
		Temperature:      g.Temperature,
		TopP:             g.TopP,
		TopK:             g.TopK,
		MaxOutputTokens:  max(g.MaxOutputTokens, g.MaxOutputTokensSnake),
		CandidateCount:   g.CandidateCount,
		StopSequences:    g.StopSequences,
		Seed:             g.Seed,
	}
}

type wireTool struct {
	FunctionDeclarations      []wireFunctionDeclaration `json:"functionDeclarations,omitempty"`
	FunctionDeclarationsSnake []wireFunctionDeclaration `json:"function_declarations,omitempty"`
}

type wireFunctionDeclaration struct {
	Name                 string          `json:"name"`
	Parameters           json.RawMessage `json:"parameters,omitempty"`
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema,omitempty"`
}

// wireSchema is the part of a Schema (OpenAPI subset, types in capitals) or
// of a JSON Schema (types in lower case, possibly a list) the stand-in reads.
type wireSchema struct {
	Type             json.RawMessage       `json:"type,omitempty"`
	Properties       map[string]wireSchema `json:"properties,omitempty"`
	PropertyOrdering []string              `json:"propertyOrdering,omitempty"`
}

// typeName returns the schema's type in lower case; for a list of types the
// first one that is not "null".
func (s wireSchema) typeName() string {
	var one string
	if json.Unmarshal(s.Type, &one) == nil {
		return strings.ToLower(one)
	}
	var many []string
	if json.Unmarshal(s.Type, &many) == nil {
		for _, t := range many {
			if !strings.EqualFold(t, "null") {
				return strings.ToLower(t)
			}
		}
	}
	return ""
}

type wireResponse struct {
	Candidates    []wireCandidate `json:"candidates"`
	UsageMetadata *wireUsage      `json:"usageMetadata,omitempty"`
	ModelVersion  string          `json:"modelVersion"`
	ResponseID    string          `json:"responseId"`
}

type wireCandidate struct {
	Content      wireContent `json:"content"`
	FinishReason string      `json:"finishReason"`
	Index        int         `json:"index"`
}

type wireUsage struct {
	PromptTokenCount     int                  `json:"promptTokenCount"`
	CandidatesTokenCount int                  `json:"candidatesTokenCount"`
	TotalTokenCount      int                  `json:"totalTokenCount"`
	PromptTokensDetails  []wireModalityTokens `json:"promptTokensDetails,omitempty"`
}

type wireModalityTokens struct {
	Modality   string `json:"modality"`
	TokenCount int    `json:"tokenCount"`
}

type wireCountResponse struct {
	TotalTokens         int                  `json:"totalTokens"`
	PromptTokensDetails []wireModalityTokens `json:"promptTokensDetails,omitempty"`
}

// wireError is Google's error body, which genai decodes into genai.APIError.
type wireError struct {
	Error wireErrorBody `json:"error"`
}

type wireErrorBody struct {
	Code    int              `json:"code"`
	Message string           `json:"message"`
	Status  string           `json:"status"`
	Details []map[string]any `json:"details,omitempty"`
}

// rpcStatus maps an HTTP status to the google.rpc.Code name Google sends
// with it.
func rpcStatus(httpStatus int) string {
	switch httpStatus {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ABORTED"
	case http.StatusRequestEntityTooLarge:
		return "INVALID_ARGUMENT"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case http.StatusInternalServerError:
		return "INTERNAL"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	if httpStatus >= 500 {
		return "UNKNOWN"
	}
	return "FAILED_PRECONDITION"
}

// faultMessage is the message Google sends with an error of that status,
// marked as simulated.
func faultMessage(httpStatus int) string {
	var msg string
	switch httpStatus {
	case http.StatusTooManyRequests:
		msg = "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
	case http.StatusInternalServerError:
		msg = "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
	case http.StatusServiceUnavailable:
		msg = "The model is overloaded. Please try again later."
	case http.StatusGatewayTimeout:
		msg = "Deadline expired before operation could complete."
	default:
		msg = http.StatusText(httpStatus)
		if msg == "" {
			msg = "Error"
		}
	}
	return msg + " [simulated fault]"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func firstRaw(rs ...json.RawMessage) json.RawMessage {
	for _, r := range rs {
		if len(r) > 0 && string(r) != "null" {
			return r
		}
	}
	return nil
}
