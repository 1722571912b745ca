// Package whatsapp talks to WhatsApp gateways. Provider is what the rest of
// aibud uses; WAHA and Evolution API implement it. Webhook requests of a
// provider are parsed into the normalised Event. Nothing outside this
// package knows a provider's ids, statuses or event names: sessions have
// the normalised Status… values, and messages are keyed by the Key fields
// (with the instance), never by a provider's id format.
//
// Sending is built so that a message is never sent twice by our retries.
// A provider that can pre-generate ids (IDReserver) has one reserved first,
// stored, and sent with; before sending again after an unclear failure the
// caller asks MessageExists. A message the gateway sends under its own id
// (HonoursMessageID false, and every message of a provider without
// IDReserver) takes the id of the send's answer instead, and after an
// unclear failure is looked for among the chat's recent messages
// (SentSince). The client itself never retries a send.
package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Kinds of provider, as nodes and instances record them.
const (
	ProviderWAHA      = "waha"
	ProviderEvolution = "evolution"
)

// Providers are the kinds of provider aibud speaks.
var Providers = []string{ProviderWAHA, ProviderEvolution}

// Normalised session statuses. Each client maps its gateway's own to these.
const (
	// StatusStopped: not running (WAHA STOPPED; Evolution close).
	StatusStopped = "stopped"
	// StatusStarting: connecting, no QR code yet.
	StatusStarting = "starting"
	// StatusScanQR: waiting for the phone to scan a QR code.
	StatusScanQR = "scan_qr"
	// StatusWorking: linked and connected.
	StatusWorking = "working"
	// StatusLoggedOut: the phone was unlinked; a new scan is needed.
	StatusLoggedOut = "logged_out"
	// StatusFailed: the gateway gave up (QR codes not scanned, banned…).
	StatusFailed = "failed"
)

// Errors a Provider returns, to be checked with errors.Is.
var (
	// ErrSessionNotFound: the gateway has no session of that name.
	ErrSessionNotFound = errors.New("whatsapp: session not found")
	// ErrWrongStatus: the session is not in a status that allows the call
	// (e.g. asking for a QR code of a connected session).
	ErrWrongStatus = errors.New("whatsapp: session is not in the right status")
	// ErrUnauthorized: the gateway refused our API key.
	ErrUnauthorized = errors.New("whatsapp: the gateway refused the API key")
	// ErrBadRequest: the gateway refused the request as invalid (4xx).
	ErrBadRequest = errors.New("whatsapp: the gateway refused the request")
	// ErrUnavailable: the gateway could not be reached or failed (network
	// error, timeout, 5xx) after the retries the call allows.
	ErrUnavailable = errors.New("whatsapp: the gateway is unavailable")
)

// Webhook parsing errors.
var (
	// ErrBadSignature: the request is unsigned or its signature is wrong.
	ErrBadSignature = errors.New("whatsapp: webhook signature missing or wrong")
	// ErrMalformed: the body is not a webhook event.
	ErrMalformed = errors.New("whatsapp: malformed webhook")
)

// SessionSpec describes a session to create.
type SessionSpec struct {
	// Name is the gateway's session name; see SessionName.
	Name string
	// Metadata is echoed back in every webhook of the session; aibud puts the
	// tenant and instance ids here.
	Metadata map[string]string
}

// SessionInfo is the state of a session on the gateway.
type SessionInfo struct {
	Name   string
	Status string
	// Me is the connected account, set when Status is WORKING.
	Me *Account
}

// Account is a WhatsApp account.
type Account struct {
	// ID is the chat id, e.g. 15551234567@c.us.
	ID string
	// LID is the account's linked id (…@lid) when known.
	LID string
	// Phone is the number in E.164 (+15551234567), derived from ID.
	Phone    string
	PushName string
}

// QR is a pairing QR code.
type QR struct {
	PNG   []byte
	Value string
}

// Text is a text message to send.
type Text struct {
	Session string
	ChatID  string
	// ID is the pre-generated message id from NewMessageID.
	ID      string
	Body    string
	ReplyTo string
}

