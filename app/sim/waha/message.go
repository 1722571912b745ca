package waha

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/myaibud/aibud/app/sim"
	"github.com/myaibud/aibud/app/sim/phone"
)

// Ack levels of a message, as WAHA names them.
const (
	ackError   = -1
	ackPending = 0
	ackServer  = 1
	ackDevice  = 2
	ackRead    = 3
	ackPlayed  = 4
)

func ackName(level int) string {
	switch level {
	case ackError:
		return "ERROR"
	case ackPending:
		return "PENDING"
	case ackServer:
		return "SERVER"
	case ackDevice:
		return "DEVICE"
	case ackRead:
		return "READ"
	case ackPlayed:
		return "PLAYED"
	}
	return "UNKNOWN"
}

// Poll is a poll's question and options.
type Poll = sim.Poll

// SentMessage is a message the app sent through the API (sendText,
// sendPoll or sendImage).
type SentMessage struct {
	// ID is the serialized id, true_<chat id>_<key>.
	ID string
	// Key is the bare message id: the pre-generated id when the app gave
	// one.
	Key    string
	ChatID string
	// Type is "text", "poll" or "image".
	Type    string
	Text    string
	ReplyTo string
	Poll    *Poll
	// Mime, FileName, Size and Caption describe an image.
	Mime     string
	FileName string
	Size     int
	Caption  string
	// Requests counts the send requests that carried this id; above 1 the
	// app sent the same message again (WhatsApp delivers it once).
	Requests int
	Time     time.Time
}

// message is a message of a session's chats, either way.
type message struct {
	key string
	id  string
	// chatID is the other side of the conversation.
	chatID  string
	from    string
	to      string
	fromMe  bool
	source  string
	body    string
	poll    *Poll
	replyTo string
	time    time.Time
	ack     int
	// pushName and senderAlt (the …@c.us behind a …@lid sender, when
	// known) are set on incoming messages.
	pushName  string
	senderAlt string
	// votes are a poll's current votes, by voter chat id.
	votes map[string][]string
	// seen: the app marked this incoming message as read.
	seen bool
	// media is what a media message carries; file is its bytes (an image
	// the app sent, media a lead sent with Data), served at url.
	media *Media
	file  []byte
	url   string
}

// content is what a message says: a text (or caption), a poll, or an
// image with its bytes.
type content struct {
	body  string
	poll  *Poll
	media *Media
	file  []byte
}

func (ss *session) addMessage(m *message) {
	ss.messages = append(ss.messages, m)
	ss.byKey[m.key] = m
	ss.activity = m.time
}

// find returns the message with the serialized or bare id.
func (ss *session) find(id string) *message {
	return ss.byKey[keyOf(id)]
}

// keyOf returns the bare id of a serialized one
// (true_123@c.us_KEY, false_g@g.us_KEY_participant).
func keyOf(id string) string {
	if strings.HasPrefix(id, "true_") || strings.HasPrefix(id, "false_") {
		if parts := strings.Split(id, "_"); len(parts) >= 3 {
			return parts[2]
		}
	}
	return id
}

// newOutgoingKey makes a message id like the ones WAHA's GOWS engine
// generates: 3EB0 and 18 hex digits.
func newOutgoingKey() string {
	b := make([]byte, 9)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "3EB0" + strings.ToUpper(hex.EncodeToString(b))
}

// newIncomingKey makes a message id like the ones phones generate.
func newIncomingKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return strings.ToUpper(hex.EncodeToString(b))
}

// normalChat returns a chat id in WAHA's form (…@c.us for people), or ""
// when id is not a chat id.
func normalChat(id string) string {
	id = strings.TrimSpace(id)
	user, server, ok := strings.Cut(id, "@")
	if !ok || user == "" {
		return ""
	}
	user, _, _ = strings.Cut(user, ":") // device suffix
	switch server {
	case "c.us", "s.whatsapp.net":
		if !sim.ValidPhone(user) || sim.Digits(user) != user {
			return ""
		}
		return user + "@c.us"
	case "lid", "g.us", "newsletter":
		return user + "@" + server
	}
	return ""
}

