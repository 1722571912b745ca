// Package phone is the "phone" page of the WhatsApp gateway stand-ins
// (app/sim/waha, app/sim/evolution), for a person using make dev: GET
// /phone lists the sessions; GET /phone/{session} shows the QR code to
// scan, then the chats, where the person writes as a lead, sees what the
// app answered, votes in polls (and changes or withdraws the vote) and
// writes as the owner from the phone.
//
// Its forms post to /phone/{session}/{action}; they work without
// JavaScript (303 back to the page), and phone.js sends them with fetch and
// long-polls ?live=1 for the part of the page that changes. A stand-in
// plugs in through Backend, which shows its sessions in neutral terms
// (Session, Message) and carries out the page's actions with its control
// methods. The page needs no API key: bind the stand-in to loopback.
package phone

import (
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/myaibud/aibud/app/sim"
	"github.com/myaibud/aibud/app/sim/samples"
)

// files are the page's template, style and script.
//
//go:embed page.html phone.css phone.js
var files embed.FS

// maxForm bounds the forms posted.
const maxForm = 1 << 20

// Phase is where a session is, as the page shows it.
type Phase string

// The phases of a session.
const (
	Stopped  Phase = "stopped"
	Starting Phase = "starting"
	ScanQR   Phase = "qr"
	Working  Phase = "working"
)

// Account is the WhatsApp account of the phone.
type Account struct {
	// Phone is the number in E.164, e.g. +15551234567.
	Phone    string
	PushName string
}

// Session is what the page shows of a session (an Evolution instance).
type Session struct {
	Name string
	// Status is the stand-in's own word for it (SCAN_QR_CODE, connecting…).
	Status string
	Phase  Phase
	// Me is the linked account while Working.
	Me *Account
	// QR is the current code while in ScanQR; QRNumber counts the codes of
	// this attempt, up to MaxQRs; QRExpires is when it is replaced.
	QR        string
	QRNumber  int
	MaxQRs    int
	QRExpires time.Time
	// PairingCode is the last pairing code, for PairingPhone.
	PairingCode  string
	PairingPhone string
	Webhooks     []string
	// Account is the account a scan links.
	Account Account
	// Messages are the session's messages, oldest first.
	Messages []Message
	// Typing holds the conversations where the app shows "typing…".
	Typing map[string]bool
}

// Message is one message of a session, either way.
type Message struct {
	// ID identifies a poll when the lead votes in it.
	ID string
	// Chat is the conversation: the lead's phone digits, or the chat id
	// (…@lid) when no phone is known.
	Chat string
	// FromMe: the business sent it; FromApp: through the API (else from
	// the phone).
	FromMe  bool
	FromApp bool
	// PushName and LID (digits) are the sender's, on a lead's message.
	PushName string
	LID      string
	Body     string
	Time     time.Time
	// Delivered and Read are the ticks of a message the business sent;
	// Read on a lead's message means the business read it.
	Delivered bool
	Read      bool
	Poll      *Poll
	// Media names the type of a media message (image, audio, video,
	// document); Image holds the bytes of an image (sent by the app, or by
	// the lead with Data), of ImageMime; FileName is a document's name and
	// Duration a voice note's length (0 when unknown). SetMedia fills them.
	Media     string
	Image     []byte
	ImageMime string
	FileName  string
	Duration  time.Duration
}

// SetMedia fills the media fields of m from what a message carries: media
// and its bytes, data (nil when the stand-in has only a placeholder).
func (m *Message) SetMedia(media *Media, data []byte) {
	m.Media, m.FileName = media.Type, media.Filename
	switch {
	case len(data) == 0:
	case media.Type == "image":
		m.Image, m.ImageMime = data, media.Mimetype
	case media.Type == "audio":
		m.Duration = samples.OggDuration(data)
	}
}

// Poll is a poll's question, options and votes.
type Poll struct {
	Name     string
	Options  []string
	Multiple bool
	// Votes are the current votes, by voter chat id; Voter is the chat id
	// of the conversation's lead.
	Votes map[string][]string
	Voter string
}

// Media is a file a lead sends: a photo, a voice note, a video or a
// document, with an optional caption.
type Media struct {
	// Type is image, audio (a voice note), video or document.
	Type     string
	Mimetype string
	Filename string
	Caption  string
	// Data is the file's bytes; the gateway serves them to the app (WAHA's
	// /api/files/…, Evolution's getBase64FromMediaMessage). Without Data
	// the stand-in makes up a placeholder (Evolution) or its file is
	// missing (WAHA).
	Data []byte
}