// Poll is a poll to send. It is sent like a Text: with an id reserved by
// NewMessageID, and the Sent id is the poll's message id that votes name
// (PollVote.PollID, PollVote.PollKey).
type Poll struct {
	Session string
	ChatID  string
	// ID is the pre-generated message id from NewMessageID.
	ID string
	// Name is the question.
	Name string
	// Options are the answers to pick from: 2 to MaxPollOptions, different
	// and not empty.
	Options []string
	// MultipleAnswers lets a voter pick more than one option.
	MultipleAnswers bool
	ReplyTo         string
}

// Image is an image to send, with an optional caption. It is never retried
// by the client.
type Image struct {
	Session string
	ChatID  string
	// ID is the pre-generated message id from NewMessageID; the gateway
	// sends it only when HonoursMessageID(KindImage), else the image gets
	// the gateway's own id (Sent.ID).
	ID string
	// Mime is the image's content type (image/jpeg, image/png, image/webp).
	Mime     string
	FileName string
	Data     []byte
	// Caption is shown under the image; at most MaxCaption characters.
	Caption string
	ReplyTo string
}

// MaxCaption is the longest caption WhatsApp shows under a media message,
// in characters.
const MaxCaption = 1024

// MaxPollOptions is the most options WhatsApp allows in a poll.
const MaxPollOptions = 12

// Kinds of message a gateway sends, for HonoursMessageID.
const (
	KindText  = "text"
	KindPoll  = "poll"
	KindImage = "image"
)

// ChatMessage is a message of a chat's history, as SentSince returns it.
type ChatMessage struct {
	// ID is the provider message id (e.g. true_15551234567@c.us_3EB0…).
	ID string
	// Key is the message's key: what it is stored by, with its instance.
	Key string
	// Body is a text's text, or a media message's caption.
	Body     string
	HasMedia bool
	// Ack is its delivery status (AckServer…).
	Ack       int
	Timestamp time.Time
}

// Sent is what the gateway answered to a send.
type Sent struct {
	// ID is the provider message id (e.g. true_15551234567@c.us_3EB0…).
	ID string
	// Key is the message's key: what it is stored by, with its instance.
	Key       string
	Timestamp time.Time
}

// NumberStatus tells whether a number is on WhatsApp.
type NumberStatus struct {
	Exists bool
	ChatID string
}

// Provider is a WhatsApp gateway holding many sessions (one per number).
// What only some gateways can do is in the optional interfaces IDReserver,
// LIDResolver, Typist, MediaFetcher and InboxLister, each with the
// fallback its callers use.
type Provider interface {
	// Kind is ProviderWAHA or ProviderEvolution.
	Kind() string
	// CreateSession creates and starts a session, configured to post its
	// webhooks to aibud.
	CreateSession(ctx context.Context, spec SessionSpec) (SessionInfo, error)
	// StartSession starts a stopped or failed session.
	StartSession(ctx context.Context, name string) error
	// RestartSession stops and starts a session.
	RestartSession(ctx context.Context, name string) error
	// Session returns the session's status and account.
	Session(ctx context.Context, name string) (SessionInfo, error)
	// QR returns the current pairing QR code.
	QR(ctx context.Context, name string) (QR, error)
	// RequestCode asks for a pairing code for a phone number (digits with
	// country code), to link without scanning.
	RequestCode(ctx context.Context, name, phone string) (string, error)
	// Logout unlinks the phone; the session stays and can be paired again.
	Logout(ctx context.Context, name string) error
	// DeleteSession removes the session.
	DeleteSession(ctx context.Context, name string) error

	// HonoursMessageID tells whether the gateway sends a message of the kind
	// (KindText, KindPoll, KindImage) under the id reserved with
	// IDReserver.NewMessageID; always false for a provider without
	// IDReserver. When it does not, the message gets the gateway's own id,
	// known only from the send's answer (Sent.ID), and whether a send whose
	// answer was lost went out is told by SentSince.
	HonoursMessageID(kind string) bool
	// SentSince returns up to limit messages the account sent to the chat
	// at or after since, newest first: how a send whose answer was lost is
	// found. A gateway that cannot list a chat returns ErrUnsupported, and
	// such a message is never sent again (it may have gone out).
	SentSince(ctx context.Context, session, chatID string, since time.Time, limit int) ([]ChatMessage, error)
	// SendText sends a text message. It is never retried by the client.
	SendText(ctx context.Context, m Text) (Sent, error)
	// SendPoll sends a poll. It is never retried by the client.
	SendPoll(ctx context.Context, p Poll) (Sent, error)
	// SendImage sends an image with its caption. It is never retried by
	// the client.
	SendImage(ctx context.Context, m Image) (Sent, error)
	// SendSeen marks messages (by their provider ids) as read.
	SendSeen(ctx context.Context, session, chatID string, messageIDs ...string) error
	// CheckNumber tells whether a phone number (digits) is on WhatsApp.
	CheckNumber(ctx context.Context, session, phone string) (NumberStatus, error)
}

