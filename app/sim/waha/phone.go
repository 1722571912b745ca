package waha

import (
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// phoneFiles are the phone page's template, style and script.
//
//go:embed phone
var phoneFiles embed.FS

// phonePage is the "phone" of a person using make dev: GET /phone lists the
// sessions; GET /phone/{session} shows the QR code to scan, then the chats.
// Its forms post to /phone/{session}/{action}; they work without
// JavaScript (303 back to the page), and phone.js sends them with fetch and
// long-polls ?live=1 for the part of the page that changes.
type phonePage struct {
	s    *Server
	tmpl *template.Template
}

func newPhonePage(s *Server) *phonePage {
	tmpl := template.Must(template.New("phone").ParseFS(phoneFiles, "phone/page.html"))
	return &phonePage{s: s, tmpl: tmpl}
}

func (pp *phonePage) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /phone", pp.list)
	mux.HandleFunc("GET /phone/{$}", pp.list)
	mux.HandleFunc("GET /phone/assets/phone.css", pp.asset("phone/phone.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /phone/assets/phone.js", pp.asset("phone/phone.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /phone/{session}", pp.show)
	mux.HandleFunc("GET /phone/{session}/qr.png", pp.qr)
	mux.HandleFunc("POST /phone/{session}/{action}", pp.act)
}

func (pp *phonePage) asset(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, err := phoneFiles.ReadFile(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(data) // nothing to do when the caller is gone
	}
}

// listView is the sessions list.
type listView struct {
	Sessions []SessionState
	Version  int
}

// sessionView is one session's page.
type sessionView struct {
	Name   string
	Status string
	Me     *Account
	// QR fields, in SCAN_QR_CODE.
	QRKey        string
	QRNumber     int
	MaxQRs       int
	QRExpiresMs  int64
	QRExpiresIn  int
	PairingCode  string
	PairingPhone string
	Webhooks     []string
	// AccountPhone and AccountName are the account a scan links.
	AccountPhone string
	AccountName  string

	Chats   []chatRow
	Chat    *chatView
	ChatKey string
	Lead    leadForm
	Error   string
	Version int
}

// chatRow is one conversation in the chats list.
type chatRow struct {
	Key      string
	Title    string
	Selected bool
	Unread   int
}

// chatView is the open conversation.
type chatView struct {
	Title    string
	Messages []messageView
	Typing   bool
}

type messageView struct {
	// Lead: the lead wrote it; otherwise the business did.
	Lead      bool
	Body      string
	Time      string
	Source    string
	Ticks     string
	TickClass string
	Poll      *pollView
	// Media names what a media message carries ("photo", "voice note").
	Media string
	// Image is an image the app sent, as a data: URL.
	Image template.URL
}

type pollView struct {
	ID        string
	Name      string
	InputType string
	Options   []optionView
	// Voted: the lead has a vote in, which they may change or withdraw.
	Voted bool
}

type optionView struct {
	Text   string
	Chosen bool
	Votes  int
}

// leadForm holds the lead form's values.
type leadForm struct {
	Phone string
	Name  string
	LID   string
}

// list is GET /phone.
func (pp *phonePage) list(w http.ResponseWriter, r *http.Request) {
	live := r.URL.Query().Has("live")
	if live {
		pp.wait(r)
	}
	s := pp.s
	s.mu.Lock()
	v := listView{Version: s.version}
	for _, name := range sortedNames(s.sessions) {
		v.Sessions = append(v.Sessions, s.sessions[name].state())
	}
	s.mu.Unlock()
	if live {
		pp.render(w, "list-live", v, v.Version)
		return
	}
	pp.render(w, "list", v, v.Version)
}

// show is GET /phone/{session}; ?live=1 gives the changing part only.
func (pp *phonePage) show(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	live := q.Has("live")
	if live {
		pp.wait(r)
	}
	v, ok := pp.view(r.PathValue("session"), q.Get("chat"))
	if !ok {
		if live {
			w.Header().Set("X-Version", strconv.Itoa(v.Version))
			http.Error(w, "no such session", http.StatusNotFound)
			return
		}
		http.Redirect(w, r, "/phone", http.StatusSeeOther)
		return
	}
	v.Error = q.Get("err")
	if live {
		pp.render(w, "session-live", v, v.Version)
		return
	}
	pp.render(w, "session", v, v.Version)
}

// wait holds a live request until something changes after the version the
// page has (v), for at most 25 s.
func (pp *phonePage) wait(r *http.Request) {
	since, err := strconv.Atoi(r.URL.Query().Get("v"))
	if err != nil {
		return
	}
	s := pp.s
	t := time.NewTimer(25 * time.Second)
	defer t.Stop()
	for {
		s.mu.Lock()
		if s.version != since {
			s.mu.Unlock()
			return
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-t.C:
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (pp *phonePage) render(w http.ResponseWriter, name string, data any, version int) {
	var b strings.Builder
	if err := pp.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		pp.s.log.Error("waha stand-in: render phone page", "template", name, "err", err)
		http.Error(w, "render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Version", strconv.Itoa(version))
	_, _ = w.Write([]byte(b.String())) // nothing to do when the caller is gone
}

// leadKey is the conversation a chat id belongs to: the phone digits for
// people (a …@lid mapped to a phone joins that phone's conversation), else
// the chat id.
func (ss *session) leadKey(chatID string) string {
	if pn := ss.lids[chatID]; pn != "" {
		chatID = pn
	}
	if user, ok := strings.CutSuffix(chatID, "@c.us"); ok {
		return user
	}
	return chatID
}

// view builds a session's page; chat is the open conversation's key.
func (pp *phonePage) view(name, chat string) (sessionView, bool) {
	s := pp.s
	s.mu.Lock()
	defer s.mu.Unlock()
	v := sessionView{Name: name, Version: s.version, MaxQRs: s.timing.MaxQRs}
	ss, ok := s.sessions[name]
	if !ok {
		return v, false
	}
	st := ss.state()
	v.Status, v.Me, v.Webhooks = st.Status, st.Me, st.Webhooks
	v.PairingCode, v.PairingPhone = st.PairingCode, st.PairingPhone
	if st.Status == StatusScanQR {
		h := fnv.New32a()
		h.Write([]byte(st.QR))
		v.QRKey = strconv.FormatUint(uint64(h.Sum32()), 16)
		v.QRNumber = st.QRNumber
		v.QRExpiresMs = st.QRExpires.UnixMilli()
		v.QRExpiresIn = max(0, int(time.Until(st.QRExpires).Round(time.Second)/time.Second))
	}
	a := s.accountLocked(ss)
	v.AccountPhone, v.AccountName = a.Phone, a.PushName

	// Conversations, most recent first.
	type convo struct {
		key    string
		name   string
		lid    string
		last   time.Time
		unread int
		msgs   []*message
	}
	convos := map[string]*convo{}
	for _, m := range ss.messages {
		key := ss.leadKey(m.chatID)
		c, ok := convos[key]
		if !ok {
			c = &convo{key: key}
			convos[key] = c
		}
		c.msgs = append(c.msgs, m)
		c.last = m.time
		if !m.fromMe {
			if m.pushName != "" {
				c.name = m.pushName
			}
			if strings.HasSuffix(m.chatID, "@lid") {
				c.lid = strings.TrimSuffix(m.chatID, "@lid")
			}
		} else if m.ack < ackRead {
			c.unread++
		}
	}
	order := make([]*convo, 0, len(convos))
	for _, c := range convos {
		order = append(order, c)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].last.After(order[j].last) })
	switch {
	case chat == "new": // "New chat": open none
		chat = ""
	case chat == "" && len(order) > 0:
		chat = order[0].key
	}
	v.ChatKey = chat
	title := func(c *convo) string {
		label := c.key
		if validPhone(c.key) {
			label = "+" + c.key
		}
		if c.name != "" {
			return c.name + " · " + label
		}
		return label
	}
	for _, c := range order {
		v.Chats = append(v.Chats, chatRow{Key: c.key, Title: title(c), Selected: c.key == chat, Unread: c.unread})
	}
	if chat == "" {
		return v, true
	}
	c, ok := convos[chat]
	if !ok {
		c = &convo{key: chat}
	}
	if validPhone(c.key) {
		v.Lead.Phone = "+" + c.key
	}
	v.Lead.Name, v.Lead.LID = c.name, c.lid
	if lid, ok := strings.CutSuffix(c.key, "@lid"); ok {
		v.Lead.LID = lid
	}
	cv := &chatView{Title: title(c)}
	for chatID := range ss.typing {
		if ss.leadKey(chatID) == chat {
			cv.Typing = true
		}
	}
	for _, m := range c.msgs {
		cv.Messages = append(cv.Messages, messageViewOf(m))
	}
	v.Chat = cv
	return v, true
}

func messageViewOf(m *message) messageView {
	mv := messageView{Lead: !m.fromMe, Body: m.body, Time: m.time.Format("15:04")}
	switch {
	case m.media != nil && len(m.file) > 0 && strings.HasPrefix(m.media.Mimetype, "image/"):
		// The stand-in's own record of bytes it was sent, under an image
		// type it checked: safe as a data: URL.
		mv.Image = template.URL("data:" + m.media.Mimetype + ";base64," + base64.StdEncoding.EncodeToString(m.file)) //nolint:gosec // see above
	case m.media != nil:
		mv.Media = map[string]string{"image": "photo", "audio": "voice note", "video": "video", "document": "document"}[m.media.Type]
	}
	switch {
	case !m.fromMe && m.seen:
		mv.Ticks, mv.TickClass, mv.Source = "✓✓", "read", "read by the business"
	case !m.fromMe:
		mv.Ticks, mv.Source = "✓✓", "not read yet"
	case m.source == "api":
		mv.Source = "sent by the app"
	default:
		mv.Source = "owner, from the phone"
	}
	if m.fromMe {
		switch {
		case m.ack >= ackRead:
			mv.Ticks, mv.TickClass = "✓✓", "read"
		case m.ack == ackDevice:
			mv.Ticks = "✓✓"
		default:
			mv.Ticks = "✓"
		}
	}
	if m.poll != nil {
		pv := &pollView{ID: m.id, Name: m.poll.Name, InputType: "radio"}
		if m.poll.MultipleAnswers {
			pv.InputType = "checkbox"
		}
		for _, o := range m.poll.Options {
			ov := optionView{Text: o}
			for voter, chosen := range m.votes {
				for _, c := range chosen {
					if c == o {
						ov.Votes++
						if voter == m.chatID {
							ov.Chosen, pv.Voted = true, true
						}
					}
				}
			}
			pv.Options = append(pv.Options, ov)
		}
		mv.Poll = pv
	}
	return mv
}

// qr is GET /phone/{session}/qr.png, the current QR code.
func (pp *phonePage) qr(w http.ResponseWriter, r *http.Request) {
	st, err := pp.s.Session(r.PathValue("session"))
	if err != nil || st.QR == "" {
		http.NotFound(w, r)
		return
	}
	png, err := qrPNG(st.QR)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(png) // nothing to do when the caller is gone
}

// act is POST /phone/{session}/{action}. A fetch from phone.js (header
// X-Phone-Fetch) gets 204 with the conversation to open in X-Chat, or 400
// with the problem; a plain form post gets 303 back to the page.
func (pp *phonePage) act(w http.ResponseWriter, r *http.Request) {
	session := r.PathValue("session")
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		pp.done(w, r, session, "", fmt.Errorf("read form: %w", err))
		return
	}
	f := r.PostForm
	chat := f.Get("chat")
	var err error
	switch r.PathValue("action") {
	case "scan":
		err = pp.s.Scan(session)
	case "rotate":
		err = pp.s.RotateQR(session)
	case "start":
		err = pp.start(session)
	case "drop":
		err = pp.s.DropSession(session)
	case "account":
		phone := cleanPhone(f.Get("phone"))
		if phone == "" {
			err = fmt.Errorf("phone %q: %w", f.Get("phone"), ErrInvalid)
			break
		}
		pp.s.SetAccount(session, phone, strings.TrimSpace(f.Get("name")))
	case "lead":
		chat, err = pp.lead(session, f)
	case "owner":
		to := f.Get("to")
		if _, err = pp.s.OwnerSaysFromPhone(session, to, f.Get("text")); err == nil {
			chat = strings.TrimSuffix(chatFor(to), "@c.us")
		}
	case "read":
		err = pp.readChat(session, chat)
	case "vote":
		err = pp.vote(session, f)
	default:
		http.NotFound(w, r)
		return
	}
	pp.done(w, r, session, chat, err)
}

// vote sends the lead's vote in a poll: the options ticked, none to
// withdraw the vote, or a vote WAHA cannot decrypt.
func (pp *phonePage) vote(session string, f url.Values) error {
	var err error
	switch {
	case f.Get("failed") != "":
		_, err = pp.s.LeadVoteFails(session, "", f.Get("poll"))
	case f.Get("withdraw") != "":
		_, err = pp.s.LeadVotes(session, "", f.Get("poll"))
	default:
		_, err = pp.s.LeadVotes(session, "", f.Get("poll"), f["option"]...)
	}
	return err
}

func (pp *phonePage) done(w http.ResponseWriter, r *http.Request, session, chat string, err error) {
	if r.Header.Get("X-Phone-Fetch") != "" {
		if err != nil {
			http.Error(w, problem(err), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Chat", chat)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	q := url.Values{}
	if chat != "" {
		q.Set("chat", chat)
	}
	if err != nil {
		q.Set("err", problem(err))
	}
	target := "/phone/" + url.PathEscape(session)
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// problem words an error for the person at the page.
func problem(err error) string {
	switch {
	case errors.Is(err, ErrWrongStatus):
		return "The session is not in the right status for that: " + err.Error()
	case errors.Is(err, ErrUnknownSession):
		return "That session does not exist (any more)."
	}
	return err.Error()
}

// lead sends the lead form: the lead has the conversation open, so what the
// business sent is read first, then the message goes out.
func (pp *phonePage) lead(session string, f url.Values) (string, error) {
	phone, lid := strings.TrimSpace(f.Get("phone")), strings.TrimSpace(f.Get("lid"))
	name, text := strings.TrimSpace(f.Get("name")), f.Get("text")
	var chat string
	switch {
	case lid != "":
		l := normalLID(lid)
		if l == "" {
			return "", fmt.Errorf("lid %q must be digits: %w", lid, ErrInvalid)
		}
		chat = l
		if d := cleanPhone(phone); d != "" {
			chat = d
		}
	default:
		d := cleanPhone(phone)
		if d == "" {
			return "", fmt.Errorf("phone %q: %w", phone, ErrInvalid)
		}
		chat = d
	}
	if err := pp.readChat(session, chat); err != nil && !errors.Is(err, ErrWrongStatus) {
		return chat, err
	}
	var err error
	switch media := f.Get("media"); {
	case media != "" && lid == "":
		_, err = pp.s.LeadSendsMedia(session, phone, name, phoneMedia(media, text))
	case lid != "":
		_, err = pp.s.LeadSaysAsLID(session, lid, phone, name, text)
	default:
		_, err = pp.s.LeadSays(session, phone, name, text)
	}
	return chat, err
}

// phoneMedia is the file the phone page's lead sends for a media choice.
func phoneMedia(typ, caption string) Media {
	m := Media{Type: typ, Caption: strings.TrimSpace(caption)}
	switch typ {
	case "image":
		m.Mimetype = "image/jpeg"
	case "audio":
		m.Mimetype, m.Caption = "audio/ogg; codecs=opus", "" // voice notes have no caption
	case "document":
		m.Mimetype, m.Filename = "application/pdf", "price-list.pdf"
	}
	return m
}

// readChat reads what the business sent in a conversation.
func (pp *phonePage) readChat(session, chat string) error {
	s := pp.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.workingLocked("read", session)
	if err != nil {
		return err
	}
	for _, m := range ss.messages {
		if m.fromMe && m.ack < ackRead && ss.leadKey(m.chatID) == chat {
			s.readLocked(ss, m)
		}
	}
	return nil
}

// start starts a stopped or failed session, as the app's restart would.
func (pp *phonePage) start(session string) error {
	s := pp.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.sessions[session]
	if !ok {
		return fmt.Errorf("start %q: %w", session, ErrUnknownSession)
	}
	s.startLocked(ss)
	return nil
}