// Backend is a stand-in as the page drives it. Errors are the stand-in's,
// wrapping the errors of package sim.
type Backend interface {
	// Sessions lists the sessions, without messages; Session returns one
	// in full.
	Sessions() []Session
	Session(name string) (Session, bool)
	// Changes returns the version of what the page shows and a channel
	// closed when it changes.
	Changes() (version int, changed <-chan struct{})
	Scan(session string) error
	RotateQR(session string) error
	// Start starts a stopped session, as the app would.
	Start(session string) error
	// Drop makes the session go away, as the page's "Make trouble" says.
	Drop(session string) error
	SetAccount(session, phone, pushName string)
	// LeadSays, LeadSaysAsLID (phone may be empty) and LeadSendsMedia
	// return the conversation the message went to, "" when it is the
	// phone's digits or the …@lid.
	LeadSays(session, phone, pushName, text string) (chat string, err error)
	LeadSaysAsLID(session, lid, phone, pushName, text string) (chat string, err error)
	LeadSendsMedia(session, phone, pushName string, m Media) (chat string, err error)
	// OwnerSays writes from the phone to a number or chat id; it returns
	// the conversation.
	OwnerSays(session, to, text string) (chat string, err error)
	// ReadChat reads what the business sent in a conversation.
	ReadChat(session, chat string) error
	// Vote is the conversation's lead voting in a poll; no options
	// withdraws the vote; failed sends a vote the gateway cannot decrypt.
	Vote(session, poll string, options []string, failed bool) error
}

// Labels are the words of the page that differ between stand-ins.
type Labels struct {
	// Brand names the stand-in, e.g. "WAHA stand-in".
	Brand string
	// DropButton is the "Make trouble" button; Drop says what it does.
	DropButton string
	Drop       string
	// VoteFails says what the "vote fails" button sends.
	VoteFails string
}

// Page is the phone page.
type Page struct {
	b      Backend
	labels Labels
	log    *slog.Logger
	tmpl   *template.Template
}

// New returns the page of b.
func New(b Backend, labels Labels, log *slog.Logger) *Page {
	tmpl := template.Must(template.New("phone").ParseFS(files, "page.html"))
	return &Page{b: b, labels: labels, log: log, tmpl: tmpl}
}

