package whatsapp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/go-cmp/cmp"

	"github.com/myaibud/aibud/app/whatsapp"
)

// wahaDir holds WAHA's OpenAPI spec and example events (a copy of the
// team's shared reference, see testdata/waha/README.md).
const wahaDir = "../../testdata/waha"

const testAPIKey = "test-api-key-0123456789"

// pngBytes starts like a PNG; the client does not decode it.
var pngBytes = []byte("\x89PNG\r\n\x1a\nfake-qr")

// readSpec returns the spec as generic JSON.
func readSpec(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(wahaDir, "openapi.json"))
	if err != nil {
		t.Fatalf("read WAHA spec (expected at %s): %v", wahaDir, err)
	}
	var spec map[string]any
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatalf("decode WAHA spec: %v", err)
	}
	return spec
}

// loadSpec turns the generic JSON into a kin-openapi document, validated
// unless it is known to be wrong.
func loadSpec(t testing.TB, spec map[string]any, validate bool) *openapi3.T {
	t.Helper()
	data, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("load WAHA spec: %v", err)
	}
	if !validate {
		return doc
	}
	if err := doc.Validate(context.Background(), openapi3.EnableMultiError()); err != nil {
		t.Fatalf("WAHA spec (with overlay) is invalid: %v", err)
	}
	return doc
}

// wahaSpec is the part of WAHA's spec aibud uses, with the known mistakes
// corrected.
func wahaSpec(t testing.TB) *openapi3.T {
	t.Helper()
	spec := readSpec(t)
	contractOnly(t, spec)
	to31(spec)
	correctSpec(t, spec)
	return loadSpec(t, spec, true)
}

// contractOperations are the WAHA operations the client calls. A request to
// any other operation fails the contract test: add it here, and it is then
// validated like the rest.
var contractOperations = map[string][]string{
	"/api/sessions":                                      {"post"},
	"/api/sessions/{session}":                            {"get", "put", "delete"},
	"/api/sessions/{session}/start":                      {"post"},
	"/api/sessions/{session}/restart":                    {"post"},
	"/api/sessions/{session}/logout":                     {"post"},
	"/api/{session}/auth/qr":                             {"get"},
	"/api/{session}/auth/request-code":                   {"post"},
	"/api/{session}/new-message-id":                      {"get"},
	"/api/{session}/chats/{chatId}/messages/{messageId}": {"get"},
	"/api/{session}/chats/{chatId}/messages":             {"get"},
	"/api/sendText":                                      {"post"},
	"/api/sendPoll":                                      {"post"},
	"/api/sendImage":                                     {"post"},
	"/api/sendSeen":                                      {"post"},
	"/api/startTyping":                                   {"post"},
	"/api/stopTyping":                                    {"post"},
	"/api/checkNumberStatus":                             {"get"},
	"/api/{session}/lids/{lid}":                          {"get"},
}

// contractWebhooks are the events aibud subscribes to, and one it ignores
// (an example file has it).
var contractWebhooks = []string{"message", "message.any", "message.ack", "session.status", "poll.vote", "poll.vote.failed", "message.reaction"}

