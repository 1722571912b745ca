package evolution_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/sim/evolution"
)

// terminal are the events of a terminal close.
var terminal = []string{"status.instance", "connection.update", "logout.instance"}

func TestLogoutDeleteRestart(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	hook := newReceiver(t, nil)

	s.create(t, "x1", hook, nil)
	if got := s.request(t, globalKey, http.MethodDelete, "/instance/logout/x1", nil); got.status != 400 || !strings.Contains(string(got.body), `The \"x1\" instance is not connected`) {
		t.Errorf("logout when close: %d %s", got.status, got.body)
	}
	if got := string(s.api(t, http.MethodPost, "/instance/restart/x1", nil, 200).body); got != `{"error":true,"message":"The \"x1\" instance is not connected"}` {
		t.Errorf("restart when close: %s", got)
	}

	// Restart of an open instance: connecting, then open, and no close.
	s.open(t, "x2", hook)
	before := len(hook.got())
	restart := s.api(t, http.MethodPost, "/instance/restart/x2", nil, 200).obj(t)
	if field(restart, "instance.instanceName") != "x2" {
		t.Errorf("restart: %v", restart)
	}
	s.waitState(t, "x2", func(st evolution.SessionState) bool { return st.Status == evolution.StateOpen })
	hook.await(t, "connection.update", 4)
	s.flush(t)
	var states []string
	for _, p := range hook.got()[before:] {
		states = append(states, p.env.Event+":"+status(t, p))
	}
	if strings.Join(states, " ") != "connection.update:connecting connection.update:open" {
		t.Errorf("restart events %v", states)
	}

	// Logout: SUCCESS, a terminal close 401, the instance stays.
	before = len(hook.got())
	if got := string(s.api(t, http.MethodDelete, "/instance/logout/x2", nil, 200).body); got != `{"status":"SUCCESS","error":false,"response":{"message":"Instance logged out"}}` {
		t.Errorf("logout: %s", got)
	}
	s.flush(t)
	after := hook.got()[before:]
	if strings.Join(events(after), " ") != strings.Join(terminal, " ") {
		t.Fatalf("logout events %v", events(after))
	}
	if d := after[0].data(t); d["status"] != "closed" || d["disconnectionReasonCode"] != 401.0 {
		t.Errorf("status.instance %v", d)
	}
	if d := after[1].data(t); d["state"] != "close" || d["statusReason"] != 401.0 {
		t.Errorf("connection.update %v", d)
	}
	if string(after[2].env.Data) != "null" {
		t.Errorf("logout.instance data %s", after[2].env.Data)
	}
	row := s.api(t, http.MethodGet, "/instance/fetchInstances?instanceName=x2", nil, 200).list(t)
	if field(row, "0.connectionStatus") != "close" || field(row, "0.disconnectionReasonCode") != 401.0 {
		t.Errorf("row after logout %v", row)
	}
	if q := s.api(t, http.MethodGet, "/instance/connect/x2", nil, 200).obj(t); field(q, "count") != 1.0 {
		t.Errorf("connect after logout: %v, want a fresh QR", q)
	}

	// Delete: logs out, instance.delete, remove.instance, then 404.
	s.open(t, "x3", hook)
	before = len(hook.got())
	if got := string(s.api(t, http.MethodDelete, "/instance/delete/x3", nil, 200).body); got != `{"status":"SUCCESS","error":false,"response":{"message":"Instance deleted"}}` {
		t.Errorf("delete: %s", got)
	}
	s.flush(t)
	want := append(append([]string{}, terminal...), "instance.delete", "remove.instance")
	if got := events(hook.got()[before:]); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("delete events %v, want %v", got, want)
	}
	s.api(t, http.MethodGet, "/instance/connectionState/x3", nil, 404)
	s.api(t, http.MethodDelete, "/instance/delete/x3", nil, 404)
}

func TestDrops(t *testing.T) {
	t.Parallel()
	s := start(t, evolution.Options{})
	hook := newReceiver(t, nil)
	s.open(t, "y1", hook)
	s.flush(t)

	before := len(hook.got())
	if err := s.DropConnection("y1"); err != nil {
		t.Fatal(err)
	}
	s.waitState(t, "y1", func(st evolution.SessionState) bool { return st.Status == evolution.StateOpen })
	hook.await(t, "connection.update", 4)
	s.flush(t)
	var states []string
	for _, p := range hook.got()[before:] {
		states = append(states, status(t, p))
	}
	if strings.Join(states, " ") != "connecting open" {
		t.Errorf("non-terminal drop: %v, want connecting then open", states)
	}

	before = len(hook.got())
	if err := s.DropSession("y1"); err != nil {
		t.Fatal(err)
	}
	s.flush(t)
	if got := events(hook.got()[before:]); strings.Join(got, " ") != strings.Join(terminal, " ") {
		t.Errorf("terminal drop: %v", got)
	}
	if st, _ := s.Session("y1"); st.Status != evolution.StateClose || st.Me != nil {
		t.Errorf("after the drop: %+v", st)
	}
	if err := s.DropSession("y1"); err == nil {
		t.Error("dropped a closed instance")
	}
	if err := s.Scan("y1"); err == nil {
		t.Error("scanned a closed instance")
	}
}

func TestQRLimit(t *testing.T) {
	t.Parallel()
	timing := evolution.FastTiming()
	timing.NextQR, timing.QRLimit = 20*time.Millisecond, 3
	s := start(t, evolution.Options{Timing: timing})
	hook := newReceiver(t, nil)
	s.create(t, "q1", hook, map[string]any{"qrcode": true})
	s.waitState(t, "q1", func(st evolution.SessionState) bool { return st.Status == evolution.StateClose })
	hook.await(t, "qrcode.updated", 4)
	s.flush(t)
	qrs := hook.got("qrcode.updated")
	codes := map[string]bool{}
	for _, p := range qrs[:3] {
		codes[field(p.data(t), "qrcode.code").(string)] = true
	}
	if len(codes) != 3 {
		t.Errorf("%d distinct codes in %d updates", len(codes), len(qrs))
	}
	if d := qrs[3].data(t); d["message"] != "QR code limit reached, please login again" || d["statusCode"] != 500.0 {
		t.Errorf("limit: %v", d)
	}
	conns := hook.got("connection.update")
	if last := conns[len(conns)-1]; status(t, last) != "refused" {
		t.Errorf("last connection.update %s", status(t, last))
	}
	if got := string(s.api(t, http.MethodGet, "/instance/connectionState/q1", nil, 200).body); !strings.Contains(got, `"state":"close"`) {
		t.Errorf("state after the limit: %s", got)
	}
}
