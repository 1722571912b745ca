package waha

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/myaibud/aibud/app/sim"
)

// apiRoutes lists WAHA's endpoints the stand-in serves. The first match
// wins, so /api/sessions/… comes before /api/{session}/….
func (s *Server) apiRoutes() []sim.Route {
	return []sim.Route{
		sim.NewRoute(http.MethodGet, "/api/sessions", s.listSessions),
		sim.NewRoute(http.MethodPost, "/api/sessions", s.createSession),
		sim.NewRoute(http.MethodGet, "/api/sessions/{session}", s.showSession),
		sim.NewRoute(http.MethodPut, "/api/sessions/{session}", s.updateSession),
		sim.NewRoute(http.MethodDelete, "/api/sessions/{session}", s.deleteSession),
		sim.NewRoute(http.MethodGet, "/api/sessions/{session}/me", s.showMe),
		sim.NewRoute(http.MethodPost, "/api/sessions/{session}/start", s.startSession),
		sim.NewRoute(http.MethodPost, "/api/sessions/{session}/stop", s.stopSession),
		sim.NewRoute(http.MethodPost, "/api/sessions/{session}/restart", s.restartSession),
		sim.NewRoute(http.MethodPost, "/api/sessions/{session}/logout", s.logoutSession),
		sim.NewRoute(http.MethodGet, "/api/files/{session}/{file}", s.showFile),
		sim.NewRoute(http.MethodGet, "/api/{session}/auth/qr", s.showQR),
		sim.NewRoute(http.MethodPost, "/api/{session}/auth/request-code", s.requestCode),
		sim.NewRoute(http.MethodGet, "/api/{session}/new-message-id", s.newMessageID),
		sim.NewRoute(http.MethodPost, "/api/sendText", s.sendText),
		sim.NewRoute(http.MethodPost, "/api/sendPoll", s.sendPoll),
		sim.NewRoute(http.MethodPost, "/api/sendImage", s.sendImage),
		sim.NewRoute(http.MethodPost, "/api/sendSeen", s.sendSeen),
		sim.NewRoute(http.MethodPost, "/api/startTyping", s.startTyping),
		sim.NewRoute(http.MethodPost, "/api/stopTyping", s.stopTyping),
		sim.NewRoute(http.MethodGet, "/api/{session}/chats/{chatId}/messages/{messageId}", s.showMessage),
		sim.NewRoute(http.MethodGet, "/api/{session}/chats/{chatId}/messages", s.listMessages),
		sim.NewRoute(http.MethodGet, "/api/checkNumberStatus", s.checkNumberStatus),
		sim.NewRoute(http.MethodGet, "/api/{session}/lids/{lid}", s.showLID),
	}
}

// working is the status most calls need.
var working = []string{StatusWorking}

// reply is an answer worked out with the lock held and written after.
type reply struct {
	status int
	body   any
	// empty answers no body (WAHA's "nothing").
	empty bool
}

