package evolution

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/myaibud/aibud/app/sim"
)

// apiRoutes lists Evolution's endpoints the stand-in serves.
func (s *Server) apiRoutes() []sim.Route {
	return []sim.Route{
		sim.NewRoute(http.MethodPost, "/instance/create", s.createInstance),
		sim.NewRoute(http.MethodGet, "/instance/connect/{instance}", s.connectInstance),
		sim.NewRoute(http.MethodGet, "/instance/connectionState/{instance}", s.connectionState),
		sim.NewRoute(http.MethodGet, "/instance/fetchInstances", s.fetchInstances),
		sim.NewRoute(http.MethodPost, "/instance/restart/{instance}", s.restartInstance),
		sim.NewRoute(http.MethodDelete, "/instance/logout/{instance}", s.logoutInstance),
		sim.NewRoute(http.MethodDelete, "/instance/delete/{instance}", s.deleteInstance),
		sim.NewRoute(http.MethodPost, "/webhook/set/{instance}", s.setWebhook),
		sim.NewRoute(http.MethodGet, "/webhook/find/{instance}", s.findWebhook),
		sim.NewRoute(http.MethodPost, "/message/sendText/{instance}", s.sendText),
		sim.NewRoute(http.MethodPost, "/message/sendPoll/{instance}", s.sendPoll),
		sim.NewRoute(http.MethodPost, "/message/sendMedia/{instance}", s.sendMedia),
		sim.NewRoute(http.MethodPost, "/chat/whatsappNumbers/{instance}", s.whatsappNumbers),
		sim.NewRoute(http.MethodPost, "/chat/markMessageAsRead/{instance}", s.markMessageAsRead),
		sim.NewRoute(http.MethodPost, "/chat/findMessages/{instance}", s.findMessages),
		sim.NewRoute(http.MethodPost, "/chat/getBase64FromMediaMessage/{instance}", s.getBase64FromMediaMessage),
	}
}

// reply is an answer worked out with the lock held and written after.
type reply struct {
	status int
	body   any
}

// connectionClosed is the answer to a call that needs the socket open.
var connectionClosed = reply{status: http.StatusBadRequest, body: errorBody(http.StatusBadRequest, []string{"Error: Connection Closed"})}

// errorShape is Evolution's error body; message is a string or a list of
// strings or objects.
type errorShape struct {
	Status   int    `json:"status"`
	Error    string `json:"error"`
	Response struct {
		Message any `json:"message"`
	} `json:"response"`
}

func errorBody(status int, message any) errorShape {
	e := errorShape{Status: status, Error: http.StatusText(status)}
	e.Response.Message = message
	return e
}

func badRequestReply(message any) reply {
	return reply{status: http.StatusBadRequest, body: errorBody(http.StatusBadRequest, message)}
}

// inInstance runs f with the lock held on the named instance and writes
// its reply (none when its status is 0); an instance deleted meanwhile is
// a 404.
func (s *Server) inInstance(w http.ResponseWriter, name string, f func(in *instance) reply) {
	s.mu.Lock()
	in, ok := s.instances[name]
	if !ok {
		s.mu.Unlock()
		notExists(w, name)
		return
	}
	rep := f(in)
	s.mu.Unlock()
	if rep.status != 0 {
		sim.WriteJSON(w, rep.status, rep.body)
	}
}

// onOpenInstance is inInstance for calls that need the socket open: any
// other state answers 400 "Connection Closed".
func (s *Server) onOpenInstance(w http.ResponseWriter, name string, f func(in *instance) reply) {
	s.inInstance(w, name, func(in *instance) reply {
		if in.state != StateOpen {
			return connectionClosed
		}
		return f(in)
	})
}

// need answers 400 when a required property is missing.
func need(w http.ResponseWriter, present bool, property string) bool {
	if !present {
		badRequest(w, requires(property))
	}
	return present
}