// contractOnly cuts the spec down to the operations and events aibud uses
// and the components they reach. The rest of WAHA's API is not aibud's
// contract, and has mistakes of its own (invalid examples and defaults,
// conflicting paths) that would hide ours; what is kept is validated in
// full, examples included.
func contractOnly(t testing.TB, spec map[string]any) {
	t.Helper()
	paths := node(t, spec, "paths")
	for p, item := range paths {
		methods, ok := contractOperations[p]
		if !ok {
			delete(paths, p)
			continue
		}
		for m := range item.(map[string]any) {
			if isMethod(m) && !slices.Contains(methods, m) {
				delete(item.(map[string]any), m)
			}
		}
	}
	for p := range contractOperations {
		if _, ok := paths[p]; !ok {
			t.Fatalf("spec has no path %s", p)
		}
	}
	// The servers entry is a template for localhost:3000 with an empty
	// default kin-openapi refuses; the tests route to their own server.
	delete(spec, "servers")
	hooks := node(t, spec, "webhooks")
	for name := range hooks {
		if !slices.Contains(contractWebhooks, name) {
			delete(hooks, name)
		}
	}
	// Keep the components reached from what is left.
	comps := node(t, spec, "components")
	keep := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && !keep[ref] {
				keep[ref] = true
				parts := strings.Split(strings.TrimPrefix(ref, "#/components/"), "/")
				if len(parts) == 2 {
					if kind, ok := comps[parts[0]].(map[string]any); ok {
						walk(kind[parts[1]])
					}
				}
			}
			for _, c := range v {
				walk(c)
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(paths)
	walk(hooks)
	for kind, all := range comps {
		if kind == "securitySchemes" {
			continue
		}
		for name := range all.(map[string]any) {
			if !keep["#/components/"+kind+"/"+name] {
				delete(all.(map[string]any), name)
			}
		}
	}
}

func isMethod(m string) bool {
	switch m {
	case "get", "put", "post", "delete", "options", "head", "patch", "trace":
		return true
	}
	return false
}

// to31 rewrites the OpenAPI 3.0 idioms left in WAHA's 3.1 document into
// their 3.1 (JSON Schema 2020-12) form, which kin-openapi validates 3.1
// documents with: "nullable: true" becomes a "null" type, and "required:
// true" on a property (valid in neither) becomes a required entry of the
// parent object. Nothing is loosened: a nullable field stays as required as
// it was.
func to31(v any) {
	switch v := v.(type) {
	case map[string]any:
		if props, ok := v["properties"].(map[string]any); ok {
			for name, p := range props {
				pm, ok := p.(map[string]any)
				if !ok {
					continue
				}
				if r, ok := pm["required"].(bool); ok {
					delete(pm, "required")
					if r {
						req, _ := v["required"].([]any)
						v["required"] = append(req, name)
					}
				}
			}
		}
		if items, ok := v["items"].(map[string]any); ok {
			if _, ok := items["required"].(bool); ok {
				delete(items, "required") // "required" of an array item means nothing
			}
		}
		if v["nullable"] == true {
			delete(v, "nullable")
			nullable(v)
		}
		for _, c := range v {
			to31(c)
		}
	case []any:
		for _, c := range v {
			to31(c)
		}
	}
}

// nullable lets the schema s also be null, in place.
func nullable(s map[string]any) {
	if t, ok := s["type"].(string); ok {
		s["type"] = []any{t, "null"}
		if enum, ok := s["enum"].([]any); ok {
			s["enum"] = append(enum, nil)
		}
		return
	}
	inner := make(map[string]any)
	for k, v := range s {
		switch k {
		case "description", "example", "default", "deprecated":
		default:
			inner[k] = v
			delete(s, k)
		}
	}
	s["anyOf"] = []any{inner, map[string]any{"type": "null"}}
}

// correctSpec fixes the mistakes of WAHA's spec listed in
// testdata/waha/README.md, and those that the example events show, to what
// WAHA really takes and sends. Each fix states the right type; none accepts
// more than WAHA does.
func correctSpec(t testing.TB, spec map[string]any) {
	t.Helper()
	schemas := node(t, spec, "components", "schemas")

	// MessagePoll.multipleAnswers is a boolean, not an object.
	node(t, schemas, "MessagePoll", "properties")["multipleAnswers"] = map[string]any{"type": "boolean", "default": false}

	// WebhookConfig.events lists event names, not objects.
	events := node(t, schemas, "WAHAWebhookMessage", "properties", "event")["enum"]
	node(t, schemas, "WebhookConfig", "properties", "events")["items"] = map[string]any{"type": "string", "enum": events}

	// WAMessage.mediaUrl is deprecated and often absent.
	msg := node(t, schemas, "WAMessage")
	msg["required"] = slices.DeleteFunc(msg["required"].([]any), func(v any) bool { return v == "mediaUrl" })

	// participant (outside groups), environment.browser (all but WEBJS) and
	// a message's media and replyTo are null in real events.
	for _, name := range []string{"WAMessage", "WAMessageAckBody", "WAMessageReaction"} {
		nullable(node(t, schemas, name, "properties", "participant"))
	}
	nullable(node(t, schemas, "WAHAEnvironment", "properties", "browser"))
	nullable(node(t, schemas, "WAMessage", "properties", "media"))
	nullable(node(t, schemas, "WAMessage", "properties", "replyTo"))

	// Every event's "event" is a string (typed object), and its "me" is
	// null before the phone is linked.
	for name, s := range schemas {
		if !strings.HasPrefix(name, "WAHAWebhook") {
			continue
		}
		props := node(t, s.(map[string]any), "properties")
		if ev, ok := props["event"].(map[string]any); ok {
			ev["type"] = "string"
		}
		if me, ok := props["me"].(map[string]any); ok {
			nullable(me)
		}
	}

	// The session path parameter has no type; it is a string (WAHA's
	// session name). kin-openapi cannot read a parameter without a type.
	for _, item := range node(t, spec, "paths") {
		for m, op := range item.(map[string]any) {
			if !isMethod(m) {
				continue
			}
			params, _ := op.(map[string]any)["parameters"].([]any)
			for _, p := range params {
				p := p.(map[string]any)
				if s, ok := p["schema"].(map[string]any); ok && p["in"] == "path" && s["type"] == nil {
					s["type"] = "string"
				}
			}
		}
	}

	// The QR format has a default (image): it is not required.
	for _, p := range node(t, spec, "paths", "/api/{session}/auth/qr", "get")["parameters"].([]any) {
		if p := p.(map[string]any); p["name"] == "format" {
			p["required"] = false
		}
	}

	// SessionConfig.ignore's example sets its booleans to null.
	node(t, schemas, "SessionConfig", "properties", "ignore")["example"] = map[string]any{"status": false, "groups": false, "channels": false}

	// SessionConfig.noweb's example lacks the required markOnline.
	node(t, schemas, "SessionConfig", "properties", "noweb", "example")["markOnline"] = true

	// The "full" session-create (and update) example lacks the required App
	// fields.
	for path, method := range map[string]string{"/api/sessions": "post", "/api/sessions/{session}": "put"} {
		ex := node(t, spec, "paths", path, method, "requestBody", "content", "application/json", "examples", "full", "value")
		app := ex["apps"].([]any)[0].(map[string]any)
		app["id"], app["session"] = "app_unique_id", "default"
	}
}

// node walks generic JSON, failing the test when the spec changed shape.
func node(t testing.TB, m map[string]any, path ...string) map[string]any {
	t.Helper()
	cur := m
	for i, k := range path {
		next, ok := cur[k].(map[string]any)
		if !ok {
			t.Fatalf("spec overlay: %s is not an object", strings.Join(path[:i+1], "/"))
		}
		cur = next
	}
	return cur
}

// stub is a canned WAHA answer.
type stub struct {
	status      int
	contentType string
	body        []byte
}

func jsonStub(status int, v any) stub {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return stub{status: status, contentType: "application/json", body: b}
}

// seen is a request the contract server received.
type seen struct {
	op     string
	accept string
	query  url.Values
	body   []byte
}

// contractServer is a stand-in WAHA that checks every request against the
// spec (route, parameters, body and the X-Api-Key security), checks its own
// answers against the spec too, and records what it saw.
type contractServer struct {
	URL    string
	router routers.Router
	// answer returns the answer to a valid request; nil means the default.
	answer func(op string, r *http.Request, body []byte) *stub

	mu       sync.Mutex
	problems []string
	seen     []seen
}

func newContractServer(t testing.TB, doc *openapi3.T) *contractServer {
	t.Helper()
	cs := &contractServer{}
	srv := httptest.NewServer(http.HandlerFunc(cs.serve))
	t.Cleanup(srv.Close)
	cs.URL = srv.URL
	// Route on this server: WAHA's own servers entry is a template for
	// localhost:3000.
	doc.Servers = openapi3.Servers{{URL: srv.URL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	cs.router = router
	return cs
}

func (cs *contractServer) problem(format string, args ...any) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.problems = append(cs.problems, fmt.Sprintf(format, args...))
}

func (cs *contractServer) Problems() []string {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return slices.Clone(cs.problems)
}

func (cs *contractServer) Seen() []seen {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return slices.Clone(cs.seen)
}

func (cs *contractServer) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	route, params, err := cs.router.FindRoute(r)
	if err != nil {
		cs.problem("%s %s: no such operation: %v", r.Method, r.URL.Path, err)
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	op := route.Operation.OperationID
	in := &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			MultiError: true,
			// Record the body as sent, without the defaults filled in.
			SkipSettingDefaults: true,
			// Reject a body sent to an operation that takes none.
			RejectWhenRequestBodyNotSpecified: true,
			AuthenticationFunc: func(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
				if ai.SecuritySchemeName != "api_key" || ai.SecurityScheme.In != "header" {
					return fmt.Errorf("unexpected security scheme %q", ai.SecuritySchemeName)
				}
				if got := ai.RequestValidationInput.Request.Header.Get(ai.SecurityScheme.Name); got != testAPIKey {
					return fmt.Errorf("%s header is %q", ai.SecurityScheme.Name, got)
				}
				return nil
			},
		},
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		cs.problem("%s (%s %s): %v", op, r.Method, r.URL.RequestURI(), err)
		status := http.StatusBadRequest
		var se *openapi3filter.SecurityRequirementsError
		if errors.As(err, &se) {
			status = http.StatusUnauthorized
		}
		http.Error(w, err.Error(), status)
		return
	}
	body, _ := io.ReadAll(r.Body) // ValidateRequest leaves a fresh body
	cs.mu.Lock()
	cs.seen = append(cs.seen, seen{op: op, accept: r.Header.Get("Accept"), query: r.URL.Query(), body: body})
	cs.mu.Unlock()

	var s *stub
	if cs.answer != nil {
		s = cs.answer(op, r, body)
	}
	if s == nil {
		s = defaultAnswer(op, r, params, body)
	}
	if s.status < 300 {
		cs.checkAnswer(in, *s)
	}
	if s.contentType != "" {
		w.Header().Set("Content-Type", s.contentType)
	}
	w.WriteHeader(s.status)
	w.Write(s.body)
}

