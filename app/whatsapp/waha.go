package whatsapp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// wahaEvents returns the webhook events of the sessions aibud creates.
// message.any carries the messages sent from the owner's phone and through
// the API; for incoming messages it repeats message (see ParseWAHAEvent).
func wahaEvents() []string {
	return []string{"message", "message.any", "message.ack", "session.status", "poll.vote", "poll.vote.failed"}
}

// WAHAConfig configures a WAHA client. Zero values take the defaults.
type WAHAConfig struct {
	// BaseURL is the node's address, e.g. http://waha:3000 (no /api).
	BaseURL string
	// APIKey is sent as X-Api-Key on every request. It never appears in
	// errors or logs.
	APIKey string
	// WebhookURL is where sessions post their events:
	// APP_BASE_URL + "/api/webhooks/whatsapp".
	WebhookURL string
	// WebhookSecret is the HMAC-SHA512 key WAHA signs the webhooks with.
	WebhookSecret string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// Attempts is how many times an idempotent call is tried before it
	// gives ErrUnavailable (default 3). Sends are always tried once.
	Attempts int
	// Backoff is the wait before the first retry (default 500 ms); it
	// doubles on every retry, with jitter, up to MaxBackoff (default 5 s).
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// WAHA is the client of one WAHA node (https://waha.devlike.pro). It is safe
// for concurrent use.
type WAHA struct {
	transport
	webhookURL    string
	webhookSecret string
}

var _ Provider = (*WAHA)(nil)

// NewWAHA returns a WAHA client.
func NewWAHA(cfg WAHAConfig) *WAHA {
	return &WAHA{
		transport: newTransport(transportConfig{provider: ProviderWAHA, baseURL: cfg.BaseURL, keyHeader: "X-Api-Key",
			apiKey: cfg.APIKey, client: cfg.HTTPClient, attempts: cfg.Attempts, backoff: cfg.Backoff,
			maxBackoff: cfg.MaxBackoff, statusError: wahaStatusError}),
		webhookURL:    cfg.WebhookURL,
		webhookSecret: cfg.WebhookSecret,
	}
}

// Kind is ProviderWAHA.
func (w *WAHA) Kind() string { return ProviderWAHA }

// maxSessionName is the longest session name aibud makes. WAHA stores
// sessions under their name (folders, database names), so the name stays
// short and plain.
const maxSessionName = 54

// SessionName returns the gateway session name of an instance, e.g.
// "t12_i34". It is deterministic, unique per instance, at most 54 characters
// and uses only [A-Za-z0-9_-].
func SessionName(tenantID, instanceID int64) string {
	return "t" + strconv.FormatInt(tenantID, 10) + "_i" + strconv.FormatInt(instanceID, 10)
}

// ValidSessionName reports an error when name is not a safe session name:
// 1 to 54 characters of [A-Za-z0-9_-]. The client refuses other names
// before sending anything.
func ValidSessionName(name string) error {
	if name == "" || len(name) > maxSessionName {
		return fmt.Errorf("session name must have 1 to %d characters", maxSessionName)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("session name %q may only use letters, digits, _ and -", name)
		}
	}
	return nil
}

// wahaStatusError maps a non-2xx answer of WAHA to the package errors.
func wahaStatusError(w *transport, c call, status int, data []byte) error {
	var e struct {
		Message  json.RawMessage `json:"message"`
		Error    json.RawMessage `json:"error"`
		Status   json.RawMessage `json:"status"`
		Expected json.RawMessage `json:"expected"`
	}
	_ = json.Unmarshal(data, &e) // not JSON: the text is the message
	msg := firstText(e.Message, e.Error)
	if msg == "" && !json.Valid(data) {
		msg = string(data)
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return w.fail(c.op, ErrUnauthorized, status, msg, nil)
	case status == http.StatusNotFound && c.sessionPath:
		return w.fail(c.op, ErrSessionNotFound, status, msg, nil)
	case status == http.StatusUnprocessableEntity && len(e.Expected) > 0 && string(e.Expected) != "null":
		// {error, session, status, expected}: the session is not in a
		// status that allows the call.
		if s := firstText(e.Status); s != "" {
			msg = strings.TrimSpace(msg + " (status " + s + ")")
		}
		return w.fail(c.op, ErrWrongStatus, status, msg, nil)
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return w.fail(c.op, ErrUnavailable, status, msg, nil)
	}
	return w.fail(c.op, ErrBadRequest, status, msg, nil)
}

