package evolution

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/myaibud/aibud/app/sim"
	"github.com/myaibud/aibud/app/sim/phone"
	"github.com/myaibud/aibud/app/sim/samples"
)

// Message statuses, as Evolution names them (renderStatus.ts).
const (
	statusPending  = "PENDING"
	statusServer   = "SERVER_ACK"
	statusDelivery = "DELIVERY_ACK"
	statusRead     = "READ"
)

// statusRank orders the statuses.
var statusRank = map[string]int{statusPending: 0, statusServer: 1, statusDelivery: 2, statusRead: 3}

// Poll is a poll's question and options.
type Poll = sim.Poll

// Media is a file a lead sends: a photo, a voice note, a video or a
// document, with an optional caption.
type Media = phone.Media

// SentMessage is a message the app sent through the API (sendText,
// sendPoll or sendMedia).
type SentMessage struct {
	// ID is the message id (key.id); Key is the same, as the WAHA
	// stand-in names it.
	ID  string
	Key string
	// ChatID is the JID the message went to (after the country
	// rewrites); Number is the number as the app sent it.
	ChatID string
	Number string
	// Type is "text", "poll" or the media type (image, video, audio,
	// document).
	Type string
	Text string
	Poll *Poll
	// Mime, FileName, Size, Caption and MediaURL describe media; Size is 0
	// for media sent as a URL.
	Mime     string
	FileName string
	Size     int
	Caption  string
	MediaURL string
	// Requests counts the send requests; Evolution has no idempotency, so
	// it is always 1.
	Requests int
	Time     time.Time
}

// message is a message of an instance's chats, either way.
type message struct {
	id string
	// dbID is Evolution's database id (messageId in messages.update).
	dbID string
	// jid is the chat's JID as Evolution shows it (key.remoteJid); alt is
	// key.remoteJidAlt.
	jid      string
	alt      string
	fromMe   bool
	source   string
	fromAPI  bool
	pushName string
	body     string
	poll     *Poll
	// secret is the poll's messageSecret.
	secret string
	// votes are a poll's current votes, by voter JID.
	votes map[string][]string
	media *Media
	// file is the media's bytes, a placeholder (sampleFile) when the lead's
	// media came without Data.
	file        []byte
	placeholder bool
	url         string
	status      string
	time        time.Time
	// read: the app marked this incoming message as read.
	read bool
}

// messageKey is a Baileys message key.
type messageKey struct {
	RemoteJID      string `json:"remoteJid"`
	FromMe         bool   `json:"fromMe"`
	ID             string `json:"id"`
	RemoteJIDAlt   string `json:"remoteJidAlt,omitempty"`
	AddressingMode string `json:"addressingMode,omitempty"`
}

// messageData is a message as messages.upsert, send.message and the send
// answers carry it; the field order is Evolution's.
type messageData struct {
	Key              messageKey     `json:"key"`
	PushName         string         `json:"pushName"`
	Status           string         `json:"status"`
	Message          map[string]any `json:"message"`
	ContextInfo      any            `json:"contextInfo"`
	MessageType      string         `json:"messageType"`
	MessageTimestamp int64          `json:"messageTimestamp"`
	InstanceID       string         `json:"instanceId"`
	Source           string         `json:"source"`
	PollUpdates      []pollUpdate   `json:"pollUpdates,omitempty"`
}

// pollUpdate is one option's tally in a vote's pollUpdates.
type pollUpdate struct {
	Name   string   `json:"name"`
	Voters []string `json:"voters"`
}

// mediaTypes are the message types of media.
var mediaTypes = map[string]string{
	"image": "imageMessage", "video": "videoMessage", "audio": "audioMessage", "document": "documentMessage",
}

func (m *message) key() messageKey {
	k := messageKey{RemoteJID: m.jid, FromMe: m.fromMe, ID: m.id, RemoteJIDAlt: m.alt}
	if strings.HasSuffix(m.jid, "@lid") || strings.HasSuffix(m.alt, "@lid") {
		k.AddressingMode = "lid"
	}
	return k
}

// messageType is Evolution's messageType of the message.
func (m *message) messageType() string {
	switch {
	case m.poll != nil && !m.poll.MultipleAnswers:
		return "pollCreationMessageV3"
	case m.poll != nil:
		return "pollCreationMessage"
	case m.media != nil:
		return mediaTypes[m.media.Type]
	}
	return "conversation"
}