// chatFor reads a phone number (digits, written with + and separators if
// need be) or a chat id; it returns "" when it is neither.
func chatFor(phoneOrChat string) string {
	if strings.Contains(phoneOrChat, "@") {
		return normalChat(phoneOrChat)
	}
	if d := sim.CleanPhone(phoneOrChat); d != "" {
		return d + "@c.us"
	}
	return ""
}

// sameChat tells whether two chat ids are the same person: equal, or a
// …@lid and the …@c.us it maps to.
func (ss *session) sameChat(a, b string) bool {
	if a == b {
		return true
	}
	if pn, ok := ss.lids[a]; ok && pn != "" && pn == b {
		return true
	}
	if pn, ok := ss.lids[b]; ok && pn != "" && pn == a {
		return true
	}
	return false
}

// Media is a file a lead sends: a photo, a voice note, a video or a
// document, with an optional caption.
type Media = phone.Media

// mediaPayload is WAHA's WAMedia.
type mediaPayload struct {
	URL      string  `json:"url"`
	Mimetype string  `json:"mimetype"`
	Filename *string `json:"filename"`
	Error    *string `json:"error"`
}

// mediaFields are the WhatsApp protobuf message fields of media types.
var mediaFields = map[string]string{
	"image": "imageMessage", "audio": "audioMessage", "video": "videoMessage", "document": "documentMessage",
}

// messagePayload is WAHA's WAMessage as events and answers carry it; the
// field order is WAHA's.
type messagePayload struct {
	ID          string          `json:"id"`
	Timestamp   int64           `json:"timestamp"`
	From        string          `json:"from"`
	FromMe      bool            `json:"fromMe"`
	Source      string          `json:"source"`
	To          string          `json:"to"`
	Participant *string         `json:"participant"`
	Body        string          `json:"body"`
	HasMedia    bool            `json:"hasMedia"`
	Media       *mediaPayload   `json:"media"`
	Ack         int             `json:"ack"`
	AckName     string          `json:"ackName"`
	VCards      *[]string       `json:"vCards,omitempty"`
	ReplyTo     json.RawMessage `json:"replyTo,omitempty"`
	Data        map[string]any  `json:"_data"`
}

func (m *message) payload(me *Account) messagePayload {
	p := messagePayload{
		ID:        m.id,
		Timestamp: m.time.Unix(),
		From:      m.from,
		FromMe:    m.fromMe,
		Source:    m.source,
		To:        m.to,
		Body:      m.body,
		Ack:       m.ack,
		AckName:   ackName(m.ack),
		Data:      m.data(me),
	}
	if !m.fromMe {
		p.VCards = &[]string{}
		p.ReplyTo = json.RawMessage("null")
	}
	if m.replyTo != "" {
		p.ReplyTo, _ = json.Marshal(map[string]string{"id": m.replyTo}) // strings encode
	}
	if m.media != nil {
		p.HasMedia = true
		mp := &mediaPayload{URL: m.url, Mimetype: m.media.Mimetype}
		if m.media.Filename != "" {
			mp.Filename = &m.media.Filename
		}
		p.Media = mp
	}
	return p
}

// data is the raw message in the GOWS engine's shape (Info and Message),
// which carries the sender's push name and the message type.
func (m *message) data(me *Account) map[string]any {
	jid := func(id string) string {
		if user, ok := strings.CutSuffix(id, "@c.us"); ok {
			return user + "@s.whatsapp.net"
		}
		return id
	}
	info := map[string]any{
		"ID":        m.key,
		"Chat":      jid(m.chatID),
		"Sender":    jid(m.from),
		"IsFromMe":  m.fromMe,
		"IsGroup":   strings.HasSuffix(m.chatID, "@g.us"),
		"Timestamp": m.time.UTC().Format(time.RFC3339),
		"Type":      "text",
		"PushName":  m.pushName,
	}
	if m.fromMe && me != nil {
		info["PushName"] = me.PushName
	}
	if m.senderAlt != "" {
		info["SenderAlt"] = jid(m.senderAlt)
	}
	content := map[string]any{"conversation": m.body}
	if m.media != nil {
		info["Type"] = "media"
		field := map[string]any{"mimetype": m.media.Mimetype, "caption": m.media.Caption}
		switch m.media.Type {
		case "audio":
			field["PTT"] = true
		case "document":
			field["fileName"] = m.media.Filename
		}
		content = map[string]any{mediaFields[m.media.Type]: field}
	}
	if m.poll != nil {
		info["Type"] = "poll"
		content = map[string]any{"pollCreationMessageV3": m.poll.Creation()}
	}
	return map[string]any{"Info": info, "Message": content}
}

