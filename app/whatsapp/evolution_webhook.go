package whatsapp

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// EvolutionWebhooks authenticates and parses the webhooks of Evolution API
// instances. Evolution neither signs its webhooks nor gives them an id:
// each instance sends its own secret in EvolutionSecretHeader, derived from
// the platform's secret and the instance's name, and the event's id is
// built from its content (see ParseEvolutionEvent).
type EvolutionWebhooks struct {
	secret string
}

var _ WebhookParser = (*EvolutionWebhooks)(nil)

// NewEvolutionWebhooks returns a parser checking the instances' secrets
// derived from secret (EVOLUTION_WEBHOOK_SECRET). With an empty secret
// every request is refused.
func NewEvolutionWebhooks(secret string) *EvolutionWebhooks {
	return &EvolutionWebhooks{secret: secret}
}

// ParseWebhook checks that the request carries the secret of the instance
// its body names (constant-time), and parses the event. A secret of another
// instance, or none, is ErrBadSignature; a body that is not an event is
// ErrMalformed.
func (p *EvolutionWebhooks) ParseWebhook(h http.Header, body []byte) (Event, error) {
	got := h.Get(EvolutionSecretHeader)
	if p.secret == "" || got == "" {
		return Event{}, fmt.Errorf("evolution webhook: no secret: %w", ErrBadSignature)
	}
	var env evolutionEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, fmt.Errorf("evolution webhook: %v: %w", err, ErrMalformed)
	}
	want := EvolutionInstanceSecret(p.secret, env.Instance)
	if env.Instance == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return Event{}, fmt.Errorf("evolution webhook: not the secret of instance %.60q: %w", env.Instance, ErrBadSignature)
	}
	return ParseEvolutionEvent(body)
}

// evolutionEnvelope is what every Evolution event carries.
type evolutionEnvelope struct {
	Event    string          `json:"event"`
	Instance string          `json:"instance"`
	Data     json.RawMessage `json:"data"`
	DateTime string          `json:"date_time"`
	Sender   string          `json:"sender"`
}

// evolutionUpsert is a message of messages.upsert or send.message.
type evolutionUpsert struct {
	Key struct {
		RemoteJid      string `json:"remoteJid"`
		RemoteJidAlt   string `json:"remoteJidAlt"`
		FromMe         bool   `json:"fromMe"`
		ID             string `json:"id"`
		Participant    string `json:"participant"`
		ParticipantAlt string `json:"participantAlt"`
	} `json:"key"`
	PushName         string                     `json:"pushName"`
	Status           json.RawMessage            `json:"status"`
	Message          map[string]json.RawMessage `json:"message"`
	ContextInfo      *struct{ StanzaID string } `json:"contextInfo"`
	MessageType      string                     `json:"messageType"`
	MessageTimestamp json.RawMessage            `json:"messageTimestamp"`
	PollUpdates      json.RawMessage            `json:"pollUpdates"`
}

// ParseEvolutionEvent parses an Evolution webhook body without checking its
// secret: use it for bodies checked when they arrived (stored events), and
// ParseWebhook for requests.
//
// Evolution has no event id, so Event.ID is built from what identifies the
// event: instance, event and message id (and status, for acks), so that a
// retried or duplicated delivery has the same id and is stored once.
func ParseEvolutionEvent(body []byte) (Event, error) {
	var env evolutionEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Event{}, fmt.Errorf("evolution webhook: %v: %w", err, ErrMalformed)
	}
	if env.Event == "" || env.Instance == "" {
		return Event{}, fmt.Errorf("evolution webhook: no event or instance: %w", ErrMalformed)
	}
	e := Event{Type: env.Event, Session: env.Instance}
	if t, err := time.Parse(time.RFC3339Nano, env.DateTime); err == nil {
		e.Timestamp = t.UTC()
	}
	prefix := "evo:" + env.Instance + ":"
	var err error
	switch strings.ToLower(env.Event) {
	case "messages.upsert", "send.message":
		err = e.evolutionUpsert(prefix, env)
	case "messages.update":
		err = e.evolutionAck(prefix, env.Data)
	case "connection.update", "status.instance", "logout.instance", "remove.instance", "qrcode.updated":
		err = e.evolutionSession(prefix, env)
	default:
		e.Kind = EventIgnored
	}
	if err != nil {
		return Event{}, fmt.Errorf("evolution webhook %s: %v: %w", env.Event, err, ErrMalformed)
	}
	if e.Kind != EventIgnored && e.ID == "" {
		// Content-derived ids are bounded: the table keys on them.
		e.ID = prefix + env.Event + ":" + digest(body)
	}
	e.clean()
	return e, nil
}