// content is the message's "message" object.
func (m *message) content() map[string]any {
	switch {
	case m.poll != nil:
		return map[string]any{
			m.messageType():      m.poll.Creation(),
			"messageContextInfo": map[string]any{"messageSecret": m.secret},
		}
	case m.media != nil:
		f := map[string]any{
			"url": "https://mmg.whatsapp.net/v/t62.7118-24/" + m.id + ".enc", "mimetype": m.media.Mimetype,
			"fileLength": strconv.Itoa(len(m.file)), "fileSha256": sha256Base64(m.file),
		}
		if m.media.Caption != "" {
			f["caption"] = m.media.Caption
		}
		if m.media.Filename != "" || m.media.Type == "document" {
			f["fileName"] = m.media.Filename
		}
		if m.media.Type == "audio" {
			f["ptt"] = !m.fromAPI
			f["seconds"] = int((samples.OggDuration(m.file) + time.Second/2) / time.Second)
		}
		return map[string]any{m.messageType(): f}
	}
	return map[string]any{"conversation": m.body}
}

func (m *message) data(in *instance) messageData {
	pushName := m.pushName
	if m.fromMe && in.me != nil {
		pushName = in.me.PushName
	}
	return messageData{
		Key: m.key(), PushName: pushName, Status: m.status, Message: m.content(),
		MessageType: m.messageType(), MessageTimestamp: m.time.Unix(), InstanceID: in.id, Source: m.source,
	}
}

// addMessage stores a message; s.mu is held.
func (in *instance) addMessage(m *message) {
	in.messages = append(in.messages, m)
	in.byID[m.id] = m
}

// newOutgoingID makes a message id like the ones Baileys generates for
// sends: 3EB0 and 16 hex digits.
func newOutgoingID() string {
	return "3EB0" + randomHex(8)
}

// newIncomingID makes a message id like the ones Android phones generate.
func newIncomingID() string {
	return randomHex(16)
}

// newDBID makes an id like Evolution's database ids (cuid).
func newDBID() string {
	return "cm" + strings.ToLower(randomHex(12))[:23]
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return strings.ToUpper(hex.EncodeToString(b))
}

func sha256Base64(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// onOpen runs f with the lock held on the named instance once it is open.
func (s *Server) onOpen(op, name string, f func(in *instance) error) error {
	return s.control(op, name, func(in *instance) error {
		if in.state != StateOpen || in.me == nil {
			return wrongState(op, in)
		}
		return f(in)
	})
}

// sendLocked sends a message from the instance's account through the API:
// it is recorded in Sent, and send.message and messages.update SERVER_ACK
// go out at once, DELIVERY_ACK after Timing.DeliveryAck. It returns the
// answer's data (status PENDING).
func (s *Server) sendLocked(in *instance, jid, number string, m *message) messageData {
	m.id, m.dbID, m.jid, m.fromMe, m.fromAPI, m.source = newOutgoingID(), newDBID(), jid, true, true, "web"
	m.status, m.time = statusPending, time.Now()
	in.addMessage(m)
	sm := &SentMessage{ID: m.id, Key: m.id, ChatID: jid, Number: number, Type: "text", Text: m.body, Requests: 1, Time: m.time}
	switch {
	case m.poll != nil:
		sm.Type, sm.Text, sm.Poll = "poll", "", m.poll.Clone()
	case m.media != nil:
		sm.Type, sm.Text, sm.Caption = m.media.Type, "", m.media.Caption
		sm.Mime, sm.FileName, sm.Size, sm.MediaURL = m.media.Mimetype, m.media.Filename, len(m.file), m.url
	}
	in.sent = append(in.sent, sm)
	d := m.data(in)
	s.emitLocked(in, "send.message", d)
	s.ackLocked(in, m, statusServer)
	s.deliveryAckLater(in, m)
	return d
}

// deliveryAckLater acks the message DELIVERY_ACK after Timing.DeliveryAck.
func (s *Server) deliveryAckLater(in *instance, m *message) {
	time.AfterFunc(s.timing.DeliveryAck, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed || s.instances[in.name] != in || in.state != StateOpen {
			return
		}
		s.ackLocked(in, m, statusDelivery)
	})
}

// ackLocked moves a message's status forward and emits messages.update.
func (s *Server) ackLocked(in *instance, m *message, status string) {
	if statusRank[status] <= statusRank[m.status] {
		return
	}
	m.status = status
	s.emitLocked(in, "messages.update", map[string]any{
		"keyId": m.id, "remoteJid": m.jid, "fromMe": m.fromMe, "status": status,
		"instanceId": in.id, "messageId": m.dbID,
	})
}