// ackPayload is WAHA's WAMessageAckBody.
type ackPayload struct {
	ID          string         `json:"id"`
	From        string         `json:"from"`
	To          string         `json:"to"`
	Participant *string        `json:"participant"`
	FromMe      bool           `json:"fromMe"`
	Ack         int            `json:"ack"`
	AckName     string         `json:"ackName"`
	Data        map[string]any `json:"_data"`
}

// votePayload is WAHA's PollVotePayload.
type votePayload struct {
	Vote struct {
		ID              string   `json:"id"`
		To              string   `json:"to"`
		From            string   `json:"from"`
		FromMe          bool     `json:"fromMe"`
		SelectedOptions []string `json:"selectedOptions"`
		Timestamp       int64    `json:"timestamp"`
	} `json:"vote"`
	Poll struct {
		ID     string `json:"id"`
		To     string `json:"to"`
		From   string `json:"from"`
		FromMe bool   `json:"fromMe"`
	} `json:"poll"`
}

// sendLocked sends a message from the session's account: through the API
// (source "api", recorded in Sent, once per key) or from the phone (source
// "app"). It emits message.any and the SERVER ack at once, and the DEVICE
// ack after Timing.DeviceAck.
func (s *Server) sendLocked(ss *session, chatID, key, source string, c content, replyTo string) *message {
	if key == "" {
		key = newOutgoingKey()
	}
	if source == "api" {
		if sm, ok := ss.sentByID[key]; ok {
			sm.Requests++
			s.notifyLocked()
			if m := ss.byKey[key]; m != nil {
				return m
			}
		}
	}
	m := &message{
		key: key, id: "true_" + chatID + "_" + key, chatID: chatID,
		from: ss.me.ID, to: chatID, fromMe: true, source: source,
		body: c.body, poll: c.poll, media: c.media, file: c.file, replyTo: replyTo, time: time.Now(), ack: ackServer,
	}
	if c.media != nil {
		m.url = s.fileURL(ss.name, key, c.media)
	}
	ss.addMessage(m)
	delete(ss.typing, chatID)
	if source == "api" {
		sm := sentOf(m)
		ss.sent = append(ss.sent, sm)
		ss.sentByID[key] = sm
	}
	s.emitLocked(ss, "message.any", m.payload(ss.me))
	s.ackLocked(ss, m, ackServer)
	time.AfterFunc(s.timing.DeviceAck, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || s.sessions[ss.name] != ss || ss.status != StatusWorking || m.ack >= ackDevice {
			return
		}
		s.ackLocked(ss, m, ackDevice)
	})
	return m
}

// sentOf is the record of a message the app sent.
func sentOf(m *message) *SentMessage {
	sm := &SentMessage{ID: m.id, Key: m.key, ChatID: m.chatID, Type: "text", Text: m.body, ReplyTo: m.replyTo, Requests: 1, Time: m.time}
	switch {
	case m.poll != nil:
		sm.Type, sm.Poll = "poll", m.poll.Clone()
	case m.media != nil:
		sm.Type, sm.Text, sm.Caption = m.media.Type, "", m.body
		sm.Mime, sm.FileName, sm.Size = m.media.Mimetype, m.media.Filename, len(m.file)
	}
	return sm
}

// ackLocked sets a sent message's ack and emits message.ack.
func (s *Server) ackLocked(ss *session, m *message, level int) {
	m.ack = level
	s.emitLocked(ss, "message.ack", ackPayload{
		ID: m.id, From: m.chatID, To: m.chatID, FromMe: m.fromMe,
		Ack: level, AckName: ackName(level), Data: map[string]any{},
	})
}