// IDReserver is a gateway that sends messages under ids reserved before the
// send. Without it, a message is stored under a placeholder key until the
// send's answer gives the gateway's id (see Outbox).
type IDReserver interface {
	// NewMessageID reserves an id for a message about to be sent.
	NewMessageID(ctx context.Context, session string) (string, error)
	// MessageExists tells whether a message with the id is in the chat.
	MessageExists(ctx context.Context, session, chatID, messageID string) (bool, error)
}

// LIDResolver is a gateway that can tell the phone number behind a linked
// id. Without it, a contact known only by its linked id keeps it until a
// later message names the phone too.
type LIDResolver interface {
	// PhoneForLID returns the chat id (…@c.us) behind a …@lid id, or "" when
	// the gateway does not know it.
	PhoneForLID(ctx context.Context, session, lid string) (string, error)
}

// Typist is a gateway that can show "typing…" in a chat. Without it, the
// customer sees no typing indicator before an answer.
type Typist interface {
	// StartTyping shows "typing…" in the chat; StopTyping hides it.
	StartTyping(ctx context.Context, session, chatID string) error
	StopTyping(ctx context.Context, session, chatID string) error
}

// MediaFetcher is a gateway that hands over the file of a message it
// received (a voice note, a photo, a document). Both gateways are; the
// interface keeps it optional for one that is not (media then goes to a
// person).
type MediaFetcher interface {
	// FetchMedia downloads a received message's file, reading at most
	// limit bytes: a larger file is ErrTooLarge, and is never held whole in
	// memory. A file the gateway no longer has is ErrMediaGone.
	FetchMedia(ctx context.Context, session string, ref MediaRef, limit int64) (File, error)
}

// InboxLister is a gateway that can list the messages its account
// received, as the webhook events that would have carried them: how
// messages whose webhook never came are recovered (Evolution API 2.3 drops
// some; see its notes' trap 4). Without it, a gateway's own webhook retries
// are all there is (WAHA retries until we answer).
type InboxLister interface {
	// ReceivedSince returns the webhook events of the messages received
	// (not sent by the account) at or after since, newest first, at most
	// limit. Each event has the ID and payload its webhook would have had,
	// so a message both recovered and delivered is stored once.
	ReceivedSince(ctx context.Context, session string, since time.Time, limit int) ([]ListedEvent, error)
}

// ListedEvent is a webhook event rebuilt from a gateway's stored message:
// Payload parses with ParseStoredEvent as the webhook would have.
type ListedEvent struct {
	Event   Event
	Payload []byte
}

// MediaRef names a received message's file: its provider message id and
// the URL its webhook gave, if any (WAHA's media.url).
type MediaRef struct {
	MessageID string
	URL       string
}

// File is a downloaded file.
type File struct {
	// Mime is the type the gateway gave (not checked against the bytes).
	Mime string
	Name string
	Data []byte
}

// ErrTooLarge: a file is larger than the caller allows.
var ErrTooLarge = errors.New("whatsapp: the file is too large")

// ErrMediaGone: the gateway no longer has a message's file.
var ErrMediaGone = errors.New("whatsapp: the file is no longer on the gateway")

// ErrUnsupported: the gateway cannot do what was asked.
var ErrUnsupported = errors.New("whatsapp: the gateway cannot do that")

// WebhookParser verifies and parses the webhook requests of a provider.
type WebhookParser interface {
	// ParseWebhook checks the signature over the exact body and returns the
	// normalised event. It returns ErrBadSignature or ErrMalformed (wrapped)
	// for requests to refuse.
	ParseWebhook(h http.Header, body []byte) (Event, error)
}

// EventKind is the kind of a normalised webhook event.
type EventKind string