// receive stores a message a lead, or the owner on the phone, wrote, once
// the instance is open, and emits messages.upsert (and the owner's
// DELIVERY_ACK later). It returns the message id.
func (s *Server) receive(op, name string, m *message) (string, error) {
	if m.media == nil && strings.TrimSpace(m.body) == "" {
		return "", fmt.Errorf("%s: empty text: %w", op, ErrInvalid)
	}
	err := s.onOpen(op, name, func(in *instance) error {
		m.id, m.dbID, m.source, m.time = newIncomingID(), newDBID(), "android", time.Now()
		m.status = statusDelivery
		if m.fromMe {
			m.status = statusServer
			s.deliveryAckLater(in, m)
		}
		switch {
		case strings.HasSuffix(m.alt, "@lid"):
			in.lids[m.alt] = m.jid
		case strings.HasSuffix(m.jid, "@lid"):
			in.lids[m.jid] = ""
		}
		in.addMessage(m)
		s.emitLocked(in, "messages.upsert", m.data(in))
		return nil
	})
	return m.id, err
}

// LeadSays is a lead writing to the instance's number from fromPhone
// (digits, a leading + allowed): the instance emits messages.upsert with
// fromMe false. A Brazilian number's JID lacks the ninth digit, as
// Evolution's does. It returns the message id (key.id).
func (s *Server) LeadSays(name, fromPhone, pushName, text string) (string, error) {
	jid := leadJID(fromPhone)
	if jid == "" || !strings.HasSuffix(jid, "@s.whatsapp.net") {
		return "", fmt.Errorf("lead says: phone %q: %w", fromPhone, ErrInvalid)
	}
	return s.receive("lead says", name, &message{jid: jid, pushName: pushName, body: text})
}

// LeadSaysAsLID is a lead writing from a linked id (lid: digits, or
// digits@lid). Without phone, the message has remoteJid …@lid and no
// remoteJidAlt, as some 2.3.7 payloads do; with phone, remoteJid is the
// phone's JID and remoteJidAlt the lid, as 2.3.7 rewrites it. It returns
// the message id.
func (s *Server) LeadSaysAsLID(name, lid, phone, pushName, text string) (string, error) {
	l := sim.NormalLID(lid)
	if l == "" {
		return "", fmt.Errorf("lead says: lid %q: %w", lid, ErrInvalid)
	}
	m := &message{jid: l, pushName: pushName, body: text}
	if phone != "" {
		pn := leadJID(phone)
		if pn == "" || !strings.HasSuffix(pn, "@s.whatsapp.net") {
			return "", fmt.Errorf("lead says: phone %q: %w", phone, ErrInvalid)
		}
		m.jid, m.alt = pn, l
	}
	return s.receive("lead says", name, m)
}

// LeadSendsMedia is a lead sending a photo, voice note, video or document
// (with an optional caption) from fromPhone: messages.upsert with an
// imageMessage (…) {mimetype, fileName, caption, seconds (audio)} whose
// bytes, media.Data or else a tiny placeholder of the type,
// getBase64FromMediaMessage returns. It returns the message id.
func (s *Server) LeadSendsMedia(name, fromPhone, pushName string, media Media) (string, error) {
	jid := leadJID(fromPhone)
	if jid == "" || !strings.HasSuffix(jid, "@s.whatsapp.net") {
		return "", fmt.Errorf("lead sends media: phone %q: %w", fromPhone, ErrInvalid)
	}
	if mediaTypes[media.Type] == "" || media.Mimetype == "" {
		return "", fmt.Errorf("lead sends media: type %q, mimetype %q: %w", media.Type, media.Mimetype, ErrInvalid)
	}
	m := &message{jid: jid, pushName: pushName, body: media.Caption, media: &media, file: append([]byte(nil), media.Data...)}
	if len(m.file) == 0 {
		m.file, m.placeholder = sampleFile(media), true
	}
	media.Data = nil // kept in m.file
	return s.receive("lead sends media", name, m)
}