// workingLocked returns the session if it is WORKING.
func (s *Server) workingLocked(op, session string) (*session, error) {
	ss, ok := s.sessions[session]
	if !ok {
		return nil, fmt.Errorf("%s in %q: %w", op, session, ErrUnknownSession)
	}
	if ss.status != StatusWorking || ss.me == nil {
		return nil, fmt.Errorf("%s in %q (status %s): %w", op, session, ss.status, ErrWrongStatus)
	}
	return ss, nil
}

// LeadSays is a lead writing to the session's number from fromPhone
// (digits, a leading + allowed): the session emits message and message.any.
// It returns the message's serialized id (false_<phone>@c.us_<key>).
func (s *Server) LeadSays(session, fromPhone, pushName, text string) (string, error) {
	chat := chatFor(fromPhone)
	if chat == "" || !strings.HasSuffix(chat, "@c.us") {
		return "", fmt.Errorf("lead says: phone %q: %w", fromPhone, ErrInvalid)
	}
	return s.incoming(session, chat, "", pushName, text)
}

// LeadSaysAsLID is a lead writing from a linked id (lid: digits, or
// digits@lid), as WhatsApp now often sends: the sender is …@lid. phone (the
// number behind the lid) is remembered for GET /api/{session}/lids/{lid};
// an empty phone makes the mapping unknown, as it often is. It returns the
// message's serialized id.
func (s *Server) LeadSaysAsLID(session, lid, phone, pushName, text string) (string, error) {
	l := sim.NormalLID(lid)
	if l == "" {
		return "", fmt.Errorf("lead says: lid %q: %w", lid, ErrInvalid)
	}
	pn := ""
	if phone != "" {
		if pn = chatFor(phone); pn == "" || !strings.HasSuffix(pn, "@c.us") {
			return "", fmt.Errorf("lead says: phone %q: %w", phone, ErrInvalid)
		}
	}
	s.mu.Lock()
	if ss, ok := s.sessions[session]; ok {
		ss.lids[l] = pn
	}
	s.mu.Unlock()
	return s.incoming(session, l, pn, pushName, text)
}

// LeadSendsMedia is a lead sending a photo, voice note, video or document
// (with an optional caption) from fromPhone: the session emits message and
// message.any with hasMedia and a media object whose url is
// <base URL>/api/files/<session>/<key>.<ext> (see Options.BaseURL), where
// GET, with the API key, serves media.Data; without Data that file is
// missing (404). It returns the serialized id.
func (s *Server) LeadSendsMedia(session, fromPhone, pushName string, media Media) (string, error) {
	chat := chatFor(fromPhone)
	if chat == "" || !strings.HasSuffix(chat, "@c.us") {
		return "", fmt.Errorf("lead sends media: phone %q: %w", fromPhone, ErrInvalid)
	}
	if mediaFields[media.Type] == "" || media.Mimetype == "" {
		return "", fmt.Errorf("lead sends media: type %q, mimetype %q: %w", media.Type, media.Mimetype, ErrInvalid)
	}
	return s.receive(session, chat, "", pushName, media.Caption, &media)
}

func (s *Server) incoming(session, from, senderAlt, pushName, text string) (string, error) {
	if strings.TrimSpace(text) == "" {
		return "", fmt.Errorf("lead says: empty text: %w", ErrInvalid)
	}
	return s.receive(session, from, senderAlt, pushName, text, nil)
}

func (s *Server) receive(session, from, senderAlt, pushName, text string, media *Media) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.workingLocked("lead says", session)
	if err != nil {
		return "", err
	}
	key := newIncomingKey()
	m := &message{
		key: key, id: "false_" + from + "_" + key, chatID: from,
		from: from, to: ss.me.ID, source: "app", body: text, time: time.Now(),
		ack: ackDevice, pushName: pushName, senderAlt: senderAlt, media: media,
	}
	if media != nil {
		c := *media
		m.media, m.file, c.Data = &c, append([]byte(nil), media.Data...), nil
		m.url = s.fileURL(session, key, m.media)
	}
	ss.addMessage(m)
	payload := m.payload(ss.me)
	s.emitLocked(ss, "message", payload)
	s.emitLocked(ss, "message.any", payload)
	return m.id, nil
}