// checkSession refuses an unsafe session name before any request.
func checkSession(op, name string) error {
	if err := ValidSessionName(name); err != nil {
		return &GatewayError{Op: op, Message: err.Error(), kind: ErrBadRequest}
	}
	return nil
}

func required(op, what, v string) error {
	if strings.TrimSpace(v) == "" {
		return &GatewayError{Op: op, Message: what + " is empty", kind: ErrBadRequest}
	}
	return nil
}

// wahaStatus maps WAHA's session status to the normalised one.
func wahaStatus(s string) string {
	switch s {
	case "STOPPED":
		return StatusStopped
	case "STARTING":
		return StatusStarting
	case "SCAN_QR_CODE":
		return StatusScanQR
	case "WORKING":
		return StatusWorking
	case "FAILED":
		return StatusFailed
	}
	return StatusStopped // a status added later (e.g. passkey steps): not working
}

// wahaSession is WAHA's SessionInfo and SessionDTO.
type wahaSession struct {
	Name   string    `json:"name"`
	Status string    `json:"status"`
	Me     *wahaMeID `json:"me"`
}

// wahaMeID is WAHA's MeInfo.
type wahaMeID struct {
	ID       string `json:"id"`
	LID      string `json:"lid"`
	PushName string `json:"pushName"`
}

func (m *wahaMeID) account() *Account {
	if m == nil || m.ID == "" {
		return nil
	}
	a := &Account{ID: m.ID, LID: m.LID, PushName: m.PushName}
	p := PartyOf(m.ID)
	a.Phone = p.Phone
	if a.LID == "" {
		a.LID = p.LID
	}
	return a
}

func (s wahaSession) info(name string) SessionInfo {
	if s.Name == "" {
		s.Name = name
	}
	return SessionInfo{Name: s.Name, Status: wahaStatus(s.Status), Me: s.Me.account()}
}

// sessionConfig is the configuration of every aibud session: metadata and
// one signed webhook to aibud.
func (w *WAHA) sessionConfig(metadata map[string]string) map[string]any {
	if metadata == nil {
		metadata = map[string]string{}
	}
	return map[string]any{
		"metadata": metadata,
		"webhooks": []any{map[string]any{
			"url":    w.webhookURL,
			"events": wahaEvents(),
			"hmac":   map[string]string{"key": w.webhookSecret},
			// WAHA keeps the event id across retries; aibud dedupes on it.
			"retries": map[string]any{"policy": "exponential", "delaySeconds": 2, "attempts": 15},
		}},
	}
}

// CreateSession creates and starts the session. A session of that name
// that exists already (a retried create) gets the configuration with PUT and
// is started, so calling CreateSession again is safe.
func (w *WAHA) CreateSession(ctx context.Context, spec SessionSpec) (SessionInfo, error) {
	const op = "create session"
	if err := checkSession(op, spec.Name); err != nil {
		return SessionInfo{}, err
	}
	if w.webhookURL == "" || w.webhookSecret == "" {
		return SessionInfo{}, &GatewayError{Op: op, Message: "no webhook URL or secret configured", kind: ErrBadRequest}
	}
	cfg := w.sessionConfig(spec.Metadata)
	r, err := w.do(ctx, call{op: op, method: http.MethodPost, path: "/api/sessions", retry: true,
		body: map[string]any{"name": spec.Name, "start": true, "config": cfg}})
	if alreadyExists(err) {
		return w.reconfigure(ctx, spec.Name, cfg)
	}
	if err != nil {
		return SessionInfo{}, err
	}
	var s wahaSession
	if err := decode(op, r, &s); err != nil {
		return SessionInfo{}, err
	}
	return s.info(spec.Name), nil
}

// alreadyExists tells a create refused because the session exists: WAHA
// answers 422 "Session '…' already exists. Use PUT to update it."; a proxy
// or a later version may say 409.
func alreadyExists(err error) bool {
	var ge *GatewayError
	if !errors.As(err, &ge) {
		return false
	}
	return ge.Status == http.StatusConflict ||
		ge.Status == http.StatusUnprocessableEntity && strings.Contains(strings.ToLower(ge.Message), "already exists")
}