// waitFor waits, up to Timing.StatusWait, until the session is in one of
// the statuses, as WAHA does before answering 422.
func (s *Server) waitFor(ctx context.Context, name string, want []string) {
	deadline := time.NewTimer(s.timing.StatusWait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ss, ok := s.sessions[name]
		if !ok || slices.Contains(want, ss.status) {
			s.mu.Unlock()
			return
		}
		changed := ss.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// inSession runs f with the lock held on the named session, once it is in
// one of the statuses want (nil: any), and writes its reply. It answers 404
// for an unknown session and 422 for the wrong status.
func (s *Server) inSession(w http.ResponseWriter, r *http.Request, name string, want []string, f func(ss *session) reply) {
	if want != nil {
		s.waitFor(r.Context(), name, want)
	}
	s.mu.Lock()
	ss, ok := s.sessions[name]
	if !ok {
		s.mu.Unlock()
		sessionNotFound(w, name)
		return
	}
	if want != nil && !slices.Contains(want, ss.status) {
		status := ss.status
		s.mu.Unlock()
		wrongStatus(w, name, status, want)
		return
	}
	rep := f(ss)
	s.mu.Unlock()
	switch {
	case rep.status == 0:
	case rep.empty:
		writeEmpty(w, rep.status)
	default:
		writeJSON(w, rep.status, rep.body)
	}
}

// sessionInfo is WAHA's SessionInfo.
type sessionInfo struct {
	Name       string          `json:"name"`
	Status     string          `json:"status"`
	Config     json.RawMessage `json:"config,omitempty"`
	Me         *meInfo         `json:"me"`
	Presence   any             `json:"presence"`
	Timestamps struct {
		Activity *int64 `json:"activity"`
	} `json:"timestamps"`
}

// sessionDTO is WAHA's SessionDTO, the answer to session actions.
type sessionDTO struct {
	Name   string          `json:"name"`
	Status string          `json:"status"`
	Config json.RawMessage `json:"config,omitempty"`
}

// meInfo is WAHA's MeInfo.
type meInfo struct {
	ID       string `json:"id"`
	LID      string `json:"lid,omitempty"`
	PushName string `json:"pushName"`
}

func (ss *session) info() sessionInfo {
	si := sessionInfo{Name: ss.name, Status: ss.status, Config: ss.config}
	if me := ss.meInfo(); me != nil {
		si.Me = me
	}
	if !ss.activity.IsZero() {
		ms := ss.activity.UnixMilli()
		si.Timestamps.Activity = &ms
	}
	return si
}

func (ss *session) dto() sessionDTO {
	return sessionDTO{Name: ss.name, Status: ss.status, Config: ss.config}
}

func (ss *session) meInfo() *meInfo {
	if ss.status != StatusWorking || ss.me == nil {
		return nil
	}
	return &meInfo{ID: ss.me.ID, LID: ss.me.LID, PushName: ss.me.PushName}
}

// listSessions is GET /api/sessions; STOPPED sessions only with all=true.
func (s *Server) listSessions(w http.ResponseWriter, r *http.Request, _ sim.Params) {
	all := r.URL.Query().Get("all") == "true"
	s.mu.Lock()
	out := []sessionInfo{}
	for _, name := range sim.SortedKeys(s.sessions) {
		if ss := s.sessions[name]; all || ss.status != StatusStopped {
			out = append(out, ss.info())
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// createSession is POST /api/sessions.
func (s *Server) createSession(w http.ResponseWriter, r *http.Request, _ sim.Params) {
	var in struct {
		Name   *string         `json:"name"`
		Start  *bool           `json:"start"`
		Config json.RawMessage `json:"config"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	name := "default"
	if in.Name != nil {
		name = *in.Name
	}
	if problems := checkName(name); len(problems) > 0 {
		badRequest(w, problems...)
		return
	}
	metadata, hooks, problems := parseConfig(in.Config)
	if len(problems) > 0 {
		badRequest(w, problems...)
		return
	}
	s.mu.Lock()
	if _, ok := s.sessions[name]; ok {
		s.mu.Unlock()
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("Session '%s' already exists. Use PUT to update it.", name))
		return
	}
	ss := newSession(name)
	ss.config, ss.metadata, ss.hooks = configOrNil(in.Config), metadata, hooks
	s.sessions[name] = ss
	s.log.Info("waha stand-in: session created", "session", name, "webhooks", len(hooks))
	if in.Start == nil || *in.Start {
		s.startLocked(ss)
	} else {
		s.notifyLocked()
	}
	dto := ss.dto()
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, dto)
}

// checkName refuses names WAHA cannot store (it keeps sessions in folders
// and databases named after them).
func checkName(name string) []string {
	if name == "" || len(name) > 64 {
		return []string{"name must have 1 to 64 characters"}
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return []string{"name may only contain letters, digits, _ and -"}
		}
	}
	return nil
}

func configOrNil(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	return raw
}

// showSession is GET /api/sessions/{session}.
func (s *Server) showSession(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inSession(w, r, p["session"], nil, func(ss *session) reply {
		return reply{status: http.StatusOK, body: ss.info()}
	})
}

// updateSession is PUT /api/sessions/{session}: a new config; a running
// session restarts with it.
func (s *Server) updateSession(w http.ResponseWriter, r *http.Request, p sim.Params) {
	var in struct {
		Config json.RawMessage `json:"config"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	metadata, hooks, problems := parseConfig(in.Config)
	if len(problems) > 0 {
		badRequest(w, problems...)
		return
	}
	s.inSession(w, r, p["session"], nil, func(ss *session) reply {
		ss.config, ss.metadata, ss.hooks = configOrNil(in.Config), metadata, hooks
		s.log.Info("waha stand-in: session updated", "session", ss.name, "webhooks", len(hooks))
		if ss.running() {
			s.stopLocked(ss)
			s.startLocked(ss)
		}
		return reply{status: http.StatusOK, body: ss.dto()}
	})
}

// deleteSession is DELETE /api/sessions/{session}: stop, log out, remove.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inSession(w, r, p["session"], nil, func(ss *session) reply {
		s.stopLocked(ss)
		ss.timer.Stop()
		delete(s.sessions, ss.name)
		s.notifyLocked()
		s.log.Info("waha stand-in: session deleted", "session", ss.name)
		return reply{status: http.StatusOK, empty: true}
	})
}

// showMe is GET /api/sessions/{session}/me: the account, or an empty body
// before the phone is linked.
func (s *Server) showMe(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inSession(w, r, p["session"], nil, func(ss *session) reply {
		if me := ss.meInfo(); me != nil {
			return reply{status: http.StatusOK, body: me}
		}
		return reply{status: http.StatusOK, empty: true}
	})
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inSession(w, r, p["session"], nil, func(ss *session) reply {
		s.startLocked(ss)
		return reply{status: http.StatusCreated, body: ss.dto()}
	})
}

func (s *Server) stopSession(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inSession(w, r, p["session"], nil, func(ss *session) reply {
		s.stopLocked(ss)
		return reply{status: http.StatusCreated, body: ss.dto()}
	})
}

func (s *Server) restartSession(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inSession(w, r, p["session"], nil, func(ss *session) reply {
		s.stopLocked(ss)
		s.startLocked(ss)
		return reply{status: http.StatusCreated, body: ss.dto()}
	})
}

// logoutSession unlinks the phone; a running session restarts and waits
// for a new scan.
func (s *Server) logoutSession(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inSession(w, r, p["session"], nil, func(ss *session) reply {
		wasRunning := ss.running()
		ss.paired, ss.me, ss.pairPhone, ss.pairingCode = false, nil, "", ""
		s.log.Info("waha stand-in: session logged out", "session", ss.name)
		if wasRunning {
			s.stopLocked(ss)
			s.startLocked(ss)
		} else {
			s.notifyLocked()
		}
		return reply{status: http.StatusCreated, body: ss.dto()}
	})
}

// showQR is GET /api/{session}/auth/qr: PNG bytes, {mimetype, data} when
// Accept is exactly application/json, or {value} with format=raw.
func (s *Server) showQR(w http.ResponseWriter, r *http.Request, p sim.Params) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "image"
	}
	if format != "image" && format != "raw" {
		badRequest(w, "format must be one of the following values: image, raw")
		return
	}
	var value string
	s.inSession(w, r, p["session"], []string{StatusScanQR}, func(ss *session) reply {
		value = ss.qr
		return reply{}
	})
	if value == "" {
		return // answered by inSession
	}
	if format == "raw" {
		writeJSON(w, http.StatusOK, map[string]string{"value": value})
		return
	}
	png, err := sim.QRPNG(value)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if r.Header.Get("Accept") == "application/json" {
		writeJSON(w, http.StatusOK, map[string]string{"mimetype": "image/png", "data": base64.StdEncoding.EncodeToString(png)})
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(png) // nothing to do when the caller is gone
}

// requestCode is POST /api/{session}/auth/request-code: a code to type on
// the phone instead of scanning; the phone number becomes the session's.
func (s *Server) requestCode(w http.ResponseWriter, r *http.Request, p sim.Params) {
	var in struct {
		PhoneNumber string `json:"phoneNumber"`
		Method      string `json:"method"`
	}
	if !decodeBody(w, r, &in) {
		return
	}
	phone := sim.CleanPhone(in.PhoneNumber)
	if phone == "" {
		badRequest(w, "phoneNumber must be a phone number in international format")
		return
	}
	s.inSession(w, r, p["session"], []string{StatusScanQR}, func(ss *session) reply {
		ss.pairPhone, ss.pairingCode = phone, sim.NewPairingCode()
		s.notifyLocked()
		return reply{status: http.StatusCreated, body: map[string]string{"code": ss.pairingCode}}
	})
}

// newMessageID is GET /api/{session}/new-message-id.
func (s *Server) newMessageID(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inSession(w, r, p["session"], nil, func(ss *session) reply {
		return reply{status: http.StatusOK, body: map[string]string{"id": newOutgoingKey()}}
	})
}

// sendRequest holds the fields of sendText and sendPoll.
type sendRequest struct {
	Session *string `json:"session"`
	ChatID  string  `json:"chatId"`
	ID      *string `json:"id"`
	ReplyTo *string `json:"reply_to"`
	Text    *string `json:"text"`
	Poll    *struct {
		Name            string          `json:"name"`
		Options         []string        `json:"options"`
		MultipleAnswers json.RawMessage `json:"multipleAnswers"`
	} `json:"poll"`
}

// check validates the common fields and returns the session and chat.
func (in sendRequest) check() (name, chat string, problems []string) {
	name, chat, problems = checkSessionChat(in.Session, in.ChatID)
	if in.ID != nil && (*in.ID == "" || strings.ContainsAny(*in.ID, "_@/ ")) {
		problems = append(problems, "id must be a message id from GET /api/{session}/new-message-id")
	}
	return name, chat, problems
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// sendText is POST /api/sendText.
func (s *Server) sendText(w http.ResponseWriter, r *http.Request, _ sim.Params) {
	var in sendRequest
	if !decodeBody(w, r, &in) {
		return
	}
	name, chat, problems := in.check()
	if in.Text == nil || strings.TrimSpace(*in.Text) == "" {
		problems = append(problems, "text should not be empty")
	}
	if s.refusesSendsTo(chat) {
		problems = append(problems, "the chat "+chat+" cannot receive messages")
	}
	if len(problems) > 0 {
		badRequest(w, problems...)
		return
	}
	s.inSession(w, r, name, working, func(ss *session) reply {
		m := s.sendLocked(ss, chat, deref(in.ID), "api", content{body: *in.Text}, deref(in.ReplyTo))
		return reply{status: http.StatusCreated, body: m.payload(ss.me)}
	})
}

// sendPoll is POST /api/sendPoll.
func (s *Server) sendPoll(w http.ResponseWriter, r *http.Request, _ sim.Params) {
	var in sendRequest
	if !decodeBody(w, r, &in) {
		return
	}
	name, chat, problems := in.check()
	var poll Poll
	switch {
	case in.Poll == nil:
		problems = append(problems, "poll should not be empty")
	default:
		poll.Name, poll.Options = in.Poll.Name, in.Poll.Options
		if strings.TrimSpace(poll.Name) == "" {
			problems = append(problems, "poll.name should not be empty")
		}
		if len(poll.Options) < 2 || len(poll.Options) > 12 {
			problems = append(problems, "poll.options must have 2 to 12 options")
		}
		for i, o := range poll.Options {
			if strings.TrimSpace(o) == "" || slices.Contains(poll.Options[:i], o) {
				problems = append(problems, "poll.options must be different and not empty")
				break
			}
		}
		if len(in.Poll.MultipleAnswers) == 0 || json.Unmarshal(in.Poll.MultipleAnswers, &poll.MultipleAnswers) != nil {
			problems = append(problems, "poll.multipleAnswers must be a boolean value")
		}
	}
	if s.refusesSendsTo(chat) {
		problems = append(problems, "the chat "+chat+" cannot receive messages")
	}
	if len(problems) > 0 {
		badRequest(w, problems...)
		return
	}
	s.inSession(w, r, name, working, func(ss *session) reply {
		m := s.sendLocked(ss, chat, deref(in.ID), "api", content{poll: &poll}, deref(in.ReplyTo))
		return reply{status: http.StatusCreated, body: m.payload(ss.me)}
	})
}

// imageRequest is sendImage's body (MessageImageRequest). The pre-generated
// id is not in WAHA's spec for images: the stand-in checks it as sendText
// does but uses it only with Options.ImageIDs.
type imageRequest struct {
	sendRequest
	Caption *string `json:"caption"`
	File    *struct {
		Mimetype string  `json:"mimetype"`
		Filename string  `json:"filename"`
		Data     *string `json:"data"`
		URL      *string `json:"url"`
	} `json:"file"`
}

// maxImage bounds an image's bytes, as WhatsApp does (16 MB for media; the
// stand-in takes 16 MiB).
const maxImage = 16 << 20

// check validates the file and returns its bytes as an image.
func (in imageRequest) check() (name, chat string, media *Media, data []byte, problems []string) {
	name, chat, problems = in.sendRequest.check()
	f := in.File
	switch {
	case f == nil:
		return name, chat, nil, nil, append(problems, "file should not be empty")
	case f.URL != nil:
		return name, chat, nil, nil, append(problems, "file.url: the stand-in takes file.data (base64) only")
	case f.Data == nil || *f.Data == "":
		problems = append(problems, "file.data should not be empty")
	default:
		var err error
		if data, err = base64.StdEncoding.DecodeString(*f.Data); err != nil {
			problems = append(problems, "file.data must be base64: "+err.Error())
		} else if len(data) > maxImage {
			problems = append(problems, "file.data is larger than 16 MiB")
		}
	}
	if !strings.HasPrefix(f.Mimetype, "image/") {
		problems = append(problems, "file.mimetype must be an image type, like image/jpeg")
	}
	if in.Caption != nil && utf8.RuneCountInString(*in.Caption) > 1024 {
		problems = append(problems, "caption must be at most 1024 characters")
	}
	return name, chat, &Media{Type: "image", Mimetype: f.Mimetype, Filename: f.Filename, Caption: deref(in.Caption)}, data, problems
}

// sendImage is POST /api/sendImage: the image is recorded with its type,
// size and caption, and shown on the phone page.
func (s *Server) sendImage(w http.ResponseWriter, r *http.Request, _ sim.Params) {
	var in imageRequest
	if !decodeBodyUpTo(w, r, &in, maxImage*4/3+maxBody) {
		return
	}
	name, chat, media, data, problems := in.check()
	if len(problems) > 0 {
		badRequest(w, problems...)
		return
	}
	id := ""
	if s.imageIDs {
		id = deref(in.ID)
	}
	s.inSession(w, r, name, working, func(ss *session) reply {
		m := s.sendLocked(ss, chat, id, "api", content{body: media.Caption, media: media, file: data}, deref(in.ReplyTo))
		return reply{status: http.StatusCreated, body: m.payload(ss.me)}
	})
}

// chatRequest is sendSeen's and the typing calls' body.
type chatRequest struct {
	Session    *string  `json:"session"`
	ChatID     string   `json:"chatId"`
	MessageID  string   `json:"messageId"`
	MessageIDs []string `json:"messageIds"`
}

func (in chatRequest) check() (name, chat string, problems []string) {
	return checkSessionChat(in.Session, in.ChatID)
}

// checkSessionChat validates a body's session (WAHA's default when absent)
// and chat id.
func checkSessionChat(session *string, chatID string) (name, chat string, problems []string) {
	name = "default"
	if session != nil {
		name = *session
	}
	if name == "" {
		problems = append(problems, "session should not be empty")
	}
	if chat = normalChat(chatID); chat == "" {
		problems = append(problems, "chatId must be a chat id like 11111111111@c.us")
	}
	return name, chat, problems
}

// sendSeen is POST /api/sendSeen: the chat's incoming messages (or the
// ones listed) are marked read.
func (s *Server) sendSeen(w http.ResponseWriter, r *http.Request, _ sim.Params) {
	var in chatRequest
	if !decodeBody(w, r, &in) {
		return
	}
	name, chat, problems := in.check()
	if len(problems) > 0 {
		badRequest(w, problems...)
		return
	}
	ids := in.MessageIDs
	if in.MessageID != "" {
		ids = append(ids, in.MessageID)
	}
	s.inSession(w, r, name, working, func(ss *session) reply {
		for _, m := range ss.messages {
			if m.fromMe || !ss.sameChat(m.chatID, chat) {
				continue
			}
			if len(ids) == 0 || slices.ContainsFunc(ids, func(id string) bool { return keyOf(id) == m.key }) {
				m.seen = true
			}
		}
		s.notifyLocked()
		return reply{status: http.StatusCreated, body: map[string]any{}}
	})
}

func (s *Server) startTyping(w http.ResponseWriter, r *http.Request, _ sim.Params) {
	s.typing(w, r, true)
}

func (s *Server) stopTyping(w http.ResponseWriter, r *http.Request, _ sim.Params) {
	s.typing(w, r, false)
}

func (s *Server) typing(w http.ResponseWriter, r *http.Request, on bool) {
	var in chatRequest
	if !decodeBody(w, r, &in) {
		return
	}
	name, chat, problems := in.check()
	if len(problems) > 0 {
		badRequest(w, problems...)
		return
	}
	s.inSession(w, r, name, working, func(ss *session) reply {
		if on {
			ss.typing[chat] = true
		} else {
			delete(ss.typing, chat)
		}
		s.notifyLocked()
		return reply{status: http.StatusCreated, body: map[string]any{}}
	})
}

// showMessage is GET /api/{session}/chats/{chatId}/messages/{messageId}.
func (s *Server) showMessage(w http.ResponseWriter, r *http.Request, p sim.Params) {
	chat := normalChat(p["chatId"])
	if chat == "" {
		badRequest(w, "chatId must be a chat id like 11111111111@c.us")
		return
	}
	s.inSession(w, r, p["session"], working, func(ss *session) reply {
		m := ss.find(p["messageId"])
		if m == nil || !ss.sameChat(m.chatID, chat) {
			return reply{status: http.StatusNotFound, body: map[string]any{"statusCode": 404, "message": "Message not found", "error": "Not Found"}}
		}
		return reply{status: http.StatusOK, body: m.payload(ss.me)}
	})
}

// listMessages is GET /api/{session}/chats/{chatId}/messages with the
// limit (required), sortOrder (desc by default here: newest first),
// filter.fromMe and filter.timestamp.gte parameters; media is never
// downloaded.
func (s *Server) listMessages(w http.ResponseWriter, r *http.Request, p sim.Params) {
	chat := normalChat(p["chatId"])
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	since, serr := strconv.ParseFloat(orZero(q.Get("filter.timestamp.gte")), 64)
	if chat == "" || err != nil || limit < 1 || serr != nil {
		badRequest(w, "chatId must be a chat id, limit a positive number, filter.timestamp.gte a number")
		return
	}
	fromMe := q.Get("filter.fromMe")
	s.inSession(w, r, p["session"], working, func(ss *session) reply {
		out := []messagePayload{}
		for i := len(ss.messages) - 1; i >= 0 && len(out) < limit; i-- {
			m := ss.messages[i]
			if !ss.sameChat(m.chatID, chat) || float64(m.time.Unix()) < since ||
				(fromMe != "" && strconv.FormatBool(m.fromMe) != fromMe) {
				continue
			}
			out = append(out, m.payload(ss.me))
		}
		if q.Get("sortOrder") == "asc" {
			slices.Reverse(out)
		}
		return reply{status: http.StatusOK, body: out}
	})
}

func orZero(s string) string {
	if s == "" {
		return "0"
	}
	return s
}

// checkNumberStatus is GET /api/checkNumberStatus?phone=&session=.
func (s *Server) checkNumberStatus(w http.ResponseWriter, r *http.Request, _ sim.Params) {
	q := r.URL.Query()
	name := q.Get("session")
	if !q.Has("session") {
		name = "default"
	}
	if q.Get("phone") == "" {
		badRequest(w, "phone should not be empty")
		return
	}
	phone := sim.CleanPhone(q.Get("phone"))
	s.inSession(w, r, name, working, func(ss *session) reply {
		if phone == "" || s.Absent(phone, nil) {
			return reply{status: http.StatusOK, body: map[string]any{"numberExists": false}}
		}
		return reply{status: http.StatusOK, body: map[string]any{"numberExists": true, "chatId": phone + "@c.us"}}
	})
}

// showLID is GET /api/{session}/lids/{lid}: {lid, pn}, pn null when the
// phone number behind the lid is not known.
func (s *Server) showLID(w http.ResponseWriter, r *http.Request, p sim.Params) {
	lid := sim.NormalLID(p["lid"])
	if lid == "" {
		badRequest(w, "lid must be like 123123@lid")
		return
	}
	s.inSession(w, r, p["session"], working, func(ss *session) reply {
		var pn *string
		if v := ss.lids[lid]; v != "" {
			pn = &v
		}
		return reply{status: http.StatusOK, body: map[string]any{"lid": lid, "pn": pn}}
	})
}