// Event kinds.
const (
	// EventMessage: a message in a chat, incoming or sent (from the phone or
	// through the API); see Message.FromMe and Message.Source.
	EventMessage EventKind = "message"
	// EventAck: a delivery status change of a message.
	EventAck EventKind = "ack"
	// EventSessionStatus: the session's status changed.
	EventSessionStatus EventKind = "session_status"
	// EventPollVote: someone voted in a poll.
	EventPollVote EventKind = "poll_vote"
	// EventPollVoteFailed: a vote arrived that could not be decrypted.
	EventPollVoteFailed EventKind = "poll_vote_failed"
	// EventIgnored: a valid event of a type aibud does not use.
	EventIgnored EventKind = "ignored"
)

// Event is a webhook event in provider-neutral form.
type Event struct {
	// ID is the provider's event id; it stays the same across retries and is
	// the deduplication key.
	ID   string
	Kind EventKind
	// Type is the provider's own event name (e.g. "message.any").
	Type      string
	Session   string
	Metadata  map[string]string
	Me        *Account
	Timestamp time.Time

	Message *Message
	Ack     *Ack
	Status  *StatusChange
	Vote    *PollVote
}

// Message sources: who sent an outgoing (FromMe) message.
const (
	SourceAPI   = "api" // sent through the gateway's API (by aibud)
	SourcePhone = "app" // sent by the owner from their phone or WhatsApp Web
)

// Chat kinds.
const (
	ChatDirect  = "direct"
	ChatGroup   = "group"
	ChatStatus  = "status"
	ChatChannel = "channel"
)

// Message is a WhatsApp message.
type Message struct {
	// ID is the provider's id of the message, as its API takes it back.
	ID string
	// Key is the message's own id, the same however the provider writes
	// it: what it is stored by, with its instance.
	Key string
	// ChatID is the other side of the conversation: the sender of an
	// incoming message, the recipient of an outgoing one, or the group.
	ChatID string
	// ChatKind is ChatDirect, ChatGroup, ChatStatus or ChatChannel.
	ChatKind string
	// Sender is the person who wrote it (the participant in a group).
	Sender    Party
	FromMe    bool
	Source    string
	Body      string
	Type      string // text, image, video, audio, document, sticker, location, contact, poll, reaction, other
	HasMedia  bool
	MediaURL  string
	MediaType string
	// MediaName is a document's file name, when the sender gave one.
	MediaName string
	ReplyTo   string
	Timestamp time.Time
	Ack       int
}

// Party identifies a person in WhatsApp, by phone number, linked id, or both.
type Party struct {
	// ChatID is the id as the provider gave it (…@c.us or …@lid).
	ChatID string
	// Phone is E.164 when known.
	Phone string
	// LID is the …@lid id when known.
	LID      string
	PushName string
}

// Ack levels of a message.
const (
	AckError   = -1
	AckPending = 0
	AckServer  = 1
	AckDevice  = 2
	AckRead    = 3
	AckPlayed  = 4
)

// Ack is a delivery status change.
type Ack struct {
	MessageID string
	// Key is the acknowledged message's key (see Message.Key).
	Key    string
	ChatID string
	Level  int
	Name   string
}

// StatusChange is a session status change.
type StatusChange struct {
	Status string
}

// PollVote is a vote in a poll. A voter's later vote replaces the earlier
// one: order votes by Timestamp, and deduplicate by VoteID (and Event.ID).
type PollVote struct {
	// PollID is the message id of the poll, as the provider gave it.
	PollID string
	// PollKey is the poll's key (see Message.Key): what a sent poll is
	// stored by.
	PollKey string
	// VoteID is the vote's own message id.
	VoteID string
	ChatID string
	Voter  Party
	// Selected are the chosen options' texts; empty when the vote is
	// withdrawn, and when Failed.
	Selected  []string
	Timestamp time.Time
	// Failed: the vote arrived but could not be decrypted, so the choice is
	// unknown (EventPollVoteFailed).
	Failed bool
}

// ParseStoredEvent parses a webhook body stored when it arrived (and was
// authenticated then), by the provider that sent it.
func ParseStoredEvent(provider string, body []byte) (Event, error) {
	switch provider {
	case ProviderWAHA:
		return ParseWAHAEvent(body)
	case ProviderEvolution:
		return ParseEvolutionEvent(body)
	}
	return Event{}, fmt.Errorf("whatsapp: no parser for provider %q: %w", provider, ErrMalformed)
}