// checkAnswer keeps the stand-in honest: its answers match the spec.
func (cs *contractServer) checkAnswer(in *openapi3filter.RequestValidationInput, s stub) {
	h := http.Header{}
	if s.contentType != "" {
		h.Set("Content-Type", s.contentType)
	}
	err := openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 s.status,
		Header:                 h,
		Body:                   io.NopCloser(bytes.NewReader(s.body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	})
	if err != nil {
		cs.problem("stub answer of %s does not match the spec: %v", in.Route.Operation.OperationID, err)
	}
}

// defaultAnswer answers as WAHA (GOWS engine) does.
func defaultAnswer(op string, r *http.Request, params map[string]string, body []byte) *stub {
	session, _ := url.PathUnescape(params["session"])
	var req map[string]any
	_ = json.Unmarshal(body, &req)
	if name, ok := req["name"].(string); ok && session == "" {
		session = name
	}
	if s, ok := req["session"].(string); ok {
		session = s
	}
	message := func(id, chatID, body string) map[string]any {
		return map[string]any{
			"id": id, "timestamp": 1748482805, "from": "15550000000@c.us", "fromMe": true, "source": "api",
			"to": chatID, "participant": nil, "body": body, "hasMedia": false, "media": nil,
			"ack": 1, "ackName": "SERVER", "vCards": []string{}, "_data": map[string]any{},
		}
	}
	var s stub
	switch op {
	case "SessionsController_create", "SessionsController_start", "SessionsController_restart", "SessionsController_logout":
		s = jsonStub(http.StatusCreated, map[string]any{"name": session, "status": "STARTING"})
	case "SessionsController_update":
		s = jsonStub(http.StatusOK, map[string]any{"name": session, "status": "STOPPED"})
	case "SessionsController_delete":
		s = stub{status: http.StatusOK}
	case "SessionsController_get":
		s = jsonStub(http.StatusOK, map[string]any{
			"name": session, "status": "WORKING",
			"me":       map[string]any{"id": "15550000000@c.us", "lid": "123456789012345@lid", "pushName": "Acme"},
			"presence": map[string]any{}, "timestamps": map[string]any{"activity": 1748482805000},
		})
	case "AuthController_getQR":
		switch {
		case r.URL.Query().Get("format") == "raw":
			s = jsonStub(http.StatusOK, map[string]any{"value": "2@qr-value"})
		case r.Header.Get("Accept") == "application/json":
			s = jsonStub(http.StatusOK, map[string]any{"mimetype": "image/png", "data": base64.StdEncoding.EncodeToString(pngBytes)})
		default:
			s = stub{status: http.StatusOK, contentType: "image/png", body: pngBytes}
		}
	case "AuthController_requestCode":
		s = jsonStub(http.StatusCreated, map[string]any{"code": "ABCD-EFGH"})
	case "ChattingController_getNewMessageId":
		s = jsonStub(http.StatusOK, map[string]any{"id": "3EB0D6438EA8F3869F9D1D"})
	case "ChatsController_getChatMessage":
		chatID, _ := url.PathUnescape(params["chatId"])
		id, _ := url.PathUnescape(params["messageId"])
		s = jsonStub(http.StatusOK, message(id, chatID, "Hi there!"))
	case "ChattingController_sendText":
		chatID, _ := req["chatId"].(string)
		id, _ := req["id"].(string)
		s = jsonStub(http.StatusCreated, message("true_"+chatID+"_"+id, chatID, fmt.Sprint(req["text"])))
	case "ChattingController_sendPoll":
		// WEBJS answers the id as an object.
		chatID, _ := req["chatId"].(string)
		id, _ := req["id"].(string)
		s = jsonStub(http.StatusCreated, map[string]any{"id": map[string]any{
			"fromMe": true, "remote": chatID, "id": id, "_serialized": "true_" + chatID + "_" + id,
		}, "timestamp": 1748482806})
	case "ChatsController_getChatMessages":
		chatID, _ := url.PathUnescape(params["chatId"])
		img := message("true_"+chatID+"_3EB0IMAGE", chatID, "Hi Ana, 20% off")
		img["hasMedia"] = true
		s = jsonStub(http.StatusOK, []any{img, message("true_"+chatID+"_3EB0TEXT", chatID, "Hello")})
	case "ChattingController_sendImage":
		// No pre-generated id in the spec: the engine picks the id.
		chatID, _ := req["chatId"].(string)
		m := message("true_"+chatID+"_3EB0GATEWAY", chatID, fmt.Sprint(req["caption"]))
		m["hasMedia"] = true
		s = jsonStub(http.StatusCreated, m)
	case "ChattingController_sendSeen":
		s = jsonStub(http.StatusCreated, map[string]any{})
	case "ChattingController_startTyping", "ChattingController_stopTyping":
		s = stub{status: http.StatusCreated}
	case "ChattingController_DEPRECATED_checkNumberStatus":
		s = jsonStub(http.StatusOK, map[string]any{"numberExists": true, "chatId": r.URL.Query().Get("phone") + "@c.us"})
	case "LidsController_findPNByLid":
		lid, _ := url.PathUnescape(params["lid"])
		s = jsonStub(http.StatusOK, map[string]any{"lid": lid, "pn": "15551234567@c.us"})
	default:
		s = jsonStub(http.StatusNotImplemented, map[string]any{"message": "not in the stand-in: " + op})
	}
	return &s
}

