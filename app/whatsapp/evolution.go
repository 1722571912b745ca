package whatsapp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// EvolutionSecretHeader carries an instance's webhook secret on every
// webhook Evolution API posts: Evolution does not sign its webhooks, it
// sends the headers the instance was created with (see
// shared/evolution/README.md §4.5).
const EvolutionSecretHeader = "X-Aibud-Webhook-Token"

// evolutionEvents are the webhook events of the instances aibud creates,
// in Evolution's UPPER_SNAKE names (lowercase dotted names are stored
// without error but never match).
func evolutionEvents() []string {
	return []string{"QRCODE_UPDATED", "CONNECTION_UPDATE", "MESSAGES_UPSERT", "MESSAGES_UPDATE",
		"SEND_MESSAGE", "LOGOUT_INSTANCE", "REMOVE_INSTANCE", "STATUS_INSTANCE"}
}

// EvolutionInstanceSecret is the webhook secret of one instance: an HMAC of
// its name under the platform's EVOLUTION_WEBHOOK_SECRET. It is derived, not
// stored, so a webhook is checked without a lookup, and a secret proves
// which instance it belongs to.
func EvolutionInstanceSecret(master, instance string) string {
	mac := hmac.New(sha256.New, []byte(master))
	mac.Write([]byte("evolution-webhook:" + instance))
	return hex.EncodeToString(mac.Sum(nil))
}

// EvolutionConfig configures an Evolution API client. Zero values take the
// defaults.
type EvolutionConfig struct {
	// BaseURL is the node's address, e.g. http://evolution:8080.
	BaseURL string
	// APIKey is the server's global key (AUTHENTICATION_API_KEY), sent as
	// apikey on every request. It never appears in errors or logs.
	APIKey string
	// WebhookURL is where instances post their events:
	// APP_BASE_URL + "/api/webhooks/evolution".
	WebhookURL string
	// WebhookSecret is EVOLUTION_WEBHOOK_SECRET, from which each instance's
	// secret is derived (EvolutionInstanceSecret).
	WebhookSecret string
	// HTTPClient defaults to a client with a 30 s timeout.
	HTTPClient *http.Client
	// Attempts, Backoff and MaxBackoff are as in WAHAConfig.
	Attempts   int
	Backoff    time.Duration
	MaxBackoff time.Duration
	// CheckBatch is how many numbers one number check asks about (default
	// 20), and CheckPause the wait between batches (default 2 s): bulk
	// checks are known to get numbers restricted.
	CheckBatch int
	CheckPause time.Duration
}

// Evolution is the client of one Evolution API 2.3.x node (Baileys
// instances). It is safe for concurrent use.
//
// Evolution differs from WAHA in ways the client hides: it cannot send
// under a pre-generated id (no IDReserver: a message's id is the send's
// answer, and a send whose answer was lost is looked for with SentSince),
// has no "scan QR" status (connecting with a QR code issued is ScanQR),
// answers some errors with HTTP 200 and {"error": true}, rewrites some
// countries' numbers, and wants numbers without "+".
type Evolution struct {
	transport
	webhookURL    string
	webhookSecret string
	checkBatch    int
	checkPause    time.Duration
}

var _ Provider = (*Evolution)(nil)

// NewEvolution returns an Evolution API client.
func NewEvolution(cfg EvolutionConfig) *Evolution {
	e := &Evolution{
		transport: newTransport(transportConfig{provider: ProviderEvolution, baseURL: cfg.BaseURL, keyHeader: "apikey",
			apiKey: cfg.APIKey, client: cfg.HTTPClient, attempts: cfg.Attempts, backoff: cfg.Backoff,
			maxBackoff: cfg.MaxBackoff, statusError: evolutionStatusError}),
		webhookURL:    cfg.WebhookURL,
		webhookSecret: cfg.WebhookSecret,
		checkBatch:    cfg.CheckBatch,
		checkPause:    cfg.CheckPause,
	}
	if e.checkBatch <= 0 {
		e.checkBatch = 20
	}
	if e.checkPause <= 0 {
		e.checkPause = 2 * time.Second
	}
	return e
}

// Kind is ProviderEvolution.
func (e *Evolution) Kind() string { return ProviderEvolution }

// evolutionStatusError maps a non-2xx answer of Evolution API:
// {"status":400,"error":"Bad Request","response":{"message":[…]}}, where a
// message may be a string or an object (a number check's result).
func evolutionStatusError(t *transport, c call, status int, data []byte) error {
	msg := evolutionMessage(data)
	switch {
	case status == http.StatusUnauthorized:
		return t.fail(c.op, ErrUnauthorized, status, msg, nil)
	case status == http.StatusNotFound && c.sessionPath:
		return t.fail(c.op, ErrSessionNotFound, status, msg, nil)
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return t.fail(c.op, ErrUnavailable, status, msg, nil)
	case status == http.StatusBadRequest && strings.Contains(strings.ToLower(msg), "connection closed"):
		// The socket is down while the instance may still say open (a
		// known Evolution fault): retryable, not a refusal.
		return t.fail(c.op, ErrUnavailable, status, msg, nil)
	case status == http.StatusBadRequest && strings.Contains(strings.ToLower(msg), "not connected"):
		return t.fail(c.op, ErrWrongStatus, status, msg, nil)
	}
	return t.fail(c.op, ErrBadRequest, status, msg, nil)
}

