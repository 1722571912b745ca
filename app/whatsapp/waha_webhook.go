package whatsapp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// WAHAWebhooks verifies and parses the webhooks of WAHA sessions.
type WAHAWebhooks struct {
	secret []byte
}

var _ WebhookParser = (*WAHAWebhooks)(nil)

// NewWAHAWebhooks returns a parser checking signatures with secret, the
// HMAC key the sessions were created with (WAHA_WEBHOOK_SECRET). With an
// empty secret every request is refused.
func NewWAHAWebhooks(secret string) *WAHAWebhooks {
	return &WAHAWebhooks{secret: []byte(secret)}
}

// ParseWebhook checks X-Webhook-Hmac, the lowercase hex HMAC-SHA512 of the
// exact body, and parses the event (see ParseWAHAEvent).
func (p *WAHAWebhooks) ParseWebhook(h http.Header, body []byte) (Event, error) {
	if err := p.verify(h, body); err != nil {
		return Event{}, err
	}
	return ParseWAHAEvent(body)
}

func (p *WAHAWebhooks) verify(h http.Header, body []byte) error {
	if len(p.secret) == 0 {
		return fmt.Errorf("waha webhook: no secret configured: %w", ErrBadSignature)
	}
	if alg := h.Get("X-Webhook-Hmac-Algorithm"); alg != "" && !strings.EqualFold(alg, "sha512") {
		return fmt.Errorf("waha webhook: algorithm %.20q: %w", alg, ErrBadSignature)
	}
	sig := h.Get("X-Webhook-Hmac")
	if sig == "" {
		return fmt.Errorf("waha webhook: unsigned: %w", ErrBadSignature)
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return fmt.Errorf("waha webhook: signature is not hex: %w", ErrBadSignature)
	}
	mac := hmac.New(sha512.New, p.secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("waha webhook: wrong signature: %w", ErrBadSignature)
	}
	return nil
}

// wahaEnvelope is what every WAHA event carries.
type wahaEnvelope struct {
	ID        string                     `json:"id"`
	Timestamp json.Number                `json:"timestamp"` // ms
	Event     string                     `json:"event"`
	Session   string                     `json:"session"`
	Metadata  map[string]json.RawMessage `json:"metadata"`
	Me        *wahaMeID                  `json:"me"`
	Payload   json.RawMessage            `json:"payload"`
}

// wahaMessage is WAHA's WAMessage as events carry it. Nullable fields
// (participant, media, replyTo) read as empty.
type wahaMessage struct {
	ID          json.RawMessage `json:"id"`
	Timestamp   json.Number     `json:"timestamp"`
	From        string          `json:"from"`
	To          string          `json:"to"`
	FromMe      bool            `json:"fromMe"`
	Source      string          `json:"source"`
	Participant string          `json:"participant"`
	Author      string          `json:"author"`
	Body        string          `json:"body"`
	HasMedia    bool            `json:"hasMedia"`
	Media       *struct {
		URL      string `json:"url"`
		Mimetype string `json:"mimetype"`
		Filename string `json:"filename"`
	} `json:"media"`
	MediaURL string          `json:"mediaUrl"`
	Ack      json.Number     `json:"ack"`
	AckName  string          `json:"ackName"`
	Location json.RawMessage `json:"location"`
	VCards   []string        `json:"vCards"`
	ReplyTo  *struct {
		ID string `json:"id"`
	} `json:"replyTo"`
	Data json.RawMessage `json:"_data"`
}

// wahaPollVote is the payload of poll.vote and poll.vote.failed.
type wahaPollVote struct {
	Vote struct {
		ID              string      `json:"id"`
		SelectedOptions []string    `json:"selectedOptions"`
		Timestamp       json.Number `json:"timestamp"`
		To              string      `json:"to"`
		From            string      `json:"from"`
		FromMe          bool        `json:"fromMe"`
		Participant     string      `json:"participant"`
	} `json:"vote"`
	Poll struct {
		ID     string `json:"id"`
		To     string `json:"to"`
		From   string `json:"from"`
		FromMe bool   `json:"fromMe"`
	} `json:"poll"`
}