// Register adds the page's routes under /phone.
func (pp *Page) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /phone", pp.list)
	mux.HandleFunc("GET /phone/{$}", pp.list)
	mux.HandleFunc("GET /phone/assets/phone.css", pp.asset("phone.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /phone/assets/phone.js", pp.asset("phone.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /phone/{session}", pp.show)
	mux.HandleFunc("GET /phone/{session}/qr.png", pp.qr)
	mux.HandleFunc("POST /phone/{session}/{action}", pp.act)
}

func (pp *Page) asset(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, err := files.ReadFile(name)
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
	Sessions []Session
	Labels   Labels
	Version  int
}

// sessionView is one session's page.
type sessionView struct {
	Name   string
	Status string
	Phase  Phase
	Me     *Account
	// QR fields, in ScanQR.
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
	Labels  Labels
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
func (pp *Page) list(w http.ResponseWriter, r *http.Request) {
	live := r.URL.Query().Has("live")
	if live {
		pp.wait(r)
	}
	version, _ := pp.b.Changes()
	v := listView{Sessions: pp.b.Sessions(), Labels: pp.labels, Version: version}
	if live {
		pp.render(w, "list-live", v, v.Version)
		return
	}
	pp.render(w, "list", v, v.Version)
}

// show is GET /phone/{session}; ?live=1 gives the changing part only.
func (pp *Page) show(w http.ResponseWriter, r *http.Request) {
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
func (pp *Page) wait(r *http.Request) {
	since, err := strconv.Atoi(r.URL.Query().Get("v"))
	if err != nil {
		return
	}
	t := time.NewTimer(25 * time.Second)
	defer t.Stop()
	for {
		version, changed := pp.b.Changes()
		if version != since {
			return
		}
		select {
		case <-changed:
		case <-t.C:
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (pp *Page) render(w http.ResponseWriter, name string, data any, version int) {
	var b strings.Builder
	if err := pp.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		pp.log.Error("phone page: render", "template", name, "err", err)
		http.Error(w, "render: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Version", strconv.Itoa(version))
	_, _ = w.Write([]byte(b.String())) // nothing to do when the caller is gone
}

// convo is one conversation of a session.
type convo struct {
	key    string
	name   string
	lid    string
	last   time.Time
	unread int
	msgs   []Message
}

// view builds a session's page; chat is the open conversation's key.
func (pp *Page) view(name, chat string) (sessionView, bool) {
	version, _ := pp.b.Changes()
	v := sessionView{Name: name, Version: version, Labels: pp.labels}
	st, ok := pp.b.Session(name)
	if !ok {
		return v, false
	}
	v.Status, v.Phase, v.Me, v.Webhooks, v.MaxQRs = st.Status, st.Phase, st.Me, st.Webhooks, st.MaxQRs
	v.PairingCode, v.PairingPhone = st.PairingCode, st.PairingPhone
	if st.Phase == ScanQR {
		h := fnv.New32a()
		h.Write([]byte(st.QR))
		v.QRKey = strconv.FormatUint(uint64(h.Sum32()), 16)
		v.QRNumber = st.QRNumber
		v.QRExpiresMs = st.QRExpires.UnixMilli()
		v.QRExpiresIn = max(0, int(time.Until(st.QRExpires).Round(time.Second)/time.Second))
	}
	v.AccountPhone, v.AccountName = st.Account.Phone, st.Account.PushName

	// Conversations, most recent first.
	convos := map[string]*convo{}
	for _, m := range st.Messages {
		c, ok := convos[m.Chat]
		if !ok {
			c = &convo{key: m.Chat}
			convos[m.Chat] = c
		}
		c.msgs = append(c.msgs, m)
		c.last = m.Time
		if !m.FromMe {
			if m.PushName != "" {
				c.name = m.PushName
			}
			if m.LID != "" {
				c.lid = m.LID
			}
		} else if !m.Read {
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
	for _, c := range order {
		v.Chats = append(v.Chats, chatRow{Key: c.key, Title: c.title(), Selected: c.key == chat, Unread: c.unread})
	}
	if chat == "" {
		return v, true
	}
	c, ok := convos[chat]
	if !ok {
		c = &convo{key: chat}
	}
	if sim.ValidPhone(c.key) {
		v.Lead.Phone = "+" + c.key
	}
	v.Lead.Name, v.Lead.LID = c.name, c.lid
	if lid, ok := strings.CutSuffix(c.key, "@lid"); ok {
		v.Lead.LID = lid
	}
	cv := &chatView{Title: c.title(), Typing: st.Typing[chat]}
	for _, m := range c.msgs {
		cv.Messages = append(cv.Messages, messageViewOf(m))
	}
	v.Chat = cv
	return v, true
}

// title names a conversation: the lead's name and number.
func (c *convo) title() string {
	label := c.key
	if sim.ValidPhone(c.key) {
		label = "+" + c.key
	}
	if c.name != "" {
		return c.name + " · " + label
	}
	return label
}

func messageViewOf(m Message) messageView {
	mv := messageView{Lead: !m.FromMe, Body: m.Body, Time: m.Time.Format("15:04")}
	switch {
	case len(m.Image) > 0 && strings.HasPrefix(m.ImageMime, "image/"):
		// The stand-in's own record of bytes it was sent, under an image
		// type it checked: safe as a data: URL.
		mv.Image = template.URL("data:" + m.ImageMime + ";base64," + base64.StdEncoding.EncodeToString(m.Image)) //nolint:gosec // see above
	case m.Media != "":
		mv.Media = mediaLabel(m)
	}
	switch {
	case !m.FromMe && m.Read:
		mv.Ticks, mv.TickClass, mv.Source = "✓✓", "read", "read by the business"
	case !m.FromMe:
		mv.Ticks, mv.Source = "✓✓", "not read yet"
	case m.FromApp:
		mv.Source = "sent by the app"
	default:
		mv.Source = "owner, from the phone"
	}
	if m.FromMe {
		switch {
		case m.Read:
			mv.Ticks, mv.TickClass = "✓✓", "read"
		case m.Delivered:
			mv.Ticks = "✓✓"
		default:
			mv.Ticks = "✓"
		}
	}
	if p := m.Poll; p != nil {
		pv := &pollView{ID: m.ID, Name: p.Name, InputType: "radio"}
		if p.Multiple {
			pv.InputType = "checkbox"
		}
		for _, o := range p.Options {
			ov := optionView{Text: o}
			for voter, chosen := range p.Votes {
				for _, c := range chosen {
					if c == o {
						ov.Votes++
						if voter == p.Voter {
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

// mediaLabel says what a media message carries: "🎤 Voice note 0:02",
// "📄 price-list.pdf", "📷 Photo", "🎬 Video".
func mediaLabel(m Message) string {
	switch m.Media {
	case "audio":
		if m.Duration <= 0 {
			return "🎤 Voice note"
		}
		secs := int((m.Duration + time.Second/2) / time.Second)
		return fmt.Sprintf("🎤 Voice note %d:%02d", secs/60, secs%60)
	case "document":
		if m.FileName != "" {
			return "📄 " + m.FileName
		}
		return "📄 Document"
	case "image":
		return "📷 Photo"
	case "video":
		return "🎬 Video"
	}
	return m.Media
}

// qr is GET /phone/{session}/qr.png, the current QR code.
func (pp *Page) qr(w http.ResponseWriter, r *http.Request) {
	st, ok := pp.b.Session(r.PathValue("session"))
	if !ok || st.Phase != ScanQR || st.QR == "" {
		http.NotFound(w, r)
		return
	}
	png, err := sim.QRPNG(st.QR)
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
func (pp *Page) act(w http.ResponseWriter, r *http.Request) {
	session := r.PathValue("session")
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		pp.done(w, r, session, "", fmt.Errorf("read form: %w", err))
		return
	}
	f := r.PostForm
	chat := f.Get("chat")
	var err error
	switch r.PathValue("action") {
	case "scan":
		err = pp.b.Scan(session)
	case "rotate":
		err = pp.b.RotateQR(session)
	case "start":
		err = pp.b.Start(session)
	case "drop":
		err = pp.b.Drop(session)
	case "account":
		phone := sim.CleanPhone(f.Get("phone"))
		if phone == "" {
			err = fmt.Errorf("phone %q: %w", f.Get("phone"), sim.ErrInvalid)
			break
		}
		pp.b.SetAccount(session, phone, strings.TrimSpace(f.Get("name")))
	case "lead":
		chat, err = pp.lead(session, f)
	case "owner":
		chat, err = pp.b.OwnerSays(session, f.Get("to"), f.Get("text"))
	case "read":
		err = pp.b.ReadChat(session, chat)
	case "vote":
		switch {
		case f.Get("failed") != "":
			err = pp.b.Vote(session, f.Get("poll"), nil, true)
		case f.Get("withdraw") != "":
			err = pp.b.Vote(session, f.Get("poll"), nil, false)
		default:
			err = pp.b.Vote(session, f.Get("poll"), f["option"], false)
		}
	default:
		http.NotFound(w, r)
		return
	}
	pp.done(w, r, session, chat, err)
}

func (pp *Page) done(w http.ResponseWriter, r *http.Request, session, chat string, err error) {
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
	case errors.Is(err, sim.ErrWrongStatus):
		return "The session is not in the right status for that: " + err.Error()
	case errors.Is(err, sim.ErrUnknownSession):
		return "That session does not exist (any more)."
	}
	return err.Error()
}

// lead sends the lead form: the lead has the conversation open, so what the
// business sent is read first, then the message goes out.
func (pp *Page) lead(session string, f url.Values) (string, error) {
	phone, lid := strings.TrimSpace(f.Get("phone")), strings.TrimSpace(f.Get("lid"))
	name, text := strings.TrimSpace(f.Get("name")), f.Get("text")
	var chat string
	switch {
	case lid != "":
		l := sim.NormalLID(lid)
		if l == "" {
			return "", fmt.Errorf("lid %q must be digits: %w", lid, sim.ErrInvalid)
		}
		chat = l
		if d := sim.CleanPhone(phone); d != "" {
			chat = d
		}
	default:
		d := sim.CleanPhone(phone)
		if d == "" {
			return "", fmt.Errorf("phone %q: %w", phone, sim.ErrInvalid)
		}
		chat = d
	}
	if err := pp.b.ReadChat(session, chat); err != nil && !errors.Is(err, sim.ErrWrongStatus) {
		return chat, err
	}
	var to string
	var err error
	switch media := f.Get("media"); {
	case media != "" && lid == "":
		to, err = pp.b.LeadSendsMedia(session, phone, name, phoneMedia(media, text))
	case lid != "":
		to, err = pp.b.LeadSaysAsLID(session, lid, phone, name, text)
	default:
		to, err = pp.b.LeadSays(session, phone, name, text)
	}
	if to != "" {
		chat = to
	}
	return chat, err
}

// phoneMedia is the file the page's lead sends for a media choice: one of
// the sample files of package samples.
func phoneMedia(typ, caption string) Media {
	m := Media{Type: typ, Caption: strings.TrimSpace(caption)}
	switch typ {
	case "image":
		m.Mimetype, m.Data = samples.PhotoMime, samples.Photo()
	case "audio":
		// Voice notes have no caption.
		m.Mimetype, m.Data, m.Caption = samples.VoiceNoteMime, samples.VoiceNote(), ""
	case "document":
		m.Mimetype, m.Filename, m.Data = samples.PriceListMime, samples.PriceListName, samples.PriceList()
	}
	return m
}