// digest is a short hash of a body, for events without a natural id.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// evolutionUpsert reads a message: incoming, typed on the phone, sent
// through the API (send.message), or a poll vote.
func (e *Event) evolutionUpsert(prefix string, env evolutionEnvelope) error {
	var u evolutionUpsert
	if err := json.Unmarshal(env.Data, &u); err != nil {
		return err
	}
	if u.Key.ID == "" || u.Key.RemoteJid == "" {
		return fmt.Errorf("message has no id or chat")
	}
	if u.MessageType == "pollUpdateMessage" || u.Message["pollUpdateMessage"] != nil {
		return e.evolutionVote(prefix, u)
	}
	if u.MessageType == "reactionMessage" || u.MessageType == "protocolMessage" {
		e.Kind = EventIgnored
		return nil
	}
	e.Kind, e.ID = EventMessage, prefix+"msg:"+u.Key.ID
	m := &Message{ID: u.Key.ID, Key: u.Key.ID, FromMe: u.Key.FromMe, Timestamp: evolutionTime(u.MessageTimestamp)}
	m.ChatID = evolutionChatID(u.Key.RemoteJid)
	lid := ""
	if strings.HasSuffix(u.Key.RemoteJid, "@lid") {
		lid = u.Key.RemoteJid
		if u.Key.RemoteJidAlt != "" {
			m.ChatID = evolutionChatID(u.Key.RemoteJidAlt)
		}
	} else if strings.HasSuffix(u.Key.RemoteJidAlt, "@lid") {
		lid = u.Key.RemoteJidAlt
	}
	m.ChatKind = chatKind(m.ChatID)
	if m.ChatKind == ChatDirect {
		m.Sender = PartyOf(m.ChatID)
		if lid != "" {
			m.Sender.LID = lid
		}
	} else {
		m.Sender = PartyOf(evolutionChatID(firstNonEmpty(u.Key.ParticipantAlt, u.Key.Participant)))
	}
	if !m.FromMe {
		m.Sender.PushName = u.PushName
	}
	m.Source = SourcePhone
	if e.Type == "send.message" {
		m.Source = SourceAPI
	}
	m.Ack = evolutionAck(statusText(u.Status))
	if m.FromMe && m.Ack < AckServer && m.Source == SourcePhone {
		m.Ack = AckServer // typed on the phone: it reached the server
	}
	if u.ContextInfo != nil {
		m.ReplyTo = u.ContextInfo.StanzaID
	}
	m.Type = evolutionMessageType(u.MessageType, u.Message)
	m.Body, m.HasMedia = evolutionText(u.Message)
	m.MediaType, m.MediaName, m.MediaURL = evolutionMedia(u.Message)
	e.Message = m
	return nil
}

// evolutionVote reads a poll vote: the voter's whole current selection by
// option names (empty: withdrawn). Without pollUpdates Evolution could not
// decrypt it, and selectedOptions are hashes: the choice is unknown.
func (e *Event) evolutionVote(prefix string, u evolutionUpsert) error {
	var pu struct {
		PollCreationMessageKey struct {
			ID string `json:"id"`
		} `json:"pollCreationMessageKey"`
		Vote struct {
			SelectedOptions []json.RawMessage `json:"selectedOptions"`
		} `json:"vote"`
		SenderTimestampMs json.RawMessage `json:"senderTimestampMs"`
	}
	if err := json.Unmarshal(u.Message["pollUpdateMessage"], &pu); err != nil {
		return err
	}
	if pu.PollCreationMessageKey.ID == "" {
		return fmt.Errorf("vote names no poll")
	}
	e.ID = prefix + "vote:" + u.Key.ID
	v := &PollVote{PollID: pu.PollCreationMessageKey.ID, PollKey: pu.PollCreationMessageKey.ID, VoteID: u.Key.ID,
		ChatID: evolutionChatID(u.Key.RemoteJid), Selected: []string{}}
	voter := firstNonEmpty(u.Key.ParticipantAlt, u.Key.Participant, u.Key.RemoteJidAlt, u.Key.RemoteJid)
	if strings.HasSuffix(voter, "@lid") && u.Key.RemoteJidAlt != "" && chatKind(v.ChatID) == ChatDirect {
		voter = u.Key.RemoteJidAlt
	}
	v.Voter = PartyOf(evolutionChatID(voter))
	v.Timestamp = evolutionTime(u.MessageTimestamp)
	if ms := evolutionTime(pu.SenderTimestampMs); !ms.IsZero() {
		v.Timestamp = ms
	}
	decrypted := len(bytes.TrimSpace(u.PollUpdates)) > 0 && !bytes.Equal(bytes.TrimSpace(u.PollUpdates), []byte("null"))
	for _, raw := range pu.Vote.SelectedOptions {
		var name string
		if json.Unmarshal(raw, &name) != nil {
			decrypted = false // a hash: not decrypted
			break
		}
		v.Selected = append(v.Selected, name)
	}
	e.Kind = EventPollVote
	if !decrypted {
		e.Kind, v.Failed, v.Selected = EventPollVoteFailed, true, nil
	}
	e.Vote = v
	return nil
}