func (w *WAHA) reconfigure(ctx context.Context, name string, cfg map[string]any) (SessionInfo, error) {
	const op = "update session"
	if _, err := w.do(ctx, call{op: op, method: http.MethodPut, path: "/api/sessions/" + segment(name),
		body: map[string]any{"config": cfg}, retry: true, sessionPath: true}); err != nil {
		return SessionInfo{}, err
	}
	return w.sessionAction(ctx, "start session", name, "start")
}

func (w *WAHA) sessionAction(ctx context.Context, op, name, action string) (SessionInfo, error) {
	if err := checkSession(op, name); err != nil {
		return SessionInfo{}, err
	}
	r, err := w.do(ctx, call{op: op, method: http.MethodPost, path: "/api/sessions/" + segment(name) + "/" + action,
		retry: true, sessionPath: true})
	if err != nil {
		return SessionInfo{}, err
	}
	var s wahaSession
	if err := decode(op, r, &s); err != nil {
		return SessionInfo{}, err
	}
	return s.info(name), nil
}

// StartSession starts a session; starting a started session is a no-op.
func (w *WAHA) StartSession(ctx context.Context, name string) error {
	_, err := w.sessionAction(ctx, "start session", name, "start")
	return err
}

// RestartSession stops and starts a session.
func (w *WAHA) RestartSession(ctx context.Context, name string) error {
	_, err := w.sessionAction(ctx, "restart session", name, "restart")
	return err
}

// Logout unlinks the phone; WAHA restarts the session, which then waits for
// a new scan.
func (w *WAHA) Logout(ctx context.Context, name string) error {
	_, err := w.sessionAction(ctx, "logout", name, "logout")
	return err
}

// DeleteSession stops, logs out and removes the session.
func (w *WAHA) DeleteSession(ctx context.Context, name string) error {
	const op = "delete session"
	if err := checkSession(op, name); err != nil {
		return err
	}
	_, err := w.do(ctx, call{op: op, method: http.MethodDelete, path: "/api/sessions/" + segment(name),
		retry: true, sessionPath: true})
	return err
}

// Session returns the session's status and, once connected, its account.
func (w *WAHA) Session(ctx context.Context, name string) (SessionInfo, error) {
	const op = "get session"
	if err := checkSession(op, name); err != nil {
		return SessionInfo{}, err
	}
	r, err := w.do(ctx, call{op: op, method: http.MethodGet, path: "/api/sessions/" + segment(name),
		retry: true, sessionPath: true})
	if err != nil {
		return SessionInfo{}, err
	}
	var s wahaSession
	if err := decode(op, r, &s); err != nil {
		return SessionInfo{}, err
	}
	return s.info(name), nil
}

// QR returns the pairing QR code as a PNG and as its raw value. They come
// from two requests; WAHA rotates the code about every 20 s, so they match
// unless a rotation falls in between.
func (w *WAHA) QR(ctx context.Context, name string) (QR, error) {
	const op = "get QR code"
	if err := checkSession(op, name); err != nil {
		return QR{}, err
	}
	path := "/api/" + segment(name) + "/auth/qr"
	// WAHA answers JSON only for Accept exactly application/json.
	r, err := w.do(ctx, call{op: op, method: http.MethodGet, path: path, query: url.Values{"format": {"raw"}},
		retry: true, sessionPath: true})
	if err != nil {
		return QR{}, err
	}
	var raw struct {
		Value string `json:"value"`
	}
	if err := decode(op, r, &raw); err != nil {
		return QR{}, err
	}
	r, err = w.do(ctx, call{op: op, method: http.MethodGet, path: path, query: url.Values{"format": {"image"}},
		accept: "image/png", retry: true, sessionPath: true})
	if err != nil {
		return QR{}, err
	}
	png, err := qrImage(op, r)
	if err != nil {
		return QR{}, err
	}
	if raw.Value == "" && len(png) == 0 {
		return QR{}, &GatewayError{Op: op, Status: r.status, Message: "empty QR code", kind: ErrWrongStatus}
	}
	return QR{PNG: png, Value: raw.Value}, nil
}

// qrImage reads the PNG answer, or the {mimetype, data} JSON some versions
// send whatever the Accept header.
func qrImage(op string, r response) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	if mt != "application/json" {
		return r.body, nil
	}
	var f struct {
		Data string `json:"data"`
	}
	if err := decode(op, r, &f); err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(f.Data)
	if err != nil {
		return nil, &GatewayError{Op: op, Status: r.status, Message: "QR image is not base64", kind: ErrUnavailable}
	}
	return png, nil
}

