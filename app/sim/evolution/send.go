package evolution

import (
	"crypto/rand"
	"encoding/base64"
	"math"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/myaibud/aibud/app/sim"
)

// sendRequest holds the fields of the send routes.
type sendRequest struct {
	Number *string `json:"number"`
	Delay  int     `json:"delay"`
	// sendText
	Text *string `json:"text"`
	// sendPoll
	Name            *string  `json:"name"`
	SelectableCount *float64 `json:"selectableCount"`
	Values          []string `json:"values"`
	// sendMedia
	MediaType *string `json:"mediatype"`
	Mimetype  string  `json:"mimetype"`
	Caption   string  `json:"caption"`
	Media     *string `json:"media"`
	FileName  string  `json:"fileName"`
}

// decodeSend reads a send's body and checks its number; it returns false
// when it answered 400.
func decodeSend(w http.ResponseWriter, r *http.Request, limit int64) (sendRequest, []string, bool) {
	var in sendRequest
	if !decode(w, r, &in, limit) {
		return in, nil, false
	}
	var problems []string
	if in.Number == nil {
		problems = append(problems, requires("number"))
	}
	return in, problems, true
}

// requires is the JSON-schema problem of a missing property.
func requires(field string) string {
	return `instance requires property "` + field + `"`
}

// sendText is POST /message/sendText/{instance}.
func (s *Server) sendText(w http.ResponseWriter, r *http.Request, p sim.Params) {
	in, problems, ok := decodeSend(w, r, maxBody)
	if !ok {
		return
	}
	if in.Text == nil {
		problems = append(problems, requires("text"))
	} else if strings.TrimSpace(*in.Text) == "" {
		problems = append(problems, "instance.text does not meet minimum length of 1")
	}
	if problems != nil {
		badRequest(w, problems...)
		return
	}
	s.send(w, r, p["instance"], in, &message{body: *in.Text})
}

// sendPoll is POST /message/sendPoll/{instance}.
func (s *Server) sendPoll(w http.ResponseWriter, r *http.Request, p sim.Params) {
	in, problems, ok := decodeSend(w, r, maxBody)
	if !ok {
		return
	}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		problems = append(problems, requires("name"))
	}
	if in.SelectableCount == nil {
		problems = append(problems, requires("selectableCount"))
	} else if c := *in.SelectableCount; c != math.Trunc(c) || c < 0 || int(c) > len(in.Values) {
		problems = append(problems, "instance.selectableCount must be a whole number from 0 to the number of values")
	}
	switch {
	case in.Values == nil:
		problems = append(problems, requires("values"))
	case len(in.Values) < 2 || len(in.Values) > 12:
		problems = append(problems, "instance.values must have 2 to 12 items")
	default:
		seen := map[string]bool{}
		for _, v := range in.Values {
			if strings.TrimSpace(v) == "" || seen[v] {
				problems = append(problems, "instance.values contains duplicate or empty items")
				break
			}
			seen[v] = true
		}
	}
	if problems != nil {
		badRequest(w, problems...)
		return
	}
	poll := &Poll{Name: *in.Name, Options: in.Values, MultipleAnswers: *in.SelectableCount != 1}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails
	s.send(w, r, p["instance"], in, &message{poll: poll, secret: base64.StdEncoding.EncodeToString(secret)})
}

// sendMedia is POST /message/sendMedia/{instance}: media is an https URL
// (not fetched) or raw base64; a data: URL is refused, as Evolution does.
func (s *Server) sendMedia(w http.ResponseWriter, r *http.Request, p sim.Params) {
	in, problems, ok := decodeSend(w, r, maxMedia)
	if !ok {
		return
	}
	if in.MediaType == nil {
		problems = append(problems, requires("mediatype"))
	} else if mediaTypes[*in.MediaType] == "" {
		problems = append(problems, "instance.mediatype is not one of enum values: image,document,video,audio")
	}
	if in.Media == nil || *in.Media == "" {
		problems = append(problems, requires("media"))
	}
	if problems != nil {
		badRequest(w, problems...)
		return
	}
	media := &Media{Type: *in.MediaType, Mimetype: in.Mimetype, Filename: in.FileName, Caption: in.Caption}
	m := &message{body: in.Caption, media: media}
	switch src := *in.Media; {
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		m.url = src
	default:
		data, err := base64.StdEncoding.DecodeString(src)
		if err != nil || strings.HasPrefix(src, "data:") {
			badRequest(w, "Owned media must be a url or base64")
			return
		}
		if media.Type == "document" && media.Filename == "" {
			badRequest(w, "For base64 the file name must be informed.")
			return
		}
		m.file = data
	}
	if media.Mimetype == "" {
		media.Mimetype = guessMime(media, m.url)
	}
	s.send(w, r, p["instance"], in, m)
}