// evolutionAck reads a status change of messages.update.
func (e *Event) evolutionAck(prefix string, data json.RawMessage) error {
	var u struct {
		KeyID     string          `json:"keyId"`
		RemoteJid string          `json:"remoteJid"`
		FromMe    bool            `json:"fromMe"`
		Status    json.RawMessage `json:"status"`
	}
	if err := json.Unmarshal(data, &u); err != nil {
		return err
	}
	status := strings.ToUpper(statusText(u.Status))
	if u.KeyID == "" || status == "" || status == "DELETED" {
		e.Kind = EventIgnored // an edit, a revoke, or nothing to apply
		return nil
	}
	e.Kind, e.ID = EventAck, prefix+"ack:"+u.KeyID+":"+status
	e.Ack = &Ack{MessageID: u.KeyID, Key: u.KeyID, ChatID: evolutionChatID(u.RemoteJid), Level: evolutionAck(status), Name: status}
	return nil
}

// evolutionSession reads the events about the instance's connection:
// connection.update (state and reason), status.instance (a terminal close
// with its reason), logout.instance, remove.instance and qrcode.updated (a
// QR code was issued: the instance waits for a scan; or, with a message,
// the QR code limit was reached).
func (e *Event) evolutionSession(prefix string, env evolutionEnvelope) error {
	var d struct {
		State        string          `json:"state"`
		StatusReason json.RawMessage `json:"statusReason"`
		Wuid         string          `json:"wuid"`
		ProfileName  string          `json:"profileName"`
		ReasonCode   json.RawMessage `json:"disconnectionReasonCode"`
		QRCode       *evolutionQR    `json:"qrcode"`
		Message      string          `json:"message"`
	}
	if p := bytes.TrimSpace(env.Data); len(p) > 0 && !bytes.Equal(p, []byte("null")) {
		if err := json.Unmarshal(p, &d); err != nil {
			return err
		}
	}
	reason, _ := strconv.Atoi(strings.Trim(string(firstRaw(d.StatusReason, d.ReasonCode)), `"`))
	var status string
	switch strings.ToLower(env.Event) {
	case "connection.update":
		if d.State == "" {
			return fmt.Errorf("no state")
		}
		status = evolutionStatus(d.State, false, reason)
	case "status.instance":
		status = evolutionStatus("close", false, reason)
	case "logout.instance":
		status = StatusLoggedOut
	case "remove.instance":
		status = StatusStopped
	case "qrcode.updated":
		status = StatusScanQR
		if d.QRCode == nil && d.Message != "" {
			status = StatusFailed // the QR code limit: nobody scanned
		}
	}
	e.Kind, e.Status = EventSessionStatus, &StatusChange{Status: status}
	e.ID = prefix + strings.ToLower(env.Event) + ":" + status + ":" + strconv.Itoa(reason) + ":" + env.DateTime
	if status == StatusWorking && d.Wuid != "" {
		e.Me = evolutionAccount(d.Wuid, d.ProfileName)
	}
	return nil
}

func firstRaw(raws ...json.RawMessage) json.RawMessage {
	for _, r := range raws {
		if t := bytes.TrimSpace(r); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
			return t
		}
	}
	return nil
}

// evolutionMessageTypes maps Evolution's messageType (Baileys' message
// field) to aibud's message types.
var evolutionMessageTypes = protoTypes

// evolutionMessageType is the message's type, from messageType or else the
// first known field of the message.
func evolutionMessageType(messageType string, msg map[string]json.RawMessage) string {
	if t, ok := evolutionMessageTypes[messageType]; ok {
		return t
	}
	for k := range msg {
		if t, ok := evolutionMessageTypes[k]; ok {
			return t
		}
	}
	return "other"
}

// evolutionText is a message's text (a text's, a media's caption or a
// poll's question) and whether it carries media.
func evolutionText(msg map[string]json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(msg["conversation"], &s) == nil && s != "" {
		return s, false
	}
	for _, k := range []string{"extendedTextMessage", "imageMessage", "videoMessage", "audioMessage", "documentMessage",
		"documentWithCaptionMessage", "stickerMessage", "pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3"} {
		raw, ok := msg[k]
		if !ok {
			continue
		}
		var f struct {
			Text    string `json:"text"`
			Caption string `json:"caption"`
			Name    string `json:"name"`
		}
		_ = json.Unmarshal(raw, &f) // opaque fields may not decode; the text is what counts
		media := k != "extendedTextMessage" && !strings.HasPrefix(k, "pollCreation")
		return firstNonEmpty(f.Text, f.Caption, f.Name), media
	}
	return "", false
}

// evolutionMedia is a media message's mime type, file name and URL (set
// when Evolution stores media in S3).
func evolutionMedia(msg map[string]json.RawMessage) (mime, name, url string) {
	for _, k := range []string{"imageMessage", "videoMessage", "audioMessage", "documentMessage", "stickerMessage"} {
		raw, ok := msg[k]
		if !ok {
			continue
		}
		var f struct {
			Mimetype string `json:"mimetype"`
			FileName string `json:"fileName"`
		}
		_ = json.Unmarshal(raw, &f) // opaque fields may not decode
		mime, name = f.Mimetype, f.FileName
	}
	var s string
	if json.Unmarshal(msg["mediaUrl"], &s) == nil {
		url = s
	}
	return mime, name, url
}