func newTestWAHA(url string) *whatsapp.WAHA {
	return whatsapp.NewWAHA(whatsapp.WAHAConfig{
		BaseURL:       url,
		APIKey:        testAPIKey,
		WebhookURL:    "https://aibud.example/api/webhooks/whatsapp",
		WebhookSecret: "webhook-secret",
		Attempts:      3,
		Backoff:       time.Millisecond,
		MaxBackoff:    2 * time.Millisecond,
	})
}

// TestWAHAContract calls every Provider method against a stand-in that
// validates each request with WAHA's OpenAPI spec.
func TestWAHAContract(t *testing.T) {
	doc := wahaSpec(t)
	cs := newContractServer(t, doc)
	w := newTestWAHA(cs.URL)
	p := w
	ctx := context.Background()
	const session = "t12_i34"

	tests := []struct {
		method string
		call   func() (any, error)
		ops    []string
		want   any
	}{
		{"CreateSession", func() (any, error) {
			return p.CreateSession(ctx, whatsapp.SessionSpec{Name: session, Metadata: map[string]string{"tenant.id": "12", "instance.id": "34"}})
		}, []string{"SessionsController_create"}, whatsapp.SessionInfo{Name: session, Status: whatsapp.StatusStarting}},
		{"StartSession", func() (any, error) { return nil, p.StartSession(ctx, session) },
			[]string{"SessionsController_start"}, nil},
		{"RestartSession", func() (any, error) { return nil, p.RestartSession(ctx, session) },
			[]string{"SessionsController_restart"}, nil},
		{"Session", func() (any, error) { return p.Session(ctx, session) },
			[]string{"SessionsController_get"}, whatsapp.SessionInfo{Name: session, Status: whatsapp.StatusWorking, Me: &whatsapp.Account{
				ID: "15550000000@c.us", LID: "123456789012345@lid", Phone: "+15550000000", PushName: "Acme",
			}}},
		{"QR", func() (any, error) { return p.QR(ctx, session) },
			[]string{"AuthController_getQR", "AuthController_getQR"}, whatsapp.QR{PNG: pngBytes, Value: "2@qr-value"}},
		{"RequestCode", func() (any, error) { return p.RequestCode(ctx, session, "+15551234567") },
			[]string{"AuthController_requestCode"}, "ABCD-EFGH"},
		{"Logout", func() (any, error) { return nil, p.Logout(ctx, session) },
			[]string{"SessionsController_logout"}, nil},
		{"DeleteSession", func() (any, error) { return nil, p.DeleteSession(ctx, session) },
			[]string{"SessionsController_delete"}, nil},
		{"NewMessageID", func() (any, error) { return p.NewMessageID(ctx, session) },
			[]string{"ChattingController_getNewMessageId"}, "3EB0D6438EA8F3869F9D1D"},
		{"MessageExists", func() (any, error) {
			return p.MessageExists(ctx, session, "15551234567@c.us", "3EB0D6438EA8F3869F9D1D")
		}, []string{"ChatsController_getChatMessage"}, true},
		{"SendText", func() (any, error) {
			s, err := p.SendText(ctx, whatsapp.Text{Session: session, ChatID: "15551234567@c.us", ID: "3EB0AAA", Body: "Hello <b> & bye", ReplyTo: "false_15551234567@c.us_AAAA"})
			return s.ID, err
		}, []string{"ChattingController_sendText"}, "true_15551234567@c.us_3EB0AAA"},
		{"SendPoll", func() (any, error) {
			s, err := p.SendPoll(ctx, whatsapp.Poll{Session: session, ChatID: "120363000000000001@g.us", ID: "3EB0BBB", Name: "Which day?", Options: []string{"Mon", "Tue"}, MultipleAnswers: true, ReplyTo: "false_120363000000000001@g.us_CCCC_15551234567@c.us"})
			return s.ID, err
		}, []string{"ChattingController_sendPoll"}, "true_120363000000000001@g.us_3EB0BBB"},
		{"SendImage", func() (any, error) {
			s, err := p.SendImage(ctx, whatsapp.Image{Session: session, ChatID: "15551234567@c.us", ID: "3EB0DDD", Mime: "image/png",
				FileName: "sale.png", Data: pngBytes, Caption: "Hi Ana, 20% off <today> & tomorrow"})
			return s.ID, err
		}, []string{"ChattingController_sendImage"}, "true_15551234567@c.us_3EB0GATEWAY"},
		{"HonoursMessageID", func() (any, error) {
			return []bool{p.HonoursMessageID(whatsapp.KindText), p.HonoursMessageID(whatsapp.KindPoll), p.HonoursMessageID(whatsapp.KindImage)}, nil
		}, nil, []bool{true, true, false}},
		{"SentSince", func() (any, error) {
			return p.SentSince(ctx, session, "15551234567@c.us", time.Unix(1748482800, 0), 20)
		}, []string{"ChatsController_getChatMessages"}, []whatsapp.ChatMessage{
			{ID: "true_15551234567@c.us_3EB0IMAGE", Key: "3EB0IMAGE", Body: "Hi Ana, 20% off", HasMedia: true, Ack: 1, Timestamp: time.Unix(1748482805, 0).UTC()},
			{ID: "true_15551234567@c.us_3EB0TEXT", Key: "3EB0TEXT", Body: "Hello", Ack: 1, Timestamp: time.Unix(1748482805, 0).UTC()},
		}},
		{"SendSeen", func() (any, error) {
			return nil, p.SendSeen(ctx, session, "15551234567@c.us", "false_15551234567@c.us_AAAA", "false_15551234567@c.us_BBBB")
		}, []string{"ChattingController_sendSeen"}, nil},
		{"StartTyping", func() (any, error) { return nil, p.StartTyping(ctx, session, "15551234567@c.us") },
			[]string{"ChattingController_startTyping"}, nil},
		{"StopTyping", func() (any, error) { return nil, p.StopTyping(ctx, session, "15551234567@c.us") },
			[]string{"ChattingController_stopTyping"}, nil},
		{"CheckNumber", func() (any, error) { return p.CheckNumber(ctx, session, "+15551234567") },
			[]string{"ChattingController_DEPRECATED_checkNumberStatus"}, whatsapp.NumberStatus{Exists: true, ChatID: "15551234567@c.us"}},
		{"Kind", func() (any, error) { return p.Kind(), nil }, nil, whatsapp.ProviderWAHA},
		{"PhoneForLID", func() (any, error) { return p.PhoneForLID(ctx, session, "123456789012345@lid") },
			[]string{"LidsController_findPNByLid"}, "15551234567@c.us"},
	}

	// Every method of the interface, and of the optional capabilities WAHA
	// has, is called here.
	var methods, tested []string
	for _, pt := range []reflect.Type{reflect.TypeFor[whatsapp.Provider](), reflect.TypeFor[whatsapp.IDReserver](),
		reflect.TypeFor[whatsapp.LIDResolver](), reflect.TypeFor[whatsapp.Typist]()} {
		for i := range pt.NumMethod() {
			methods = append(methods, pt.Method(i).Name)
		}
	}
	slices.Sort(methods)
	for _, tc := range tests {
		tested = append(tested, tc.method)
	}
	slices.Sort(tested)
	if diff := cmp.Diff(methods, tested); diff != "" {
		t.Errorf("Provider methods not covered by the contract test (-all +tested):\n%s", diff)
	}

	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			before := len(cs.Seen())
			got, err := tc.call()
			if err != nil {
				t.Fatalf("%s: %v", tc.method, err)
			}
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", tc.method, diff)
				}
			}
			var ops []string
			for _, s := range cs.Seen()[before:] {
				ops = append(ops, s.op)
			}
			if diff := cmp.Diff(tc.ops, ops); diff != "" {
				t.Errorf("operations (-want +got):\n%s", diff)
			}
		})
	}
	for _, p := range cs.Problems() {
		t.Errorf("contract: %s", p)
	}

	t.Run("Accept", func(t *testing.T) {
		for _, s := range cs.Seen() {
			want := "application/json"
			if s.op == "AuthController_getQR" && s.query.Get("format") == "image" {
				want = "image/png"
			}
			if s.accept != want {
				t.Errorf("%s %v: Accept %q, want %q", s.op, s.query, s.accept, want)
			}
		}
	})

	t.Run("poll body", func(t *testing.T) {
		want := map[string]any{
			"session": session, "chatId": "120363000000000001@g.us", "id": "3EB0BBB",
			"reply_to": "false_120363000000000001@g.us_CCCC_15551234567@c.us",
			"poll":     map[string]any{"name": "Which day?", "options": []any{"Mon", "Tue"}, "multipleAnswers": true},
		}
		if diff := cmp.Diff(want, seenBody(t, cs, "ChattingController_sendPoll")); diff != "" {
			t.Errorf("sendPoll body (-want +got):\n%s", diff)
		}
	})

	t.Run("image body", func(t *testing.T) {
		want := map[string]any{
			"session": session, "chatId": "15551234567@c.us",
			"caption": "Hi Ana, 20% off <today> & tomorrow",
			"file":    map[string]any{"mimetype": "image/png", "filename": "sale.png", "data": base64.StdEncoding.EncodeToString(pngBytes)},
		}
		if diff := cmp.Diff(want, seenBody(t, cs, "ChattingController_sendImage")); diff != "" {
			t.Errorf("sendImage body (-want +got):\n%s", diff)
		}
	})

	t.Run("session create body", func(t *testing.T) {
		var create []byte
		for _, s := range cs.Seen() {
			if s.op == "SessionsController_create" {
				create = s.body
			}
		}
		var got map[string]any
		if err := json.Unmarshal(create, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"name":  session,
			"start": true,
			"config": map[string]any{
				"metadata": map[string]any{"tenant.id": "12", "instance.id": "34"},
				"webhooks": []any{map[string]any{
					"url":     "https://aibud.example/api/webhooks/whatsapp",
					"events":  []any{"message", "message.any", "message.ack", "session.status", "poll.vote", "poll.vote.failed"},
					"hmac":    map[string]any{"key": "webhook-secret"},
					"retries": map[string]any{"policy": "exponential", "delaySeconds": float64(2), "attempts": float64(15)},
				}},
			},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("create body (-want +got):\n%s", diff)
		}
	})
}