// evolutionError is Evolution's error body.
type evolutionError struct {
	Response struct {
		Message json.RawMessage `json:"message"`
	} `json:"response"`
	Message json.RawMessage `json:"message"`
	Error   json.RawMessage `json:"error"`
}

// evolutionMessage is the text of an error body; objects in the message
// list (number checks) are written as JSON.
func evolutionMessage(data []byte) string {
	var e evolutionError
	if json.Unmarshal(data, &e) != nil {
		return string(data)
	}
	if s := firstText(e.Response.Message, e.Message); s != "" {
		return s
	}
	var list []json.RawMessage
	if json.Unmarshal(e.Response.Message, &list) == nil {
		parts := make([]string, 0, len(list))
		for _, m := range list {
			parts = append(parts, string(m))
		}
		return strings.Join(parts, "; ")
	}
	return firstText(e.Error)
}

// notOnWhatsApp tells a send refused because the number is not on
// WhatsApp: 400 with [{"jid":…,"exists":false,"number":…}].
func notOnWhatsApp(err error) bool {
	var ge *GatewayError
	return errors.As(err, &ge) && ge.Status == http.StatusBadRequest && strings.Contains(ge.Message, `"exists":false`)
}

// ErrNotOnWhatsApp: the recipient's number has no WhatsApp account. It
// wraps ErrBadRequest (the message is refused).
var ErrNotOnWhatsApp = fmt.Errorf("%w: the number is not on WhatsApp", ErrBadRequest)

// do200 makes a call whose failures Evolution may answer with HTTP 200 and
// {"error": true, "message": …} (connect, restart).
func (e *Evolution) do200(ctx context.Context, c call) (response, error) {
	r, err := e.do(ctx, c)
	if err != nil {
		return r, err
	}
	var f struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(r.body, &f) == nil && string(f.Error) == "true" {
		msg := firstText(f.Message)
		kind := ErrUnavailable
		if strings.Contains(strings.ToLower(msg), "not connected") {
			kind = ErrWrongStatus
		}
		return response{}, e.fail(c.op, kind, r.status, msg, nil)
	}
	return r, nil
}

// instancePath is a route of one instance, e.g. /instance/connect/{name}.
func instancePath(route, name string) string { return route + "/" + segment(name) }

// webhookConfig is the per-instance webhook: our URL, the instance's
// secret header, the events by their config names.
func (e *Evolution) webhookConfig(name string) map[string]any {
	return map[string]any{
		"enabled":  true,
		"url":      e.webhookURL,
		"byEvents": false,
		"base64":   false,
		"headers":  map[string]string{EvolutionSecretHeader: EvolutionInstanceSecret(e.webhookSecret, name)},
		"events":   evolutionEvents(),
	}
}

// randomToken is an instance's own API token: Evolution does not enforce
// that tokens are unique, so each is random.
func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// CreateSession creates the instance (Baileys, our random token, groups
// ignored, the webhook with its secret) and starts it. An instance of that
// name that exists already (a retried create) gets the webhook again and is
// connected, so calling CreateSession again is safe. Metadata is not kept:
// webhooks name the instance, which is enough.
func (e *Evolution) CreateSession(ctx context.Context, spec SessionSpec) (SessionInfo, error) {
	const op = "create instance"
	if err := checkSession(op, spec.Name); err != nil {
		return SessionInfo{}, err
	}
	if e.webhookURL == "" || e.webhookSecret == "" {
		return SessionInfo{}, &GatewayError{Provider: ProviderEvolution, Op: op, Message: "no webhook URL or secret configured", kind: ErrBadRequest}
	}
	body := map[string]any{
		"instanceName": spec.Name, "integration": "WHATSAPP-BAILEYS", "token": randomToken(), "qrcode": true,
		"groupsIgnore": true, "readMessages": false, "readStatus": false, "alwaysOnline": false,
		"syncFullHistory": false, "rejectCall": false, "webhook": e.webhookConfig(spec.Name),
	}
	r, err := e.do(ctx, call{op: op, method: http.MethodPost, path: "/instance/create", body: body, retry: true})
	if nameInUse(err) {
		return e.reconfigure(ctx, spec.Name)
	}
	if err != nil {
		return SessionInfo{}, err
	}
	var c struct {
		Instance struct {
			Status string `json:"status"`
		} `json:"instance"`
		QRCode evolutionQR `json:"qrcode"`
	}
	if err := decode(op, r, &c); err != nil {
		return SessionInfo{}, err
	}
	return SessionInfo{Name: spec.Name, Status: evolutionStatus(c.Instance.Status, c.QRCode.issued(), 0)}, nil
}