// decode reads a JSON body into v; it answers 400 and returns false when
// it cannot.
func decode(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit)).Decode(v); err != nil {
		badRequest(w, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

// stateBody is the connectionState answer.
func stateBody(in *instance) map[string]any {
	return map[string]any{"instance": map[string]string{"instanceName": in.name, "state": in.state}}
}

// createRequest is the body of POST /instance/create (InstanceDto).
type createRequest struct {
	InstanceName    string          `json:"instanceName"`
	Integration     string          `json:"integration"`
	Token           string          `json:"token"`
	QRCode          bool            `json:"qrcode"`
	Number          string          `json:"number"`
	RejectCall      bool            `json:"rejectCall"`
	MsgCall         string          `json:"msgCall"`
	GroupsIgnore    bool            `json:"groupsIgnore"`
	AlwaysOnline    bool            `json:"alwaysOnline"`
	ReadMessages    bool            `json:"readMessages"`
	ReadStatus      bool            `json:"readStatus"`
	SyncFullHistory bool            `json:"syncFullHistory"`
	Webhook         json.RawMessage `json:"webhook"`
}

// webhookRequest is the webhook object of create and webhook/set.
type webhookRequest struct {
	Enabled  *bool             `json:"enabled"`
	URL      *string           `json:"url"`
	ByEvents bool              `json:"byEvents"`
	Base64   bool              `json:"base64"`
	Headers  map[string]string `json:"headers"`
	Events   *[]string         `json:"events"`
}

// parseWebhook reads a webhook object; events must be a list, as
// Evolution reads its length without a guard.
func parseWebhook(raw json.RawMessage) (webhookRequest, []string) {
	var h webhookRequest
	if err := json.Unmarshal(raw, &h); err != nil {
		return h, []string{"Invalid url"}
	}
	if h.Events == nil {
		return h, []string{"TypeError: Cannot read properties of undefined (reading 'length')"}
	}
	return h, nil
}

// createInstance is POST /instance/create.
func (s *Server) createInstance(w http.ResponseWriter, r *http.Request, _ sim.Params) {
	var in createRequest
	if !decode(w, r, &in, maxBody) {
		return
	}
	if strings.TrimSpace(in.InstanceName) == "" {
		badRequest(w, `instance requires property "instanceName"`)
		return
	}
	if in.Integration != "WHATSAPP-BAILEYS" {
		badRequest(w, "Invalid integration")
		return
	}
	var hook *webhookRequest
	if len(in.Webhook) > 0 && string(in.Webhook) != "null" {
		h, problems := parseWebhook(in.Webhook)
		if problems != nil {
			badRequest(w, problems...)
			return
		}
		hook = &h
	}
	pairPhone := ""
	if in.Number != "" {
		if pairPhone = sim.CleanPhone(in.Number); pairPhone == "" {
			badRequest(w, "Invalid number")
			return
		}
	}
	s.mu.Lock()
	if _, ok := s.instances[in.InstanceName]; ok {
		s.mu.Unlock()
		nameInUse(w, in.InstanceName)
		return
	}
	inst := newInstance(in.InstanceName)
	inst.token, inst.integration, inst.pairPhone = in.Token, in.Integration, pairPhone
	if inst.token == "" {
		inst.token = strings.ToUpper(newUUID())
	}
	inst.settings = map[string]any{
		"rejectCall": in.RejectCall, "msgCall": in.MsgCall, "groupsIgnore": in.GroupsIgnore,
		"alwaysOnline": in.AlwaysOnline, "readMessages": in.ReadMessages, "readStatus": in.ReadStatus,
		"syncFullHistory": in.SyncFullHistory, "wavoipToken": "",
	}
	if hook != nil {
		inst.hook = hookConfig{
			ID: newDBID(), Enabled: true, URL: deref(hook.URL), Headers: hook.Headers, Events: *hook.Events,
			ByEvents: hook.ByEvents, Base64: hook.Base64, CreatedAt: inst.createdAt, UpdatedAt: inst.createdAt,
		}
	}
	s.instances[inst.name] = inst
	s.log.Info("evolution stand-in: instance created", "instance", inst.name)
	s.emitLocked(inst, "instance.create", map[string]string{"instanceName": inst.name, "instanceId": inst.id})
	if in.QRCode {
		s.connectLocked(inst, "")
	}
	s.mu.Unlock()

	body := map[string]any{
		"instance": map[string]any{
			"instanceName": inst.name, "instanceId": inst.id, "integration": inst.integration,
			"webhookWaBusiness": nil, "accessTokenWaBusiness": "", "status": StateClose,
		},
		"hash":      inst.token,
		"webhook":   map[string]any{},
		"websocket": map[string]any{}, "rabbitmq": map[string]any{}, "nats": map[string]any{}, "sqs": map[string]any{},
		"settings": inst.settings,
	}
	if hook != nil {
		body["webhook"] = map[string]any{
			"webhookUrl": deref(hook.URL), "webhookHeaders": hook.Headers,
			"webhookByEvents": hook.ByEvents, "webhookBase64": hook.Base64,
		}
	}
	if in.QRCode {
		body["instance"].(map[string]any)["status"] = StateConnecting
		body["qrcode"] = s.waitQR(r.Context(), inst)
	}
	sim.WriteJSON(w, http.StatusCreated, body)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// nameInUse is create's 403 for a name that exists.
func nameInUse(w http.ResponseWriter, name string) {
	writeError(w, http.StatusForbidden, `This name "`+name+`" is already in use.`)
}

// waitQR waits up to Timing.QRWait for the instance's QR code and returns
// the QR object, or {"count":0} when none came (Evolution #1541); an
// instance that opened meanwhile gives its state.
func (s *Server) waitQR(ctx context.Context, in *instance) any {
	t := time.NewTimer(s.timing.QRWait)
	defer t.Stop()
	for {
		s.mu.Lock()
		if q := s.qrObject(in); q != nil {
			s.mu.Unlock()
			return q
		}
		if in.state == StateOpen {
			body := stateBody(in)
			s.mu.Unlock()
			return body
		}
		changed := in.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-t.C:
			return map[string]int{"count": 0}
		case <-ctx.Done():
			return map[string]int{"count": 0}
		}
	}
}

// connectInstance is GET /instance/connect/{instance}[?number=]: close
// opens the socket and answers the first QR object; connecting answers
// the current one; open answers the state. No QR in time is {"count":0}.
func (s *Server) connectInstance(w http.ResponseWriter, r *http.Request, p sim.Params) {
	pairPhone := ""
	if n := r.URL.Query().Get("number"); n != "" {
		if pairPhone = sim.CleanPhone(n); pairPhone == "" {
			sim.WriteJSON(w, http.StatusOK, map[string]any{"error": true, "message": "Invalid number"})
			return
		}
	}
	var connecting *instance
	s.inInstance(w, p["instance"], func(in *instance) reply {
		if in.state == StateOpen {
			return reply{status: http.StatusOK, body: stateBody(in)}
		}
		s.connectLocked(in, pairPhone)
		connecting = in
		return reply{} // answered below, once the QR code came
	})
	if connecting != nil {
		sim.WriteJSON(w, http.StatusOK, s.waitQR(r.Context(), connecting))
	}
}

// connectionState is GET /instance/connectionState/{instance}.
func (s *Server) connectionState(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inInstance(w, p["instance"], func(in *instance) reply {
		return reply{status: http.StatusOK, body: stateBody(in)}
	})
}

// fetchInstances is GET /instance/fetchInstances[?instanceName=|instanceId=|number=]:
// DB rows; with an instance token as apikey, only that token's instances.
func (s *Server) fetchInstances(w http.ResponseWriter, r *http.Request, _ sim.Params) {
	q := r.URL.Query()
	key := r.Header.Get("apikey")
	global := s.apiKey == "" || keyIs(r, s.apiKey)
	s.mu.Lock()
	rows := []map[string]any{}
	for _, name := range sim.SortedKeys(s.instances) {
		in := s.instances[name]
		if !global && in.token != key {
			continue
		}
		if v := q.Get("instanceName"); v != "" && v != in.name {
			continue
		}
		if v := q.Get("instanceId"); v != "" && v != in.id {
			continue
		}
		if v := q.Get("number"); v != "" && sim.Digits(v) != in.number() {
			continue
		}
		rows = append(rows, in.row())
	}
	s.mu.Unlock()
	filter := q.Get("instanceName") + q.Get("instanceId") + q.Get("number")
	if filter != "" && len(rows) == 0 {
		name := q.Get("instanceName")
		if name == "" {
			name = filter
		}
		notExists(w, name)
		return
	}
	sim.WriteJSON(w, http.StatusOK, rows)
}

// number is the instance's number column: the linked or pairing phone.
func (in *instance) number() string {
	if in.wuid != "" {
		return userOf(in.wuid)
	}
	return in.pairPhone
}

// row is the instance's DB row, as fetchInstances lists it.
func (in *instance) row() map[string]any {
	var owner, profileName, number, disconnectionAt, disconnectionObject any
	var disconnectionCode any
	if in.wuid != "" {
		owner = in.wuid
	}
	if in.me != nil {
		profileName = in.me.PushName
	}
	if n := in.number(); n != "" {
		number = n
	}
	if in.disconnectionCode != 0 {
		disconnectionCode = in.disconnectionCode
		disconnectionAt = in.disconnectionAt.UTC().Format(time.RFC3339Nano)
		disconnectionObject = `{"error":{"output":{"statusCode":` + jsonInt(in.disconnectionCode) + `}}}`
	}
	status := in.state
	contacts := map[string]bool{}
	for _, m := range in.messages {
		contacts[m.jid] = true
	}
	return map[string]any{
		"id": in.id, "name": in.name, "connectionStatus": status, "ownerJid": owner,
		"profileName": profileName, "profilePicUrl": nil, "integration": in.integration, "number": number,
		"businessId": nil, "token": in.token, "clientName": "evolution_exchange",
		"disconnectionReasonCode": disconnectionCode, "disconnectionObject": disconnectionObject,
		"disconnectionAt": disconnectionAt,
		"createdAt":       in.createdAt.UTC().Format(time.RFC3339Nano), "updatedAt": in.updatedAt.UTC().Format(time.RFC3339Nano),
		"Chatwoot": nil, "Proxy": nil, "Rabbitmq": nil, "Nats": nil, "Sqs": nil, "Websocket": nil,
		"Setting": in.settings,
		"_count":  map[string]int{"Message": len(in.messages), "Contact": len(contacts), "Chat": len(contacts)},
	}
}

func jsonInt(n int) string {
	b, _ := json.Marshal(n) // ints encode
	return string(b)
}

// restartInstance is POST /instance/restart/{instance}: an open instance
// reconnects with its credentials (connecting, then open); a connecting
// one starts its attempt again; a closed one is an HTTP 200 error.
func (s *Server) restartInstance(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inInstance(w, p["instance"], func(in *instance) reply {
		switch in.state {
		case StateClose:
			return reply{status: http.StatusOK, body: map[string]any{"error": true, "message": `The "` + in.name + `" instance is not connected`}}
		case StateOpen:
			s.reconnectLocked(in, 515)
		default:
			in.timer.Stop()
			s.setStateLocked(in, StateClose)
			s.connectLocked(in, "")
		}
		return reply{status: http.StatusOK, body: stateBody(in)}
	})
}

// success is Evolution's answer to logout and delete.
func success(message string) reply {
	var body struct {
		Status   string `json:"status"`
		Error    bool   `json:"error"`
		Response struct {
			Message string `json:"message"`
		} `json:"response"`
	}
	body.Status, body.Response.Message = "SUCCESS", message
	return reply{status: http.StatusOK, body: body}
}

// logoutInstance is DELETE /instance/logout/{instance}: 400 when closed
// (2.3.7), else a terminal close 401; the instance stays.
func (s *Server) logoutInstance(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inInstance(w, p["instance"], func(in *instance) reply {
		if in.state == StateClose {
			return badRequestReply([]string{`The "` + in.name + `" instance is not connected`})
		}
		s.logoutLocked(in, 401)
		return success("Instance logged out")
	})
}

// deleteInstance is DELETE /instance/delete/{instance}: logs out an open
// instance, emits instance.delete and remove.instance, and forgets it.
func (s *Server) deleteInstance(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inInstance(w, p["instance"], func(in *instance) reply {
		switch in.state {
		case StateOpen:
			s.logoutLocked(in, 401)
		case StateConnecting:
			in.timer.Stop()
			s.setStateLocked(in, StateClose)
		}
		s.emitLocked(in, "instance.delete", map[string]string{"instanceName": in.name, "instanceId": in.id})
		s.emitLocked(in, "remove.instance", nil)
		in.timer.Stop()
		delete(s.instances, in.name)
		s.log.Info("evolution stand-in: instance deleted", "instance", in.name)
		return success("Instance deleted")
	})
}

// eventNames are the UPPER_SNAKE names webhook/set accepts.
var eventNames = []string{
	"APPLICATION_STARTUP", "QRCODE_UPDATED", "MESSAGES_SET", "MESSAGES_UPSERT", "MESSAGES_EDITED",
	"MESSAGES_UPDATE", "MESSAGES_DELETE", "SEND_MESSAGE", "SEND_MESSAGE_UPDATE", "CONTACTS_SET",
	"CONTACTS_UPSERT", "CONTACTS_UPDATE", "PRESENCE_UPDATE", "CHATS_SET", "CHATS_UPSERT", "CHATS_UPDATE",
	"CHATS_DELETE", "GROUPS_UPSERT", "GROUP_UPDATE", "GROUP_PARTICIPANTS_UPDATE", "CONNECTION_UPDATE",
	"LABELS_EDIT", "LABELS_ASSOCIATION", "CALL", "TYPEBOT_START", "TYPEBOT_CHANGE_STATUS",
	"REMOVE_INSTANCE", "LOGOUT_INSTANCE", "INSTANCE_CREATE", "INSTANCE_DELETE", "STATUS_INSTANCE",
}

// setWebhook is POST /webhook/set/{instance}, the object wrapped in
// "webhook" (#1657).
func (s *Server) setWebhook(w http.ResponseWriter, r *http.Request, p sim.Params) {
	var body struct {
		Webhook json.RawMessage `json:"webhook"`
	}
	if !decode(w, r, &body, maxBody) {
		return
	}
	if len(body.Webhook) == 0 || string(body.Webhook) == "null" {
		badRequest(w, `instance requires property "webhook"`)
		return
	}
	var h webhookRequest
	if err := json.Unmarshal(body.Webhook, &h); err != nil {
		badRequest(w, "instance.webhook is not of a type(s) object")
		return
	}
	var problems []string
	if h.Enabled == nil {
		problems = append(problems, `instance.webhook requires property "enabled"`)
	}
	if h.URL == nil {
		problems = append(problems, `instance.webhook requires property "url"`)
	}
	if h.Events != nil {
		for i, e := range *h.Events {
			if !contains(eventNames, e) {
				problems = append(problems, "instance.webhook.events["+jsonInt(i)+"] is not one of enum values: "+strings.Join(eventNames, ","))
			}
		}
	}
	if problems == nil && *h.Enabled && h.Events == nil {
		problems = append(problems, "TypeError: Cannot read properties of undefined (reading 'length')")
	}
	if problems != nil {
		badRequest(w, problems...)
		return
	}
	s.inInstance(w, p["instance"], func(in *instance) reply {
		now := time.Now()
		if in.hook.ID == "" {
			in.hook.ID, in.hook.CreatedAt = newDBID(), now
		}
		events := []string{}
		if *h.Enabled {
			events = *h.Events
		}
		in.hook.Enabled, in.hook.URL, in.hook.Headers, in.hook.Events = *h.Enabled, *h.URL, h.Headers, events
		in.hook.ByEvents, in.hook.Base64, in.hook.UpdatedAt = h.ByEvents, h.Base64, now
		s.notifyLocked()
		return reply{status: http.StatusCreated, body: in.hookRow()}
	})
}

// findWebhook is GET /webhook/find/{instance}: the stored row, or null.
func (s *Server) findWebhook(w http.ResponseWriter, r *http.Request, p sim.Params) {
	s.inInstance(w, p["instance"], func(in *instance) reply {
		if in.hook.ID == "" {
			return reply{status: http.StatusOK, body: nil}
		}
		return reply{status: http.StatusOK, body: in.hookRow()}
	})
}

// hookRow is the webhook's DB row.
func (in *instance) hookRow() map[string]any {
	h := in.hook
	events := h.Events
	if events == nil {
		events = []string{}
	}
	return map[string]any{
		"id": h.ID, "url": h.URL, "headers": h.Headers, "enabled": h.Enabled, "events": events,
		"webhookByEvents": h.ByEvents, "webhookBase64": h.Base64,
		"createdAt": h.CreatedAt.UTC().Format(time.RFC3339Nano), "updatedAt": h.UpdatedAt.UTC().Format(time.RFC3339Nano),
		"instanceId": in.id,
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