// RequestCode asks for a pairing code to type on the phone. It is not
// retried: every request makes a new code.
func (w *WAHA) RequestCode(ctx context.Context, name, phone string) (string, error) {
	const op = "request pairing code"
	if err := checkSession(op, name); err != nil {
		return "", err
	}
	phone = strings.TrimPrefix(strings.TrimSpace(phone), "+")
	if !digits(phone) {
		return "", &GatewayError{Op: op, Message: "phone must be digits with the country code", kind: ErrBadRequest}
	}
	r, err := w.do(ctx, call{op: op, method: http.MethodPost, path: "/api/" + segment(name) + "/auth/request-code",
		body: map[string]string{"phoneNumber": phone}, sessionPath: true})
	if err != nil {
		return "", err
	}
	var c struct {
		Code string `json:"code"`
	}
	if err := decode(op, r, &c); err != nil {
		return "", err
	}
	if c.Code == "" {
		return "", &GatewayError{Op: op, Status: r.status, Message: "no code in the answer", kind: ErrUnavailable}
	}
	return c.Code, nil
}

// NewMessageID reserves a message id.
func (w *WAHA) NewMessageID(ctx context.Context, session string) (string, error) {
	const op = "new message id"
	if err := checkSession(op, session); err != nil {
		return "", err
	}
	r, err := w.do(ctx, call{op: op, method: http.MethodGet, path: "/api/" + segment(session) + "/new-message-id",
		retry: true, sessionPath: true})
	if err != nil {
		return "", err
	}
	var m struct {
		ID string `json:"id"`
	}
	if err := decode(op, r, &m); err != nil {
		return "", err
	}
	if m.ID == "" {
		return "", &GatewayError{Op: op, Status: r.status, Message: "no id in the answer", kind: ErrUnavailable}
	}
	return m.ID, nil
}