// nameInUse tells a create refused because the instance exists: 403 "This
// name … is already in use".
func nameInUse(err error) bool {
	var ge *GatewayError
	return errors.As(err, &ge) && (ge.Status == http.StatusForbidden || ge.Status == http.StatusConflict) &&
		strings.Contains(strings.ToLower(ge.Message), "in use")
}

// reconfigure sets the webhook of an existing instance again and connects
// it.
func (e *Evolution) reconfigure(ctx context.Context, name string) (SessionInfo, error) {
	const op = "set webhook"
	if _, err := e.do(ctx, call{op: op, method: http.MethodPost, path: instancePath("/webhook/set", name),
		body: map[string]any{"webhook": e.webhookConfig(name)}, retry: true, sessionPath: true}); err != nil {
		return SessionInfo{}, err
	}
	if err := e.StartSession(ctx, name); err != nil {
		return SessionInfo{}, err
	}
	return e.Session(ctx, name)
}

// evolutionQR is Evolution's QR object; {"count":0} when no QR came yet.
type evolutionQR struct {
	PairingCode *string `json:"pairingCode"`
	Code        string  `json:"code"`
	Base64      string  `json:"base64"`
	Count       int     `json:"count"`
}

func (q evolutionQR) issued() bool { return q.Code != "" || q.Base64 != "" }

// evolutionConnect is connect's answer: a QR object, or the instance's
// state when it is open.
type evolutionConnect struct {
	evolutionQR
	Instance *struct {
		State string `json:"state"`
	} `json:"instance"`
}

func (e *Evolution) connect(ctx context.Context, op, name string, q url.Values) (evolutionConnect, error) {
	if err := checkSession(op, name); err != nil {
		return evolutionConnect{}, err
	}
	r, err := e.do200(ctx, call{op: op, method: http.MethodGet, path: instancePath("/instance/connect", name),
		query: q, retry: true, sessionPath: true})
	if err != nil {
		return evolutionConnect{}, err
	}
	var c evolutionConnect
	err = decode(op, r, &c)
	return c, err
}

// StartSession makes the instance connect (a stopped instance opens its
// socket and issues QR codes); starting a started instance is a no-op.
func (e *Evolution) StartSession(ctx context.Context, name string) error {
	_, err := e.connect(ctx, "start instance", name, nil)
	return err
}

// RestartSession reconnects with the stored credentials; an instance that
// is not connected is started instead (Evolution refuses to restart it).
func (e *Evolution) RestartSession(ctx context.Context, name string) error {
	const op = "restart instance"
	if err := checkSession(op, name); err != nil {
		return err
	}
	_, err := e.do200(ctx, call{op: op, method: http.MethodPost, path: instancePath("/instance/restart", name),
		retry: true, sessionPath: true})
	if errors.Is(err, ErrWrongStatus) {
		return e.StartSession(ctx, name)
	}
	return err
}

// Logout unlinks the phone; the instance stays and a connect gives a new
// QR code. Logging out an instance that is not connected is a no-op.
func (e *Evolution) Logout(ctx context.Context, name string) error {
	const op = "logout"
	if err := checkSession(op, name); err != nil {
		return err
	}
	_, err := e.do(ctx, call{op: op, method: http.MethodDelete, path: instancePath("/instance/logout", name),
		retry: true, sessionPath: true})
	if errors.Is(err, ErrWrongStatus) {
		return nil
	}
	return err
}

// DeleteSession logs out and removes the instance and its data.
func (e *Evolution) DeleteSession(ctx context.Context, name string) error {
	const op = "delete instance"
	if err := checkSession(op, name); err != nil {
		return err
	}
	_, err := e.do(ctx, call{op: op, method: http.MethodDelete, path: instancePath("/instance/delete", name),
		retry: true, sessionPath: true})
	return err
}

// evolutionStatus maps Evolution's state (open, connecting, close, refused)
// to the normalised status: connecting is ScanQR once a QR code was issued,
// and a close's reason tells logged out (401) and failed (banned: 402, 403,
// 406) from stopped.
func evolutionStatus(state string, qrIssued bool, reason int) string {
	switch state {
	case "open":
		return StatusWorking
	case "connecting":
		if qrIssued {
			return StatusScanQR
		}
		return StatusStarting
	case "refused":
		return StatusFailed
	case "close", "closed":
		switch reason {
		case 401:
			return StatusLoggedOut
		case 402, 403, 406:
			return StatusFailed
		}
	}
	return StatusStopped
}