// seenBody is the JSON body of the last request of the operation.
func seenBody(t *testing.T, cs *contractServer, op string) map[string]any {
	t.Helper()
	var body []byte
	for _, s := range cs.Seen() {
		if s.op == op {
			body = s.body
		}
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s body: %v", op, err)
	}
	return got
}

// TestWAHAContractCreateExisting: a retried create of a session that exists
// updates it with PUT and starts it, all within the spec.
func TestWAHAContractCreateExisting(t *testing.T) {
	cs := newContractServer(t, wahaSpec(t))
	cs.answer = func(op string, r *http.Request, body []byte) *stub {
		if op == "SessionsController_create" {
			s := jsonStub(http.StatusUnprocessableEntity, map[string]any{
				"statusCode": 422, "message": "Session 't1_i2' already exists. Use PUT to update it.", "error": "Unprocessable Entity",
			})
			return &s
		}
		return nil
	}
	w := newTestWAHA(cs.URL)
	got, err := w.CreateSession(context.Background(), whatsapp.SessionSpec{Name: "t1_i2", Metadata: map[string]string{"tenant.id": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(whatsapp.SessionInfo{Name: "t1_i2", Status: whatsapp.StatusStarting}, got); diff != "" {
		t.Errorf("session (-want +got):\n%s", diff)
	}
	var ops []string
	for _, s := range cs.Seen() {
		ops = append(ops, s.op)
	}
	if diff := cmp.Diff([]string{"SessionsController_create", "SessionsController_update", "SessionsController_start"}, ops); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	for _, p := range cs.Problems() {
		t.Errorf("contract: %s", p)
	}
}

// TestWAHAContractRejects shows the validation has teeth: requests that
// break the spec are caught.
func TestWAHAContractRejects(t *testing.T) {
	cs := newContractServer(t, wahaSpec(t))
	tests := []struct {
		name   string
		method string
		path   string
		key    string
		body   string
		want   string // in the problem
	}{
		{"poll multipleAnswers as text", "POST", "/api/sendPoll", testAPIKey,
			`{"session":"s1","chatId":"1@c.us","poll":{"name":"Q","options":["a","b"],"multipleAnswers":"yes"}}`, "multipleAnswers"},
		{"text without chatId", "POST", "/api/sendText", testAPIKey, `{"session":"s1","text":"hi"}`, "chatId"},
		{"image without file", "POST", "/api/sendImage", testAPIKey, `{"session":"s1","chatId":"1@c.us","caption":"hi"}`, "file"},
		{"image file without mimetype", "POST", "/api/sendImage", testAPIKey,
			`{"session":"s1","chatId":"1@c.us","file":{"data":"aGk="}}`, "mimetype"},
		{"webhook events as objects", "POST", "/api/sessions", testAPIKey,
			`{"name":"s1","start":true,"config":{"webhooks":[{"url":"https://x","events":[{"name":"message"}]}]}}`, "events"},
		{"unknown webhook event", "POST", "/api/sessions", testAPIKey,
			`{"name":"s1","start":true,"config":{"webhooks":[{"url":"https://x","events":["message.created"]}]}}`, "events"},
		{"no API key", "GET", "/api/sessions/s1", "", "", "security"},
		{"wrong API key", "GET", "/api/sessions/s1", "other", "", "security"},
		{"missing query parameter", "GET", "/api/checkNumberStatus?session=s1", testAPIKey, "", "phone"},
		{"body on an operation without one", "POST", "/api/sessions/s1/start", testAPIKey, `{"x":1}`, "body"},
		{"unknown operation", "POST", "/api/sessions/s1/pause", testAPIKey, "", "no such operation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(cs.Problems())
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, cs.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.key != "" {
				req.Header.Set("X-Api-Key", tc.key)
			}
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			got := cs.Problems()[before:]
			if len(got) != 1 || !strings.Contains(got[0], tc.want) {
				t.Errorf("problems = %q, want one mentioning %q", got, tc.want)
			}
			if res.StatusCode < 400 {
				t.Errorf("status %d, want an error", res.StatusCode)
			}
		})
	}

	// Without the overlay, WAHA's own spec refuses the poll aibud sends
	// (multipleAnswers typed object): the corrections matter.
	t.Run("uncorrected spec refuses a real poll", func(t *testing.T) {
		spec := readSpec(t)
		contractOnly(t, spec)
		to31(spec)
		raw := newContractServer(t, loadSpec(t, spec, false))
		w := newTestWAHA(raw.URL)
		_, err := w.SendPoll(context.Background(), whatsapp.Poll{Session: "s1", ChatID: "1@c.us", Name: "Q", Options: []string{"a", "b"}})
		if err == nil {
			t.Fatal("SendPoll passed the uncorrected spec")
		}
		if p := raw.Problems(); len(p) != 1 || !strings.Contains(p[0], "multipleAnswers") {
			t.Errorf("problems = %q, want one about multipleAnswers", p)
		}
	})
}

// TestWAHAExamplesMatchSpec checks the example events against the event
// schemas of the corrected spec, so the parser tests use real shapes.
func TestWAHAExamplesMatchSpec(t *testing.T) {
	doc := wahaSpec(t)
	files, err := filepath.Glob(filepath.Join(wahaDir, "examples", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s: %v", wahaDir, err)
	}
	for _, f := range files {
		if strings.Contains(f, "hmac") {
			continue
		}
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var ev map[string]any
			if err := json.Unmarshal(data, &ev); err != nil {
				t.Fatal(err)
			}
			name, _ := ev["event"].(string)
			hook := doc.Webhooks[name]
			if hook == nil || hook.Post == nil {
				t.Fatalf("spec has no webhook %q", name)
			}
			schema := hook.Post.RequestBody.Value.Content.Get("application/json").Schema.Value
			if err := schema.VisitJSON(ev, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors()); err != nil {
				t.Errorf("example does not match the spec: %v", err)
			}
		})
	}
}