// guessMime is the mimetype Evolution guesses from the file name or URL.
func guessMime(m *Media, url string) string {
	for _, name := range []string{m.Filename, url} {
		if t := mime.TypeByExtension(path.Ext(name)); t != "" {
			return t
		}
	}
	return map[string]string{"image": "image/jpeg", "video": "video/mp4", "audio": "audio/mp4", "document": "application/pdf"}[m.Type]
}

// send checks the number as Evolution does before every send (onWhatsApp)
// and sends the message: 201 with the message, or 400 with the check
// result when the number is not on WhatsApp, or "Connection Closed".
func (s *Server) send(w http.ResponseWriter, r *http.Request, name string, req sendRequest, m *message) {
	if req.Delay > 0 {
		t := time.NewTimer(time.Duration(req.Delay) * time.Millisecond)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	number := *req.Number
	s.onOpenInstance(w, name, func(in *instance) reply {
		jid, ok := jidFor(number)
		if !ok || s.absentLocked(jid) {
			return badRequestReply([]map[string]any{{"jid": jid, "exists": false, "number": number}})
		}
		if s.Refused(userOf(jid)) || s.Refused(sim.Digits(number)) {
			return badRequestReply([]string{"Error: not-acceptable"})
		}
		return reply{status: http.StatusCreated, body: s.sendLocked(in, jid, number, m)}
	})
}

// absentLocked tells a JID whose number is not on WhatsApp; @lid, groups
// and broadcasts are assumed to exist, as 2.3.7 does.
func (s *Server) absentLocked(jid string) bool {
	if !strings.HasSuffix(jid, "@s.whatsapp.net") {
		return false
	}
	user := userOf(jid)
	return s.Absent(user, func(d string) bool { return d == user || rewrite(d) == user })
}

// whatsappNumbers is POST /chat/whatsappNumbers/{instance}.
func (s *Server) whatsappNumbers(w http.ResponseWriter, r *http.Request, p sim.Params) {
	var in struct {
		Numbers []string `json:"numbers"`
	}
	if !decode(w, r, &in, maxBody) || !need(w, in.Numbers != nil, "numbers") {
		return
	}
	s.onOpenInstance(w, p["instance"], func(inst *instance) reply {
		out := make([]map[string]any, 0, len(in.Numbers))
		for _, n := range in.Numbers {
			jid, ok := jidFor(n)
			row := map[string]any{"jid": jid, "exists": ok && !s.absentLocked(jid), "number": n}
			if strings.HasSuffix(jid, "@lid") {
				row["lid"] = "lid"
			}
			if name := inst.pushNameOf(jid); name != "" && row["exists"] == true {
				row["name"] = name
			}
			out = append(out, row)
		}
		return reply{status: http.StatusOK, body: out}
	})
}

// pushNameOf is the latest push name a lead with the JID wrote with.
func (in *instance) pushNameOf(jid string) string {
	name := ""
	for _, m := range in.messages {
		if !m.fromMe && m.jid == jid && m.pushName != "" {
			name = m.pushName
		}
	}
	return name
}

// markMessageAsRead is POST /chat/markMessageAsRead/{instance}; as in
// 2.3.7, keys of …@lid chats are dropped.
func (s *Server) markMessageAsRead(w http.ResponseWriter, r *http.Request, p sim.Params) {
	var in struct {
		ReadMessages []messageKey `json:"readMessages"`
	}
	if !decode(w, r, &in, maxBody) || !need(w, in.ReadMessages != nil, "readMessages") {
		return
	}
	s.onOpenInstance(w, p["instance"], func(inst *instance) reply {
		for _, k := range in.ReadMessages {
			if !strings.HasSuffix(k.RemoteJID, "@s.whatsapp.net") && !strings.HasSuffix(k.RemoteJID, "@g.us") {
				continue
			}
			if m := inst.byID[k.ID]; m != nil && !m.fromMe && m.jid == k.RemoteJID {
				m.read = true
			}
		}
		s.notifyLocked()
		return reply{status: http.StatusCreated, body: map[string]string{"message": "Read messages", "read": "success"}}
	})
}

// findMessages is POST /chat/findMessages/{instance}: the stored messages
// that match where.key, newest first, a page of offset at a time.
func (s *Server) findMessages(w http.ResponseWriter, r *http.Request, p sim.Params) {
	var in struct {
		Where struct {
			Key struct {
				RemoteJID *string `json:"remoteJid"`
				FromMe    *bool   `json:"fromMe"`
				ID        *string `json:"id"`
			} `json:"key"`
		} `json:"where"`
		Page   int `json:"page"`
		Offset int `json:"offset"`
	}
	if !decode(w, r, &in, maxBody) {
		return
	}
	page, size := max(in.Page, 1), in.Offset
	if size <= 0 {
		size = 50
	}
	k := in.Where.Key
	s.inInstance(w, p["instance"], func(inst *instance) reply {
		var match []*message
		for i := len(inst.messages) - 1; i >= 0; i-- {
			m := inst.messages[i]
			if (k.RemoteJID != nil && *k.RemoteJID != m.jid && *k.RemoteJID != m.alt) ||
				(k.FromMe != nil && *k.FromMe != m.fromMe) || (k.ID != nil && *k.ID != m.id) {
				continue
			}
			match = append(match, m)
		}
		records := []map[string]any{}
		for i := (page - 1) * size; i < len(match) && i < page*size; i++ {
			records = append(records, match[i].record(inst))
		}
		return reply{status: http.StatusOK, body: map[string]any{"messages": map[string]any{
			"total": len(match), "pages": (len(match) + size - 1) / size, "currentPage": page, "records": records,
		}}}
	})
}

// record is the message's DB row, as findMessages lists it.
func (m *message) record(in *instance) map[string]any {
	d := m.data(in)
	return map[string]any{
		"id": m.dbID, "key": d.Key, "pushName": d.PushName, "participant": nil, "messageType": d.MessageType,
		"message": d.Message, "contextInfo": nil, "source": d.Source, "messageTimestamp": d.MessageTimestamp,
		"instanceId": in.id, "sessionId": nil, "status": m.status, "MessageUpdate": []any{},
	}
}

// getBase64FromMediaMessage is POST /chat/getBase64FromMediaMessage/{instance}:
// the bytes of a stored media message.
func (s *Server) getBase64FromMediaMessage(w http.ResponseWriter, r *http.Request, p sim.Params) {
	var in struct {
		Message struct {
			Key struct {
				ID string `json:"id"`
			} `json:"key"`
		} `json:"message"`
	}
	if !decode(w, r, &in, maxBody) {
		return
	}
	s.inInstance(w, p["instance"], func(inst *instance) reply {
		m := inst.byID[in.Message.Key.ID]
		if m == nil || m.media == nil || len(m.file) == 0 {
			return badRequestReply([]string{"Error: Message not found"})
		}
		var fileName any
		if m.media.Filename != "" {
			fileName = m.media.Filename
		}
		return reply{status: http.StatusCreated, body: map[string]any{
			"mediaType": m.messageType(), "fileName": fileName, "caption": m.media.Caption,
			"size":     map[string]any{"fileLength": len(m.file)},
			"mimetype": m.media.Mimetype, "base64": base64.StdEncoding.EncodeToString(m.file),
		}}
	})
}