// OwnerSaysFromPhone is the owner writing to toPhone (digits, + allowed, or
// a chat id) from the phone itself: the session emits message.any with
// fromMe true and source "app", then its acks. It returns the serialized id.
func (s *Server) OwnerSaysFromPhone(session, toPhone, text string) (string, error) {
	chat := chatFor(toPhone)
	if chat == "" {
		return "", fmt.Errorf("owner says: to %q: %w", toPhone, ErrInvalid)
	}
	if strings.TrimSpace(text) == "" {
		return "", fmt.Errorf("owner says: empty text: %w", ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.workingLocked("owner says", session)
	if err != nil {
		return "", err
	}
	return s.sendLocked(ss, chat, "", "app", content{body: text}, "").id, nil
}

// LeadVotes is a lead (leadPhone: digits, + allowed, or a chat id; empty
// for the poll's chat) voting in the poll with the id (serialized or bare),
// as WhatsApp does: the new choice replaces the lead's earlier one, and no
// options withdraws the vote. The session emits poll.vote, with a new event
// id each time, and LeadVotes returns that id (see Redeliver).
func (s *Server) LeadVotes(session, leadPhone, pollMessageID string, options ...string) (string, error) {
	return s.vote(session, leadPhone, pollMessageID, options, false)
}

// LeadVoteFails emits poll.vote.failed, as WAHA does when it cannot decrypt
// a vote: the poll and the voter are known, the options are not. It returns
// the event id.
func (s *Server) LeadVoteFails(session, leadPhone, pollMessageID string) (string, error) {
	return s.vote(session, leadPhone, pollMessageID, nil, true)
}

func (s *Server) vote(session, voterPhone, pollMessageID string, options []string, failed bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.workingLocked("vote", session)
	if err != nil {
		return "", err
	}
	m := ss.find(pollMessageID)
	if m == nil || m.poll == nil || !m.fromMe {
		return "", fmt.Errorf("vote: poll %q: %w", pollMessageID, ErrUnknownMessage)
	}
	voter := m.chatID
	if voterPhone != "" {
		if voter = chatFor(voterPhone); voter == "" {
			return "", fmt.Errorf("vote: voter %q: %w", voterPhone, ErrInvalid)
		}
	}
	selected := []string{}
	if !failed {
		if selected, err = m.poll.Cast(&m.votes, voter, options); err != nil {
			return "", err
		}
	}
	event := "poll.vote"
	if failed {
		event = "poll.vote.failed"
	}
	return s.emitLocked(ss, event, m.votePayload(voter, selected)), nil
}

// votePayload is the poll.vote payload of voter's choice in the poll m.
func (m *message) votePayload(voter string, selected []string) votePayload {
	var p votePayload
	p.Vote.ID = "false_" + voter + "_" + newIncomingKey()
	p.Vote.To = "me"
	p.Vote.From = voter
	p.Vote.SelectedOptions = selected
	p.Vote.Timestamp = time.Now().Unix()
	p.Poll.ID = m.id
	p.Poll.To = m.chatID
	p.Poll.From = "me"
	p.Poll.FromMe = true
	return p
}

// Read is the lead reading a message the session sent (id serialized or
// bare): the session emits message.ack READ (after DEVICE, if that had not
// come yet).
func (s *Server) Read(session, messageID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.workingLocked("read", session)
	if err != nil {
		return err
	}
	m := ss.find(messageID)
	if m == nil || !m.fromMe {
		return fmt.Errorf("read %q: %w", messageID, ErrUnknownMessage)
	}
	s.readLocked(ss, m)
	return nil
}

func (s *Server) readLocked(ss *session, m *message) {
	if m.ack < ackDevice {
		s.ackLocked(ss, m, ackDevice)
	}
	if m.ack < ackRead {
		s.ackLocked(ss, m, ackRead)
	}
}

// Sent returns the messages the app sent through the session, in order.
func (s *Server) Sent(session string) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[session]
	if !ok {
		return nil
	}
	out := make([]SentMessage, len(ss.sent))
	for i, sm := range ss.sent {
		out[i] = *sm
		out[i].Poll = sm.Poll.Clone()
	}
	return out
}