// ParseWAHAEvent parses a WAHA webhook body without checking its signature:
// use it for bodies checked when they arrived (e.g. stored events), and
// ParseWebhook for requests.
//
// message and message.any both give EventMessage. message.any repeats every
// incoming message of message (same message id) and adds the ones sent from
// the phone and through the API; callers store messages idempotently by
// message id, so both may be applied.
func ParseWAHAEvent(body []byte) (Event, error) {
	var env wahaEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, fmt.Errorf("waha webhook: %v: %w", err, ErrMalformed)
	}
	if env.ID == "" || env.Event == "" {
		return Event{}, fmt.Errorf("waha webhook: no event id or type: %w", ErrMalformed)
	}
	e := Event{
		ID:       env.ID,
		Type:     env.Event,
		Session:  env.Session,
		Metadata: metadata(env.Metadata),
		Me:       env.Me.account(),
	}
	if ms, err := env.Timestamp.Float64(); err == nil && ms > 0 {
		e.Timestamp = time.UnixMilli(int64(ms)).UTC()
	}
	kind, ok := wahaKinds[env.Event]
	if !ok {
		e.Kind = EventIgnored
		return e, nil
	}
	e.Kind = kind
	if p := bytes.TrimSpace(env.Payload); len(p) == 0 || bytes.Equal(p, []byte("null")) {
		return Event{}, fmt.Errorf("waha webhook %s: no payload: %w", env.Event, ErrMalformed)
	}
	var err error
	switch kind {
	case EventMessage:
		e.Message, err = parseMessage(env.Payload)
	case EventAck:
		e.Ack, err = parseAck(env.Payload)
	case EventSessionStatus:
		var s struct {
			Status string `json:"status"`
		}
		if err = json.Unmarshal(env.Payload, &s); err == nil && s.Status == "" {
			err = fmt.Errorf("no status")
		}
		e.Status = &StatusChange{Status: wahaStatus(s.Status)}
	case EventPollVote, EventPollVoteFailed:
		e.Vote, err = parseVote(env.Payload, e.Me, kind == EventPollVoteFailed)
	}
	if err != nil {
		return Event{}, fmt.Errorf("waha webhook %s: %v: %w", env.Event, err, ErrMalformed)
	}
	e.clean()
	return e, nil
}

var wahaKinds = map[string]EventKind{
	"message":          EventMessage,
	"message.any":      EventMessage,
	"message.ack":      EventAck,
	"session.status":   EventSessionStatus,
	"poll.vote":        EventPollVote,
	"poll.vote.failed": EventPollVoteFailed,
}

// metadata reads the session metadata; values are strings, anything else is
// kept as its JSON text.
func metadata(m map[string]json.RawMessage) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, raw := range m {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		out[k] = s
	}
	return out
}

func parseMessage(payload json.RawMessage) (*Message, error) {
	var p wahaMessage
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	m := &Message{
		ID:       serializedID(p.ID),
		FromMe:   p.FromMe,
		Body:     p.Body,
		HasMedia: p.HasMedia,
		MediaURL: p.MediaURL,
	}
	if m.ID == "" {
		return nil, fmt.Errorf("message has no id")
	}
	m.Key = WAHAMessageKey(m.ID)
	switch p.Source {
	case SourceAPI, SourcePhone:
		m.Source = p.Source
	}
	m.ChatID = p.From
	if p.FromMe {
		m.ChatID = p.To
	}
	m.ChatKind = chatKind(m.ChatID)
	sender := p.From
	if m.ChatKind != ChatDirect {
		sender = firstNonEmpty(p.Participant, p.Author, p.From)
	}
	m.Sender = PartyOf(sender)
	m.Sender.PushName = pushName(p.Data)
	if p.Media != nil {
		m.MediaURL = firstNonEmpty(p.Media.URL, p.MediaURL)
		m.MediaType = p.Media.Mimetype
		m.MediaName = p.Media.Filename
	}
	if p.ReplyTo != nil {
		m.ReplyTo = p.ReplyTo.ID
	}
	if f, err := p.Timestamp.Float64(); err == nil && f > 0 {
		m.Timestamp = unixTime(f)
	}
	if n, err := p.Ack.Float64(); err == nil {
		m.Ack = int(n)
	}
	m.Type = messageType(p)
	return m, nil
}

func parseAck(payload json.RawMessage) (*Ack, error) {
	var p wahaMessage
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	a := &Ack{MessageID: serializedID(p.ID), ChatID: p.From, Name: p.AckName}
	if a.MessageID == "" {
		return nil, fmt.Errorf("ack has no message id")
	}
	a.Key = WAHAMessageKey(a.MessageID)
	if p.FromMe {
		a.ChatID = p.To
	}
	n, err := p.Ack.Float64()
	if err != nil {
		return nil, fmt.Errorf("ack level %q", p.Ack)
	}
	a.Level = int(n)
	return a, nil
}

// parseVote reads poll.vote and poll.vote.failed. An empty or missing
// selectedOptions is a withdrawn vote (or, when failed, an unknown one).
func parseVote(payload json.RawMessage, me *Account, failed bool) (*PollVote, error) {
	var p wahaPollVote
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, err
	}
	if p.Poll.ID == "" {
		return nil, fmt.Errorf("vote has no poll id")
	}
	v := &PollVote{PollID: p.Poll.ID, PollKey: WAHAMessageKey(p.Poll.ID), VoteID: p.Vote.ID,
		Selected: p.Vote.SelectedOptions, Failed: failed}
	if v.Selected == nil || failed {
		v.Selected = []string{}
	}
	// The chat is the vote's sender (a person or a group); "me" stands for
	// our own number.
	v.ChatID = p.Vote.From
	if p.Vote.FromMe || v.ChatID == "me" {
		v.ChatID = p.Vote.To
	}
	if v.ChatID == "me" || v.ChatID == "" {
		v.ChatID = firstNonEmpty(notMe(p.Poll.To), notMe(p.Poll.From))
	}
	voter := firstNonEmpty(p.Vote.Participant, p.Vote.From)
	if voter == "me" && me != nil {
		voter = me.ID
	}
	v.Voter = PartyOf(notMe(voter))
	if f, err := p.Vote.Timestamp.Float64(); err == nil && f > 0 {
		v.Timestamp = unixTime(f)
	}
	return v, nil
}