// MessageExists tells whether the message is in the chat. messageID is the
// full id (true_…@c.us_ID) or the bare id from NewMessageID, which is taken
// as our own message in chatID. A 404 means no such message, unless WAHA says
// the session is missing; an empty answer means no message too.
func (w *WAHA) MessageExists(ctx context.Context, session, chatID, messageID string) (bool, error) {
	const op = "get message"
	if err := checkSession(op, session); err != nil {
		return false, err
	}
	if err := errors.Join(required(op, "chat id", chatID), required(op, "message id", messageID)); err != nil {
		return false, err
	}
	r, err := w.do(ctx, call{op: op, method: http.MethodGet,
		path:  "/api/" + segment(session) + "/chats/" + segment(chatID) + "/messages/" + segment(fullMessageID(chatID, messageID)),
		query: url.Values{"downloadMedia": {"false"}}, retry: true})
	var ge *GatewayError
	if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
		if strings.Contains(strings.ToLower(ge.Message), "session") {
			return false, &GatewayError{Op: op, Status: ge.Status, Message: ge.Message, kind: ErrSessionNotFound}
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	if err := decode(op, r, &m); err != nil {
		return false, err
	}
	return serializedID(m.ID) != "", nil
}

// HonoursMessageID: WAHA takes a pre-generated id on sendText and sendPoll,
// not on sendImage (its spec's MessageImageRequest has no "id").
func (w *WAHA) HonoursMessageID(kind string) bool {
	return kind == KindText || kind == KindPoll
}

// SentSince lists the chat's messages sent by the account at or after since
// (GET /api/{session}/chats/{chatId}/messages, newest first, media not
// downloaded). A 404 means no such chat: no messages, unless WAHA says the
// session is missing.
func (w *WAHA) SentSince(ctx context.Context, session, chatID string, since time.Time, limit int) ([]ChatMessage, error) {
	const op = "list chat messages"
	if err := checkSession(op, session); err != nil {
		return nil, err
	}
	if err := required(op, "chat id", chatID); err != nil {
		return nil, err
	}
	q := url.Values{"limit": {strconv.Itoa(max(limit, 1))}, "sortOrder": {"desc"}, "downloadMedia": {"false"},
		"filter.fromMe": {"true"}, "filter.timestamp.gte": {strconv.FormatInt(since.Unix(), 10)}}
	r, err := w.do(ctx, call{op: op, method: http.MethodGet,
		path: "/api/" + segment(session) + "/chats/" + segment(chatID) + "/messages", query: q, retry: true})
	var ge *GatewayError
	if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
		if strings.Contains(strings.ToLower(ge.Message), "session") {
			return nil, &GatewayError{Op: op, Status: ge.Status, Message: ge.Message, kind: ErrSessionNotFound}
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []struct {
		ID        json.RawMessage `json:"id"`
		FromMe    bool            `json:"fromMe"`
		Body      string          `json:"body"`
		HasMedia  bool            `json:"hasMedia"`
		Ack       int             `json:"ack"`
		Timestamp float64         `json:"timestamp"`
	}
	if err := decode(op, r, &list); err != nil {
		return nil, err
	}
	out := make([]ChatMessage, 0, len(list))
	for _, m := range list {
		id := serializedID(m.ID)
		if id == "" || !m.FromMe || unixTime(m.Timestamp).Before(since.Truncate(time.Second)) {
			continue // the filters are the engine's to apply; check them
		}
		out = append(out, ChatMessage{ID: id, Key: WAHAMessageKey(id), Body: m.Body, HasMedia: m.HasMedia, Ack: m.Ack, Timestamp: unixTime(m.Timestamp)})
	}
	return out, nil
}

// fullMessageID makes the serialized id of a message we sent to chatID from
// a bare pre-generated id.
func fullMessageID(chatID, id string) string {
	if strings.HasPrefix(id, "true_") || strings.HasPrefix(id, "false_") {
		return id
	}
	return "true_" + chatID + "_" + id
}

// SendText sends a text message, once: it is never retried here (see the
// package comment).
func (w *WAHA) SendText(ctx context.Context, m Text) (Sent, error) {
	const op = "send text"
	if err := checkSession(op, m.Session); err != nil {
		return Sent{}, err
	}
	if err := errors.Join(required(op, "chat id", m.ChatID), required(op, "text", m.Body)); err != nil {
		return Sent{}, err
	}
	body := map[string]any{"session": m.Session, "chatId": m.ChatID, "text": m.Body}
	if m.ID != "" {
		body["id"] = m.ID
	}
	if m.ReplyTo != "" {
		body["reply_to"] = m.ReplyTo
	}
	r, err := w.do(ctx, call{op: op, method: http.MethodPost, path: "/api/sendText", body: body, sessionPath: true})
	if err != nil {
		return Sent{}, err
	}
	return sent(r, m.ChatID, m.ID), nil
}

// SendPoll sends a poll, once: it is never retried here (see the package
// comment). The answer's id is read as SendText's is.
func (w *WAHA) SendPoll(ctx context.Context, p Poll) (Sent, error) {
	const op = "send poll"
	if err := checkSession(op, p.Session); err != nil {
		return Sent{}, err
	}
	if err := errors.Join(required(op, "chat id", p.ChatID), required(op, "poll name", p.Name), pollOptions(op, p.Options)); err != nil {
		return Sent{}, err
	}
	poll := map[string]any{"name": p.Name, "options": p.Options, "multipleAnswers": p.MultipleAnswers}
	body := map[string]any{"session": p.Session, "chatId": p.ChatID, "poll": poll}
	if p.ID != "" {
		body["id"] = p.ID
	}
	if p.ReplyTo != "" {
		body["reply_to"] = p.ReplyTo
	}
	r, err := w.do(ctx, call{op: op, method: http.MethodPost, path: "/api/sendPoll", body: body, sessionPath: true})
	if err != nil {
		return Sent{}, err
	}
	return sent(r, p.ChatID, p.ID), nil
}

// SendImage sends an image as base64 data, once: it is never retried here
// (see the package comment). The answer's id is read as SendText's is.
//
// WAHA's spec (MessageImageRequest) has no pre-generated "id", unlike
// sendText and sendPoll, so none is sent (HonoursMessageID): the image's id
// is the answer's (Sent.ID), empty when the answer has none.
func (w *WAHA) SendImage(ctx context.Context, m Image) (Sent, error) {
	const op = "send image"
	if err := checkSession(op, m.Session); err != nil {
		return Sent{}, err
	}
	if err := errors.Join(required(op, "chat id", m.ChatID), required(op, "mime type", m.Mime), imageData(op, m)); err != nil {
		return Sent{}, err
	}
	file := map[string]any{"mimetype": m.Mime, "data": base64.StdEncoding.EncodeToString(m.Data)}
	if m.FileName != "" {
		file["filename"] = m.FileName
	}
	body := map[string]any{"session": m.Session, "chatId": m.ChatID, "file": file}
	if m.Caption != "" {
		body["caption"] = m.Caption
	}
	id := ""
	if w.HonoursMessageID(KindImage) {
		id = m.ID
	}
	if id != "" {
		body["id"] = id
	}
	if m.ReplyTo != "" {
		body["reply_to"] = m.ReplyTo
	}
	r, err := w.do(ctx, call{op: op, method: http.MethodPost, path: "/api/sendImage", body: body, sessionPath: true})
	if err != nil {
		return Sent{}, err
	}
	return sent(r, m.ChatID, id), nil
}

// imageData checks that an image has bytes and a caption WhatsApp shows.
func imageData(op string, m Image) error {
	bad := func(msg string) error { return &GatewayError{Op: op, Message: msg, kind: ErrBadRequest} }
	if len(m.Data) == 0 {
		return bad("the image is empty")
	}
	if n := utf8.RuneCountInString(m.Caption); n > MaxCaption {
		return bad(fmt.Sprintf("the caption has %d characters; WhatsApp shows at most %d", n, MaxCaption))
	}
	return nil
}

// pollOptions checks a poll's options as WhatsApp does: 2 to
// MaxPollOptions, none empty, no two the same.
func pollOptions(op string, options []string) error {
	bad := func(msg string) error { return &GatewayError{Op: op, Message: msg, kind: ErrBadRequest} }
	if len(options) < 2 || len(options) > MaxPollOptions {
		return bad(fmt.Sprintf("a poll needs 2 to %d options, not %d", MaxPollOptions, len(options)))
	}
	for i, o := range options {
		if strings.TrimSpace(o) == "" {
			return bad("a poll option is empty")
		}
		if slices.Contains(options[:i], o) {
			return bad(fmt.Sprintf("the poll option %q is there twice", o))
		}
	}
	return nil
}

// sent reads a send answer. Its shape depends on the engine: the id is a
// string, or an object with _serialized (WEBJS), or missing; then the
// pre-generated id stands in.
func sent(r response, chatID, id string) Sent {
	var m struct {
		ID        json.RawMessage `json:"id"`
		Key       json.RawMessage `json:"key"` // NOWEB: {id, remoteJid, fromMe}
		Timestamp json.Number     `json:"timestamp"`
	}
	_ = json.Unmarshal(r.body, &m) // any shape: fall back below
	s := Sent{ID: serializedID(m.ID)}
	if s.ID == "" {
		var key struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(m.Key, &key) == nil && key.ID != "" {
			s.ID = fullMessageID(chatID, key.ID)
		}
	}
	if s.ID == "" && id != "" {
		s.ID = fullMessageID(chatID, id)
	}
	s.Key = WAHAMessageKey(s.ID)
	if f, err := m.Timestamp.Float64(); err == nil && f > 0 {
		s.Timestamp = unixTime(f)
	} else {
		s.Timestamp = time.Now()
	}
	return s
}

// serializedID reads a message id given as a string or as WEBJS's
// {_serialized, …} object.
func serializedID(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Serialized string `json:"_serialized"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.Serialized
	}
	return ""
}

// SendSeen marks messages of a chat as read.
func (w *WAHA) SendSeen(ctx context.Context, session, chatID string, messageIDs ...string) error {
	const op = "send seen"
	if err := checkSession(op, session); err != nil {
		return err
	}
	if err := required(op, "chat id", chatID); err != nil {
		return err
	}
	body := map[string]any{"session": session, "chatId": chatID}
	if len(messageIDs) > 0 {
		body["messageIds"] = messageIDs
	}
	_, err := w.do(ctx, call{op: op, method: http.MethodPost, path: "/api/sendSeen", body: body, retry: true, sessionPath: true})
	return err
}

// StartTyping shows "typing…" in the chat.
func (w *WAHA) StartTyping(ctx context.Context, session, chatID string) error {
	return w.typing(ctx, "start typing", "/api/startTyping", session, chatID)
}

// StopTyping hides "typing…".
func (w *WAHA) StopTyping(ctx context.Context, session, chatID string) error {
	return w.typing(ctx, "stop typing", "/api/stopTyping", session, chatID)
}

func (w *WAHA) typing(ctx context.Context, op, path, session, chatID string) error {
	if err := checkSession(op, session); err != nil {
		return err
	}
	if err := required(op, "chat id", chatID); err != nil {
		return err
	}
	_, err := w.do(ctx, call{op: op, method: http.MethodPost, path: path,
		body: map[string]string{"session": session, "chatId": chatID}, retry: true, sessionPath: true})
	return err
}

// CheckNumber tells whether a phone number (digits, a leading + allowed) is
// on WhatsApp, and its chat id.
func (w *WAHA) CheckNumber(ctx context.Context, session, phone string) (NumberStatus, error) {
	const op = "check number"
	if err := checkSession(op, session); err != nil {
		return NumberStatus{}, err
	}
	phone = strings.TrimPrefix(strings.TrimSpace(phone), "+")
	if !digits(phone) {
		return NumberStatus{}, &GatewayError{Op: op, Message: "phone must be digits with the country code", kind: ErrBadRequest}
	}
	r, err := w.do(ctx, call{op: op, method: http.MethodGet, path: "/api/checkNumberStatus",
		query: url.Values{"phone": {phone}, "session": {session}}, retry: true, sessionPath: true})
	if err != nil {
		return NumberStatus{}, err
	}
	var s struct {
		NumberExists bool   `json:"numberExists"`
		ChatID       string `json:"chatId"`
	}
	if err := decode(op, r, &s); err != nil {
		return NumberStatus{}, err
	}
	return NumberStatus{Exists: s.NumberExists, ChatID: s.ChatID}, nil
}

// PhoneForLID returns the …@c.us chat id behind a …@lid id (given with or
// without @lid), or "" when WAHA does not know it.
func (w *WAHA) PhoneForLID(ctx context.Context, session, lid string) (string, error) {
	const op = "phone for lid"
	if err := checkSession(op, session); err != nil {
		return "", err
	}
	if err := required(op, "lid", lid); err != nil {
		return "", err
	}
	if !strings.Contains(lid, "@") {
		lid += "@lid"
	}
	r, err := w.do(ctx, call{op: op, method: http.MethodGet, path: "/api/" + segment(session) + "/lids/" + segment(lid), retry: true})
	var ge *GatewayError
	if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
		if strings.Contains(strings.ToLower(ge.Message), "session") {
			return "", &GatewayError{Op: op, Status: ge.Status, Message: ge.Message, kind: ErrSessionNotFound}
		}
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var m struct {
		PN string `json:"pn"`
	}
	if err := decode(op, r, &m); err != nil {
		return "", err
	}
	return m.PN, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// WAHAMessageKey is a WAHA message's own id: WAHA writes ids as
// "<fromMe>_<chat>_<id>[_<participant>]", and a pre-generated id is the bare
// "<id>"; both name the same message, and the key is the bare id.
func WAHAMessageKey(id string) string {
	if strings.HasPrefix(id, "true_") || strings.HasPrefix(id, "false_") {
		if parts := strings.Split(id, "_"); len(parts) >= 3 {
			return parts[2]
		}
	}
	return id
}

var _ MediaFetcher = (*WAHA)(nil)

// FetchMedia downloads a received message's file from the URL WAHA's
// webhook gave (media.url, under /api/files/), with the API key. Only the
// URL's path is used, on this node's address: a webhook cannot make the
// client send the key elsewhere.
func (w *WAHA) FetchMedia(ctx context.Context, session string, ref MediaRef, limit int64) (File, error) {
	const op = "download media"
	if err := checkSession(op, session); err != nil {
		return File{}, err
	}
	u, err := url.Parse(ref.URL)
	if err != nil || !strings.HasPrefix(u.EscapedPath(), "/api/files/") || strings.Contains(u.Path, "..") {
		return File{}, &GatewayError{Provider: ProviderWAHA, Op: op, Message: "not a WAHA file URL", kind: ErrBadRequest}
	}
	r, err := w.do(ctx, call{op: op, method: http.MethodGet, path: u.EscapedPath(), accept: "*/*", retry: true, limit: limit})
	var ge *GatewayError
	if errors.As(err, &ge) && ge.Status == http.StatusNotFound {
		return File{}, &GatewayError{Provider: ProviderWAHA, Op: op, Status: ge.Status, Message: ge.Message, kind: ErrMediaGone}
	}
	if err != nil {
		return File{}, err
	}
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	return File{Mime: mt, Name: path.Base(u.Path), Data: r.body}, nil
}