// evolutionInstance is a row of fetchInstances.
type evolutionInstance struct {
	Name             string          `json:"name"`
	ConnectionStatus string          `json:"connectionStatus"`
	OwnerJid         string          `json:"ownerJid"`
	ProfileName      string          `json:"profileName"`
	DisconnectCode   json.RawMessage `json:"disconnectionReasonCode"`
}

// Session returns the instance's status and, once connected, its account.
func (e *Evolution) Session(ctx context.Context, name string) (SessionInfo, error) {
	const op = "get instance"
	if err := checkSession(op, name); err != nil {
		return SessionInfo{}, err
	}
	r, err := e.do(ctx, call{op: op, method: http.MethodGet, path: instancePath("/instance/connectionState", name),
		retry: true, sessionPath: true})
	if err != nil {
		return SessionInfo{}, err
	}
	var st struct {
		Instance struct {
			State string `json:"state"`
		} `json:"instance"`
	}
	if err := decode(op, r, &st); err != nil {
		return SessionInfo{}, err
	}
	info := SessionInfo{Name: name}
	switch st.Instance.State {
	case "connecting":
		// No "scan QR" state: connecting answers the current QR code, if
		// one was issued, without side effects.
		c, err := e.connect(ctx, op, name, nil)
		info.Status = evolutionStatus("connecting", err == nil && c.issued(), 0)
		return info, nil
	case "open", "close":
		row, err := e.instanceRow(ctx, op, name)
		if err != nil {
			return SessionInfo{}, err
		}
		reason, _ := strconv.Atoi(strings.Trim(string(row.DisconnectCode), `"`))
		info.Status = evolutionStatus(st.Instance.State, false, reason)
		if info.Status == StatusWorking && row.OwnerJid != "" {
			info.Me = evolutionAccount(row.OwnerJid, row.ProfileName)
		}
		return info, nil
	}
	info.Status = evolutionStatus(st.Instance.State, false, 0)
	return info, nil
}

// instanceRow reads the instance's stored row (owner, disconnection code).
func (e *Evolution) instanceRow(ctx context.Context, op, name string) (evolutionInstance, error) {
	r, err := e.do(ctx, call{op: op, method: http.MethodGet, path: "/instance/fetchInstances",
		query: url.Values{"instanceName": {name}}, retry: true, sessionPath: true})
	if err != nil {
		return evolutionInstance{}, err
	}
	var rows []evolutionInstance
	if err := decode(op, r, &rows); err != nil {
		return evolutionInstance{}, err
	}
	for _, row := range rows {
		if row.Name == name || len(rows) == 1 {
			return row, nil
		}
	}
	return evolutionInstance{}, e.fail(op, ErrSessionNotFound, r.status, "no instance "+name, nil)
}

// evolutionAccount is the connected account of an owner JID
// (5511…@s.whatsapp.net).
func evolutionAccount(jid, pushName string) *Account {
	chat := evolutionChatID(jid)
	p := PartyOf(chat)
	return &Account{ID: chat, LID: p.LID, Phone: p.Phone, PushName: pushName}
}

// QR returns the current pairing QR code: the PNG of the data URL Evolution
// answers and the raw value. ErrWrongStatus when the instance is connected
// or no code was issued yet ({"count":0}: try again shortly).
func (e *Evolution) QR(ctx context.Context, name string) (QR, error) {
	const op = "get QR code"
	c, err := e.connect(ctx, op, name, nil)
	if err != nil {
		return QR{}, err
	}
	if c.Instance != nil && c.Instance.State == "open" {
		return QR{}, e.fail(op, ErrWrongStatus, http.StatusOK, "the instance is connected", nil)
	}
	if !c.issued() {
		return QR{}, e.fail(op, ErrWrongStatus, http.StatusOK, "no QR code issued yet", nil)
	}
	png, err := dataURLBytes(c.Base64)
	if err != nil {
		return QR{}, e.fail(op, ErrUnavailable, http.StatusOK, "QR image is not a base64 data URL", nil)
	}
	return QR{PNG: png, Value: c.Code}, nil
}

// dataURLBytes decodes a data:…;base64, URL (or bare base64).
func dataURLBytes(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	if _, data, ok := strings.Cut(s, ";base64,"); ok {
		s = data
	}
	return base64.StdEncoding.DecodeString(s)
}