func notMe(id string) string {
	if id == "me" {
		return ""
	}
	return id
}

// chatKind tells the kind of chat from the id's server part.
func chatKind(id string) string {
	if id == "status@broadcast" {
		return ChatStatus
	}
	_, server, _ := strings.Cut(id, "@")
	switch server {
	case "g.us":
		return ChatGroup
	case "newsletter":
		return ChatChannel
	}
	return ChatDirect
}

// PartyOf reads a person from a chat id: …@c.us and …@s.whatsapp.net carry
// the phone number (a device suffix ":12" is dropped), …@lid a linked id.
func PartyOf(id string) Party {
	if id == "" {
		return Party{}
	}
	p := Party{ChatID: id}
	user, server, _ := strings.Cut(id, "@")
	user, _, _ = strings.Cut(user, ":")
	switch server {
	case "c.us", "s.whatsapp.net":
		if digits(user) {
			p.Phone = "+" + user
		}
	case "lid":
		p.LID = user + "@lid"
	}
	return p
}

// unixTime reads a timestamp in seconds (fractions allowed); values too
// large for seconds are taken as milliseconds, as some engines send.
func unixTime(f float64) time.Time {
	if f > 1e12 {
		f /= 1000
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC()
}

// wahaData is what aibud reads of a message's raw _data, which differs by
// engine: WEBJS has type and notifyName, NOWEB pushName and message, GOWS
// Info.PushName and Message.
type wahaData struct {
	Type       string                     `json:"type"`
	NotifyName string                     `json:"notifyName"`
	PushName   string                     `json:"pushName"`
	Message    map[string]json.RawMessage `json:"message"`
	Info       struct {
		PushName string `json:"PushName"`
	} `json:"Info"`
	GOWSMessage map[string]json.RawMessage `json:"Message"`
}

func readData(raw json.RawMessage) wahaData {
	var d wahaData
	_ = json.Unmarshal(raw, &d) // _data is best effort by WAHA's own words
	return d
}

func pushName(raw json.RawMessage) string {
	d := readData(raw)
	return firstNonEmpty(d.NotifyName, d.PushName, d.Info.PushName)
}

// webjsTypes maps WEBJS message types to ours.
var webjsTypes = map[string]string{
	"chat": "text", "image": "image", "video": "video", "audio": "audio", "ptt": "audio",
	"document": "document", "sticker": "sticker", "location": "location",
	"vcard": "contact", "multi_vcard": "contact", "poll_creation": "poll", "reaction": "reaction",
}

// protoTypes maps the WhatsApp protobuf message fields (NOWEB, GOWS) to ours.
var protoTypes = map[string]string{
	"conversation": "text", "extendedTextMessage": "text",
	"imageMessage": "image", "videoMessage": "video", "ptvMessage": "video", "audioMessage": "audio",
	"documentMessage": "document", "documentWithCaptionMessage": "document", "stickerMessage": "sticker",
	"locationMessage": "location", "liveLocationMessage": "location",
	"contactMessage": "contact", "contactsArrayMessage": "contact",
	"pollCreationMessage": "poll", "pollCreationMessageV2": "poll", "pollCreationMessageV3": "poll",
	"reactionMessage": "reaction",
}

// messageType tells what a message is, from the engine's raw data when it
// says, else from the normalised fields.
func messageType(p wahaMessage) string {
	d := readData(p.Data)
	if t, ok := webjsTypes[d.Type]; ok {
		return t
	}
	for _, fields := range []map[string]json.RawMessage{d.Message, d.GOWSMessage} {
		for k := range fields {
			if t, ok := protoTypes[k]; ok && t != "text" {
				return t
			}
		}
	}
	mt := ""
	if p.Media != nil {
		mt = p.Media.Mimetype
	}
	switch {
	case strings.HasPrefix(mt, "image/webp"):
		return "sticker"
	case strings.HasPrefix(mt, "image/"):
		return "image"
	case strings.HasPrefix(mt, "video/"):
		return "video"
	case strings.HasPrefix(mt, "audio/"):
		return "audio"
	case p.HasMedia:
		return "document"
	case len(bytes.TrimSpace(p.Location)) > 0 && !bytes.Equal(bytes.TrimSpace(p.Location), []byte("null")):
		return "location"
	case len(p.VCards) > 0:
		return "contact"
	case p.Body != "":
		return "text"
	}
	return "other"
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
