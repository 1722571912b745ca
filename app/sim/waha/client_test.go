package waha_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/myaibud/aibud/app/sim/waha"
	"github.com/myaibud/aibud/app/whatsapp"
)

// TestRealClient drives the stand-in with the app's own WAHA client and
// parses every webhook with the app's own parser: the two sides of the
// contract agree.
func TestRealClient(t *testing.T) {
	t.Parallel()
	s := newSim(t, nil)
	h := newHook(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := whatsapp.NewWAHA(whatsapp.WAHAConfig{
		BaseURL: s.url, APIKey: testKey, WebhookURL: h.url, WebhookSecret: testSecret,
		Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	})
	parser := whatsapp.NewWAHAWebhooks(testSecret)
	const name = "t7_i9"

	info, err := client.CreateSession(ctx, whatsapp.SessionSpec{Name: name, Metadata: map[string]string{"tenant.id": "7", "instance.id": "9"}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != name || info.Status != whatsapp.StatusStarting {
		t.Errorf("created %+v", info)
	}
	// The QR is asked for while STARTING; WAHA waits for it.
	qr, err := client.QR(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if qr.Value == "" || !bytes.HasPrefix(qr.PNG, []byte("\x89PNG")) {
		t.Errorf("QR %q with %d bytes of image", qr.Value, len(qr.PNG))
	}
	checkPNG(t, qr.PNG)
	code, err := client.RequestCode(ctx, name, "+5511987654321")
	if err != nil || code == "" {
		t.Errorf("pairing code %q: %v", code, err)
	}
	if err := s.Scan(name); err != nil {
		t.Fatal(err)
	}
	info, err = client.Session(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != whatsapp.StatusWorking || info.Me == nil || info.Me.Phone != "+5511987654321" {
		t.Errorf("session after scan %+v %+v", info, info.Me)
	}
	if _, err := client.QR(ctx, name); !errors.Is(err, whatsapp.ErrWrongStatus) {
		t.Errorf("QR of a WORKING session: %v, want ErrWrongStatus", err)
	}
	// Creating again (a retried create) reconfigures and keeps it working.
	if _, err := client.CreateSession(ctx, whatsapp.SessionSpec{Name: name, Metadata: map[string]string{"tenant.id": "7", "instance.id": "9"}}); err != nil {
		t.Fatalf("create again: %v", err)
	}
	s.waitStatus(t, name, waha.StatusWorking)

	id, err := client.NewMessageID(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := client.SendText(ctx, whatsapp.Text{Session: name, ChatID: "15550100200@c.us", ID: id, Body: "Hello from aibud"})
	if err != nil {
		t.Fatal(err)
	}
	if sent.ID != "true_15550100200@c.us_"+id {
		t.Errorf("sent id %q", sent.ID)
	}
	for _, tt := range []struct {
		id   string
		want bool
	}{{id, true}, {sent.ID, true}, {"3EB0000000000000000000", false}} {
		got, err := client.MessageExists(ctx, name, "15550100200@c.us", tt.id)
		if err != nil || got != tt.want {
			t.Errorf("MessageExists(%s) = %v, %v; want %v", tt.id, got, err, tt.want)
		}
	}
	poll, err := client.SendPoll(ctx, whatsapp.Poll{Session: name, ChatID: "15550100200@c.us", Name: "Coming?", Options: []string{"Yes", "No"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LeadVotes(name, "15550100200", poll.ID, "No"); err != nil {
		t.Fatal(err)
	}
	if err := client.SendSeen(ctx, name, "15550100200@c.us"); err != nil {
		t.Error(err)
	}
	if err := client.StartTyping(ctx, name, "15550100200@c.us"); err != nil {
		t.Error(err)
	}
	if err := client.StopTyping(ctx, name, "15550100200@c.us"); err != nil {
		t.Error(err)
	}
	ns, err := client.CheckNumber(ctx, name, "+15550100200")
	if err != nil || !ns.Exists || ns.ChatID != "15550100200@c.us" {
		t.Errorf("CheckNumber %+v %v", ns, err)
	}
	if _, err := s.LeadSaysAsLID(name, "201234567890123", "15550100300", "Bia", "oi"); err != nil {
		t.Fatal(err)
	}
	if pn, err := client.PhoneForLID(ctx, name, "201234567890123@lid"); err != nil || pn != "15550100300@c.us" {
		t.Errorf("PhoneForLID = %q, %v", pn, err)
	}
	if pn, err := client.PhoneForLID(ctx, name, "200000000000001"); err != nil || pn != "" {
		t.Errorf("PhoneForLID of an unknown lid = %q, %v", pn, err)
	}
	if _, err := s.LeadSays(name, "15550100200", "Ana", "Is it open?"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Session(ctx, "t0_i0"); !errors.Is(err, whatsapp.ErrSessionNotFound) {
		t.Errorf("unknown session: %v, want ErrSessionNotFound", err)
	}
	if _, err := client.SendText(ctx, whatsapp.Text{Session: "t0_i0", ChatID: "15550100200@c.us", Body: "x"}); !errors.Is(err, whatsapp.ErrSessionNotFound) {
		t.Errorf("send on an unknown session: %v, want ErrSessionNotFound", err)
	}
	wrongKey := whatsapp.NewWAHA(whatsapp.WAHAConfig{BaseURL: s.url, APIKey: "wrong", Attempts: 1})
	if _, err := wrongKey.Session(ctx, name); !errors.Is(err, whatsapp.ErrUnauthorized) {
		t.Errorf("wrong key: %v, want ErrUnauthorized", err)
	}

	// Every webhook parses, and carries what happened.
	h.waitFor(t, "the lead's message", func(r hookRequest) bool {
		return r.env.Event == "message" && bytes.Contains(r.body, []byte("Is it open?"))
	})
	s.flush(t)
	kinds := map[whatsapp.EventKind]int{}
	var vote *whatsapp.PollVote
	var incoming *whatsapp.Message
	for _, r := range h.requests() {
		e, err := parser.ParseWebhook(r.header, r.body)
		if err != nil {
			t.Errorf("parse %s: %v", r.body, err)
			continue
		}
		kinds[e.Kind]++
		if e.Metadata["tenant.id"] != "7" || e.Session != name {
			t.Errorf("event %s: session %s, metadata %v", e.Type, e.Session, e.Metadata)
		}
		if e.Vote != nil {
			vote = e.Vote
		}
		if e.Type == "message" && e.Message.Body == "Is it open?" {
			incoming = e.Message
		}
	}
	for _, k := range []whatsapp.EventKind{whatsapp.EventSessionStatus, whatsapp.EventMessage, whatsapp.EventAck, whatsapp.EventPollVote} {
		if kinds[k] == 0 {
			t.Errorf("no %s event among %v", k, kinds)
		}
	}
	if vote == nil || vote.PollID != poll.ID || len(vote.Selected) != 1 || vote.Selected[0] != "No" || vote.Voter.Phone != "+15550100200" {
		t.Errorf("vote %+v", vote)
	}
	if incoming == nil || incoming.Sender.Phone != "+15550100200" || incoming.Sender.PushName != "Ana" || incoming.Type != "text" {
		t.Errorf("incoming message %+v", incoming)
	}

	if err := client.Logout(ctx, name); err != nil {
		t.Fatal(err)
	}
	s.waitStatus(t, name, waha.StatusScanQR)
	if err := client.DeleteSession(ctx, name); err != nil {
		t.Fatal(err)
	}
	if got := s.Sessions(); len(got) != 0 {
		t.Errorf("sessions after delete: %+v", got)
	}
	if n := countStatus(s.Calls(), http.StatusInternalServerError); n != 0 {
		t.Errorf("%d answers were 500", n)
	}
}

func countStatus(calls []waha.Call, status int) int {
	n := 0
	for _, c := range calls {
		if c.Status == status {
			n++
		}
	}
	return n
}