// RequestCode asks for a pairing code for a phone. Evolution makes one only
// when connecting from a stopped instance, so an instance showing QR codes
// is logged out first. Pairing codes are best-effort: QR codes always work.
func (e *Evolution) RequestCode(ctx context.Context, name, phone string) (string, error) {
	const op = "request pairing code"
	phone = strings.TrimPrefix(strings.TrimSpace(phone), "+")
	if !digits(phone) {
		return "", &GatewayError{Provider: ProviderEvolution, Op: op, Message: "phone must be digits with the country code", kind: ErrBadRequest}
	}
	info, err := e.Session(ctx, name)
	if err != nil {
		return "", err
	}
	switch info.Status {
	case StatusWorking:
		return "", e.fail(op, ErrWrongStatus, http.StatusOK, "the instance is connected", nil)
	case StatusScanQR, StatusStarting:
		if err := e.Logout(ctx, name); err != nil {
			return "", err
		}
	}
	c, err := e.connect(ctx, op, name, url.Values{"number": {phone}})
	if err != nil {
		return "", err
	}
	if c.PairingCode == nil || *c.PairingCode == "" {
		return "", e.fail(op, ErrUnavailable, http.StatusOK, "no pairing code in the answer", nil)
	}
	return *c.PairingCode, nil
}

// HonoursMessageID is false: Evolution 2.3 chooses every message's id.
func (e *Evolution) HonoursMessageID(string) bool { return false }

// evolutionRecord is a stored message as sends and findMessages answer it.
type evolutionRecord struct {
	Key struct {
		RemoteJid string `json:"remoteJid"`
		FromMe    bool   `json:"fromMe"`
		ID        string `json:"id"`
	} `json:"key"`
	Message          map[string]json.RawMessage `json:"message"`
	MessageType      string                     `json:"messageType"`
	MessageTimestamp json.RawMessage            `json:"messageTimestamp"`
	Status           json.RawMessage            `json:"status"`
}

// SentSince lists the chat's messages sent by the account at or after since
// (POST /chat/findMessages, newest first).
func (e *Evolution) SentSince(ctx context.Context, session, chatID string, since time.Time, limit int) ([]ChatMessage, error) {
	const op = "list chat messages"
	if err := checkSession(op, session); err != nil {
		return nil, err
	}
	if err := required(op, "chat id", chatID); err != nil {
		return nil, err
	}
	body := map[string]any{"where": map[string]any{"key": map[string]any{"remoteJid": evolutionJID(chatID), "fromMe": true}},
		"page": 1, "offset": max(limit, 1)}
	r, err := e.do(ctx, call{op: op, method: http.MethodPost, path: instancePath("/chat/findMessages", session),
		body: body, retry: true, sessionPath: true})
	if err != nil {
		return nil, err
	}
	records, err := findMessagesRecords(op, r)
	if err != nil {
		return nil, err
	}
	out := make([]ChatMessage, 0, len(records))
	for _, m := range records {
		ts := evolutionTime(m.MessageTimestamp)
		if m.Key.ID == "" || !m.Key.FromMe || ts.Before(since.Truncate(time.Second)) {
			continue
		}
		text, media := evolutionText(m.Message)
		out = append(out, ChatMessage{ID: m.Key.ID, Key: m.Key.ID, Body: text, HasMedia: media,
			Ack: evolutionAck(statusText(m.Status)), Timestamp: ts})
	}
	return out, nil
}

var _ InboxLister = (*Evolution)(nil)

// receivedPage is how many received messages one findMessages call lists,
// and receivedPages how many pages ReceivedSince reads at most.
const (
	receivedPage  = 50
	receivedPages = 10
)

// ReceivedSince lists the messages the account received at or after since
// (POST /chat/findMessages with key.fromMe false, newest first, a page at
// a time), each as the messages.upsert webhook that would have carried it.
func (e *Evolution) ReceivedSince(ctx context.Context, session string, since time.Time, limit int) ([]ListedEvent, error) {
	const op = "list received messages"
	if err := checkSession(op, session); err != nil {
		return nil, err
	}
	var out []ListedEvent
	for page := 1; page <= receivedPages && len(out) < limit; page++ {
		body := map[string]any{"where": map[string]any{"key": map[string]any{"fromMe": false}}, "page": page, "offset": receivedPage}
		r, err := e.do(ctx, call{op: op, method: http.MethodPost, path: instancePath("/chat/findMessages", session),
			body: body, retry: true, sessionPath: true})
		if err != nil {
			return nil, err
		}
		var paged struct {
			Messages struct {
				Records []json.RawMessage `json:"records"`
			} `json:"messages"`
		}
		if err := decode(op, r, &paged); err != nil {
			return nil, err
		}
		for _, raw := range paged.Messages.Records {
			ev, ok, older := receivedEvent(session, raw, since)
			if older {
				return out, nil
			}
			if ok && len(out) < limit {
				out = append(out, ev)
			}
		}
		if len(paged.Messages.Records) < receivedPage {
			break
		}
	}
	return out, nil
}