// sampleFile is the bytes of a file a lead sends: a tiny file of its type.
func sampleFile(m Media) []byte {
	switch m.Type {
	case "image":
		return []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9")
	case "audio":
		return []byte("OggS\x00\x02" + strings.Repeat("\x00", 20) + "OpusHead")
	case "document":
		return []byte("%PDF-1.4\n%stand-in\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
	}
	return []byte("\x00\x00\x00\x18ftypmp42")
}

// OwnerSaysFromPhone is the owner writing to toPhone (digits, + allowed,
// or a JID) from the phone itself: messages.upsert with fromMe true, then
// its DELIVERY_ACK. It returns the message id.
func (s *Server) OwnerSaysFromPhone(name, toPhone, text string) (string, error) {
	jid := leadJID(toPhone)
	if jid == "" {
		return "", fmt.Errorf("owner says: to %q: %w", toPhone, ErrInvalid)
	}
	return s.receive("owner says", name, &message{jid: jid, fromMe: true, body: text})
}

// LeadVotes is a lead (leadPhone: digits, + allowed, or a JID; empty for
// the poll's chat) voting in the poll with the id, as WhatsApp does: the
// new choice replaces the lead's earlier one, and no options withdraws the
// vote. The instance emits messages.upsert with a pollUpdateMessage whose
// vote.selectedOptions are the option names ([] when withdrawn) and
// pollUpdates the tally. It returns the event id (see Redeliver).
func (s *Server) LeadVotes(name, leadPhone, pollMessageID string, options ...string) (string, error) {
	return s.vote(name, leadPhone, pollMessageID, options, false)
}

// LeadVoteFails is a vote Evolution cannot decrypt: the pollUpdateMessage
// has opaque selectedOptions (hashes as index-keyed byte objects) and no
// pollUpdates. It returns the event id.
func (s *Server) LeadVoteFails(name, leadPhone, pollMessageID string) (string, error) {
	return s.vote(name, leadPhone, pollMessageID, nil, true)
}

func (s *Server) vote(name, voterPhone, pollMessageID string, options []string, failed bool) (string, error) {
	var id string
	err := s.onOpen("vote", name, func(in *instance) error {
		var err error
		id, err = s.voteLocked(in, voterPhone, pollMessageID, options, failed)
		return err
	})
	return id, err
}

func (s *Server) voteLocked(in *instance, voterPhone, pollMessageID string, options []string, failed bool) (string, error) {
	var err error
	p := in.byID[pollMessageID]
	if p == nil || p.poll == nil {
		return "", fmt.Errorf("vote: poll %q: %w", pollMessageID, ErrUnknownMessage)
	}
	voter := p.jid // the poll's chat, unless another voter is named
	if voterPhone != "" {
		voter = leadJID(voterPhone)
	}
	if voter == "" {
		return "", fmt.Errorf("vote: voter %q: %w", voterPhone, ErrInvalid)
	}
	var selected []string
	if !failed {
		if selected, err = p.poll.Cast(&p.votes, voter, options); err != nil {
			return "", err
		}
	}
	vote := map[string]any{"encPayload": opaque(24), "encIv": opaque(12), "selectedOptions": selected}
	if failed {
		vote["selectedOptions"] = []map[string]int{opaque(32)}
	}
	m := &message{id: newIncomingID(), jid: voter, source: "android", status: statusDelivery, time: time.Now()}
	d := m.data(in)
	d.MessageType = "pollUpdateMessage"
	d.Message = map[string]any{"pollUpdateMessage": map[string]any{
		"pollCreationMessageKey": p.key(),
		"vote":                   vote,
		"senderTimestampMs":      strconv.FormatInt(m.time.UnixMilli(), 10),
	}}
	if !failed {
		for _, o := range p.poll.Options {
			u := pollUpdate{Name: o, Voters: []string{}}
			for _, v := range sim.SortedKeys(p.votes) {
				if slices.Contains(p.votes[v], o) {
					u.Voters = append(u.Voters, v)
				}
			}
			d.PollUpdates = append(d.PollUpdates, u)
		}
	}
	return s.emitLocked(in, "messages.upsert", d), nil
}

// opaque is n random bytes as Node serialises a Uint8Array in JSON: an
// object of index keys.
func opaque(n int) map[string]int {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	out := make(map[string]int, n)
	for i, c := range b {
		out[strconv.Itoa(i)] = int(c)
	}
	return out
}

// Read is the lead reading a message the instance sent: messages.update
// READ (after DELIVERY_ACK, if that had not come yet).
func (s *Server) Read(name, messageID string) error {
	return s.onOpen("read", name, func(in *instance) error {
		m := in.byID[messageID]
		if m == nil || !m.fromMe {
			return fmt.Errorf("read %q: %w", messageID, ErrUnknownMessage)
		}
		s.readLocked(in, m)
		return nil
	})
}

func (s *Server) readLocked(in *instance, m *message) {
	if statusRank[m.status] < statusRank[statusDelivery] {
		s.ackLocked(in, m, statusDelivery)
	}
	s.ackLocked(in, m, statusRead)
}

// Sent returns the messages the app sent through the instance, in order.
func (s *Server) Sent(name string) []SentMessage {
	var out []SentMessage
	_ = s.control("sent", name, func(in *instance) error { // none for an unknown instance
		for _, sm := range in.sent {
			c := *sm
			c.Poll = sm.Poll.Clone()
			out = append(out, c)
		}
		return nil
	})
	return out
}