// receivedEvent rebuilds the messages.upsert webhook of a stored received
// message; ok is false for one that is not a message event (a reaction)
// or has no time, older when it came before since (the list, newest first,
// ends there).
func receivedEvent(session string, record json.RawMessage, since time.Time) (ev ListedEvent, ok, older bool) {
	var m evolutionRecord
	if json.Unmarshal(record, &m) != nil || m.Key.FromMe {
		return ListedEvent{}, false, false
	}
	at := evolutionTime(m.MessageTimestamp)
	if at.IsZero() {
		return ListedEvent{}, false, false // undated: neither listed nor the end of the list
	}
	if at.Before(since.Truncate(time.Second)) {
		return ListedEvent{}, false, true
	}
	payload, err := json.Marshal(map[string]any{"event": "messages.upsert", "instance": session, "data": record,
		"date_time": at.UTC().Format(time.RFC3339Nano), "sender": ""})
	if err != nil {
		return ListedEvent{}, false, false
	}
	parsed, err := ParseEvolutionEvent(payload)
	if err != nil || parsed.Kind == EventIgnored {
		return ListedEvent{}, false, false
	}
	return ListedEvent{Event: parsed, Payload: payload}, true, false
}

// findMessagesRecords reads findMessages' {"messages":{"records":[…]}}, or
// a bare list as older versions answer.
func findMessagesRecords(op string, r response) ([]evolutionRecord, error) {
	var paged struct {
		Messages struct {
			Records []evolutionRecord `json:"records"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(r.body, &paged); err == nil {
		return paged.Messages.Records, nil
	}
	var list []evolutionRecord
	if err := decode(op, r, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// statusText reads a status that is a string (or, in old rows, a number).
func statusText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// send posts one message and reads the stored message it answers.
func (e *Evolution) send(ctx context.Context, op, route, session string, body map[string]any) (Sent, error) {
	r, err := e.do(ctx, call{op: op, method: http.MethodPost, path: instancePath(route, session), body: body, sessionPath: true})
	if notOnWhatsApp(err) {
		return Sent{}, fmt.Errorf("%w: %w", ErrNotOnWhatsApp, err)
	}
	if err != nil {
		return Sent{}, err
	}
	var m evolutionRecord
	if err := decode(op, r, &m); err != nil {
		return Sent{}, err
	}
	if m.Key.ID == "" {
		return Sent{}, e.fail(op, ErrUnavailable, r.status, "no message id in the answer", nil)
	}
	ts := evolutionTime(m.MessageTimestamp)
	if ts.IsZero() {
		ts = time.Now()
	}
	return Sent{ID: m.Key.ID, Key: m.Key.ID, Timestamp: ts}, nil
}

// sendBody is the fields every send has: the number (digits, or a JID for
// linked ids and groups) and the quoted message.
func sendBody(chatID, replyTo string) map[string]any {
	b := map[string]any{"number": evolutionNumber(chatID)}
	if replyTo != "" {
		b["quoted"] = map[string]any{"key": map[string]string{"id": replyTo}}
	}
	return b
}

// SendText sends a text message, once. ErrNotOnWhatsApp when the number
// has no WhatsApp.
func (e *Evolution) SendText(ctx context.Context, m Text) (Sent, error) {
	const op = "send text"
	if err := checkSession(op, m.Session); err != nil {
		return Sent{}, err
	}
	if err := errors.Join(required(op, "chat id", m.ChatID), required(op, "text", m.Body)); err != nil {
		return Sent{}, err
	}
	body := sendBody(m.ChatID, m.ReplyTo)
	body["text"] = m.Body
	body["linkPreview"] = false
	return e.send(ctx, op, "/message/sendText", m.Session, body)
}

// SendPoll sends a poll, once; votes name the answer's id.
func (e *Evolution) SendPoll(ctx context.Context, p Poll) (Sent, error) {
	const op = "send poll"
	if err := checkSession(op, p.Session); err != nil {
		return Sent{}, err
	}
	if err := errors.Join(required(op, "chat id", p.ChatID), required(op, "poll name", p.Name), pollOptions(op, p.Options)); err != nil {
		return Sent{}, err
	}
	body := sendBody(p.ChatID, p.ReplyTo)
	// selectableCount 1 is one answer; 0 is any number, in WhatsApp's terms.
	selectable := 1
	if p.MultipleAnswers {
		selectable = 0
	}
	body["name"], body["values"], body["selectableCount"] = p.Name, p.Options, selectable
	return e.send(ctx, op, "/message/sendPoll", p.Session, body)
}

// SendImage sends an image as raw base64 (Evolution refuses data URLs),
// once.
func (e *Evolution) SendImage(ctx context.Context, m Image) (Sent, error) {
	const op = "send image"
	if err := checkSession(op, m.Session); err != nil {
		return Sent{}, err
	}
	if err := errors.Join(required(op, "chat id", m.ChatID), required(op, "mime type", m.Mime), imageData(op, m)); err != nil {
		return Sent{}, err
	}
	body := sendBody(m.ChatID, m.ReplyTo)
	body["mediatype"], body["mimetype"] = "image", m.Mime
	body["media"] = base64.StdEncoding.EncodeToString(m.Data)
	body["fileName"] = m.FileName
	if m.FileName == "" {
		body["fileName"] = "image"
	}
	if m.Caption != "" {
		body["caption"] = m.Caption
	}
	return e.send(ctx, op, "/message/sendMedia", m.Session, body)
}

// SendSeen marks incoming messages of a chat as read. Evolution 2.3 drops
// keys of linked-id chats silently.
func (e *Evolution) SendSeen(ctx context.Context, session, chatID string, messageIDs ...string) error {
	const op = "mark read"
	if err := checkSession(op, session); err != nil {
		return err
	}
	if err := required(op, "chat id", chatID); err != nil {
		return err
	}
	if len(messageIDs) == 0 {
		return nil
	}
	keys := make([]map[string]any, 0, len(messageIDs))
	for _, id := range messageIDs {
		keys = append(keys, map[string]any{"remoteJid": evolutionJID(chatID), "fromMe": false, "id": id})
	}
	_, err := e.do(ctx, call{op: op, method: http.MethodPost, path: instancePath("/chat/markMessageAsRead", session),
		body: map[string]any{"readMessages": keys}, retry: true, sessionPath: true})
	return err
}

// CheckNumber tells whether a phone number is on WhatsApp.
func (e *Evolution) CheckNumber(ctx context.Context, session, phone string) (NumberStatus, error) {
	res, err := e.CheckNumbers(ctx, session, []string{phone})
	if err != nil {
		return NumberStatus{}, err
	}
	return res[0], nil
}

// CheckNumbers checks phone numbers (E.164 or digits) in batches of
// CheckBatch with CheckPause between them: bulk checks are known to get a
// number restricted. The results are in the order of phones; each is
// matched by the number Evolution echoes, which may be rewritten (Brazil's
// ninth digit), so a result is also matched after normalising.
func (e *Evolution) CheckNumbers(ctx context.Context, session string, phones []string) ([]NumberStatus, error) {
	const op = "check numbers"
	if err := checkSession(op, session); err != nil {
		return nil, err
	}
	out := make([]NumberStatus, len(phones))
	for start := 0; start < len(phones); start += e.checkBatch {
		if start > 0 {
			if err := sleep(ctx, e.checkPause); err != nil {
				return nil, err
			}
		}
		batch := phones[start:min(start+e.checkBatch, len(phones))]
		if err := e.checkBatchInto(ctx, op, session, batch, out[start:]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *Evolution) checkBatchInto(ctx context.Context, op, session string, phones []string, out []NumberStatus) error {
	numbers := make([]string, len(phones))
	for i, p := range phones {
		numbers[i] = strings.TrimPrefix(strings.TrimSpace(p), "+")
		if !digits(numbers[i]) {
			return &GatewayError{Provider: ProviderEvolution, Op: op, Message: "phone must be digits with the country code", kind: ErrBadRequest}
		}
	}
	r, err := e.do(ctx, call{op: op, method: http.MethodPost, path: instancePath("/chat/whatsappNumbers", session),
		body: map[string]any{"numbers": numbers}, retry: true, sessionPath: true})
	if err != nil {
		return err
	}
	var results []struct {
		Jid    string `json:"jid"`
		Exists bool   `json:"exists"`
		Number string `json:"number"`
	}
	if err := decode(op, r, &results); err != nil {
		return err
	}
	for _, res := range results {
		for i, n := range numbers {
			if res.Number == n || normalBRMobile(res.Number) == normalBRMobile(n) {
				out[i] = NumberStatus{Exists: res.Exists}
				if res.Exists {
					out[i].ChatID = evolutionChatID(res.Jid)
				}
			}
		}
	}
	return nil
}

// evolutionNumber is what Evolution's "number" takes for a chat: digits for
// a phone chat (…@c.us or …@s.whatsapp.net), the JID itself for linked ids
// and groups.
func evolutionNumber(chatID string) string {
	user, server, ok := strings.Cut(chatID, "@")
	if !ok {
		return strings.TrimPrefix(chatID, "+")
	}
	if server == "c.us" || server == "s.whatsapp.net" {
		return user
	}
	return chatID
}

// evolutionJID is Evolution's JID of a chat: …@c.us becomes
// …@s.whatsapp.net, in the form Evolution stores (Brazil's mobiles without
// the ninth digit, as WhatsApp keeps them).
func evolutionJID(chatID string) string {
	user, server, ok := strings.Cut(chatID, "@")
	if !ok {
		return brWithoutNinth(strings.TrimPrefix(chatID, "+")) + "@s.whatsapp.net"
	}
	if server == "c.us" || server == "s.whatsapp.net" {
		return brWithoutNinth(user) + "@s.whatsapp.net"
	}
	return chatID
}

// evolutionChatID is aibud's chat id of an Evolution JID: phone chats as
// …@c.us with the number in its E.164 form (Brazil's mobiles with the
// ninth digit back); linked ids and groups unchanged.
func evolutionChatID(jid string) string {
	user, server, ok := strings.Cut(jid, "@")
	if !ok || (server != "s.whatsapp.net" && server != "c.us") {
		return jid
	}
	user, _, _ = strings.Cut(user, ":") // a device suffix
	return normalBRMobile(user) + "@c.us"
}

// brMobile is a Brazilian mobile number as WhatsApp may keep it: 55, the
// area code, and 8 digits starting 6–9, without the ninth digit.
var brMobile = regexp.MustCompile(`^55([1-9][0-9])([6-9][0-9]{7})$`)

// brMobileNinth is a Brazilian mobile with its ninth digit.
var brMobileNinth = regexp.MustCompile(`^55([1-9][0-9])9([6-9][0-9]{7})$`)

// normalBRMobile puts the ninth digit back into a Brazilian mobile number
// written without it; other numbers are unchanged.
func normalBRMobile(digits string) string {
	if m := brMobile.FindStringSubmatch(digits); m != nil {
		return "55" + m[1] + "9" + m[2]
	}
	return digits
}

// brWithoutNinth writes a Brazilian mobile as Evolution does for area codes
// 31 and above: without the ninth digit.
func brWithoutNinth(digits string) string {
	if m := brMobileNinth.FindStringSubmatch(digits); m != nil {
		if ddd, _ := strconv.Atoi(m[1]); ddd >= 31 && m[2][0] >= '7' {
			return "55" + m[1] + m[2]
		}
	}
	return digits
}

// evolutionTime reads messageTimestamp: unix seconds as a number, a
// string, or a Long {low, high}.
func evolutionTime(raw json.RawMessage) time.Time {
	var f float64
	if json.Unmarshal(raw, &f) == nil && f > 0 {
		return unixTime(f)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if v, err := strconv.ParseFloat(s, 64); err == nil && v > 0 {
			return unixTime(v)
		}
	}
	var long struct {
		Low  int64 `json:"low"`
		High int64 `json:"high"`
	}
	if json.Unmarshal(raw, &long) == nil && (long.Low != 0 || long.High != 0) {
		return unixTime(float64(long.High<<32 | long.Low&0xffffffff))
	}
	return time.Time{}
}

// evolutionAck maps a message status to the ack level.
func evolutionAck(status string) int {
	switch strings.ToUpper(status) {
	case "ERROR":
		return AckError
	case "SERVER_ACK":
		return AckServer
	case "DELIVERY_ACK":
		return AckDevice
	case "READ":
		return AckRead
	case "PLAYED":
		return AckPlayed
	}
	return AckPending
}

var _ MediaFetcher = (*Evolution)(nil)

// FetchMedia downloads a received message's file through
// getBase64FromMediaMessage (Evolution keeps it with the message when
// DATABASE_SAVE_DATA_NEW_MESSAGE is on). The answer is bounded by the
// base64 size of limit.
func (e *Evolution) FetchMedia(ctx context.Context, session string, ref MediaRef, limit int64) (File, error) {
	const op = "download media"
	if err := checkSession(op, session); err != nil {
		return File{}, err
	}
	if err := required(op, "message id", ref.MessageID); err != nil {
		return File{}, err
	}
	r, err := e.do(ctx, call{op: op, method: http.MethodPost, path: instancePath("/chat/getBase64FromMediaMessage", session),
		body:  map[string]any{"message": map[string]any{"key": map[string]string{"id": ref.MessageID}}, "convertToMp4": false},
		retry: true, sessionPath: true, limit: limit/3*4 + 8<<10})
	if errors.Is(err, ErrTooLarge) {
		return File{}, err
	}
	var ge *GatewayError
	if errors.As(err, &ge) && (ge.Status == http.StatusBadRequest || ge.Status == http.StatusNotFound) && !errors.Is(err, ErrUnavailable) {
		return File{}, &GatewayError{Provider: ProviderEvolution, Op: op, Status: ge.Status, Message: ge.Message, kind: ErrMediaGone}
	}
	if err != nil {
		return File{}, err
	}
	var f struct {
		FileName string `json:"fileName"`
		Mimetype string `json:"mimetype"`
		Base64   string `json:"base64"`
	}
	if err := decode(op, r, &f); err != nil {
		return File{}, err
	}
	data, err := base64.StdEncoding.DecodeString(f.Base64)
	if err != nil || len(data) == 0 {
		return File{}, e.fail(op, ErrMediaGone, r.status, "no file in the answer", nil)
	}
	if int64(len(data)) > limit {
		return File{}, e.fail(op, ErrTooLarge, r.status, fmt.Sprintf("%d bytes, over %d", len(data), limit), nil)
	}
	return File{Mime: f.Mimetype, Name: f.FileName, Data: data}, nil
}
