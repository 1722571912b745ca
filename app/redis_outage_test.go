package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

// tcpProxy forwards connections to a target until it is cut: then new
// connections are refused and open ones are dropped, as when a server
// becomes unreachable.
type tcpProxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.ln = ln
	go p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// cut makes the target unreachable through the proxy.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.conns = map[net.Conn]bool{}
}

// restore reopens the proxy on the same address.
func (p *tcpProxy) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.serve(ln)
}

// TestRedisOutageBetweenCommitAndEnqueue: the web app's Redis becomes
// unreachable after a manual reply and a new number are stored and before
// their work is queued. The tenant gets no error, pays once, the reply goes
// out exactly once and the number leaves "creating": the workers' sweeper
// finds both in the database.
func TestRedisOutageBetweenCommitAndEnqueue(t *testing.T) {
	t.Parallel()
	e := sharedEnv(t)
	ru, err := url.Parse(dbtest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTCPProxy(t, ru.Host)
	proxied := *ru
	proxied.Host = proxy.addr
	a := &testApp{store: dbtest.Store(t), namespace: e.namespace, env: e}
	a.Server = httptest.NewServer(newAppHandlerOn(t, e, proxied.String(), quietLogger(dbtest.Logger(t)), t.Cleanup, &a.opts))
	t.Cleanup(a.Server.Close)
	s := newAIShop(t, a, func(st *db.AISettings) { st.Enabled = false })
	ctx := context.Background()
	setPlan(t, a.store, s.ts.TenantID(), db.PlanPro) // room for a second number
	lead := newLead()
	s.says(t, lead, "hello")
	before := s.balance(t)
	c, _ := s.ts.ContactByPhone(ctx, "+"+lead)
	page := fmt.Sprintf("/contacts/%d", c.ID)
	replyTok := s.b.csrf(page)
	numberTok := s.b.csrf("/instances")

	proxy.cut()
	wantRedirect(t, s.b.post(page+"/reply", url.Values{"_csrf": {replyTok}, "body": {"Sent while Redis was away"}}), page)
	r := s.b.post("/instances", url.Values{"_csrf": {numberTok}, "name": {"Second number"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("create a number while Redis is away: %d %s", r.StatusCode, abbreviate(r.body))
	}
	msgs, _ := s.ts.Messages(ctx, c.ID, 10)
	m := msgs[len(msgs)-1]
	if m.Body != "Sent while Redis was away" || s.balance(t) != before-costMessage {
		t.Fatalf("stored %q, balance %d", m.Body, s.balance(t))
	}
	if _, err := e.inspector.GetTaskInfo("critical", fmt.Sprintf("send:%d:0", m.ID)); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Fatalf("a send task was queued although Redis was away (%v)", err)
	}
	insts, _ := s.ts.Instances(ctx)
	second := insts[len(insts)-1]
	if second.Status != db.InstanceCreating {
		t.Fatalf("new number %q", second.Status)
	}
	proxy.restore(t)

	if settled := s.settles(t, m.ID, 20*time.Second); settled.Status == db.MessageFailed {
		t.Fatalf("message %+v", settled)
	}
	texts, _ := s.delivered(lead)
	if len(texts) != 1 || texts[0] != "Sent while Redis was away" {
		t.Errorf("delivered %q, want the reply once", texts)
	}
	if got := s.balance(t); got != before-costMessage {
		t.Errorf("balance %d, want %d (charged once)", got, before-costMessage)
	}
	waitFor(t, 40*time.Second, "the new number to leave creating", func() bool {
		i, err := s.ts.Instance(ctx, second.ID)
		return err == nil && i.Status != db.InstanceCreating
	})
	i, _ := s.ts.Instance(ctx, second.ID)
	if i.Status != db.InstanceScanQR && i.Status != db.InstanceStarting {
		t.Errorf("new number %q (%s), want it waiting for its QR scan", i.Status, i.LastError)
	}
	if strings.Contains(s.b.get("/dashboard").body, "Internal") {
		t.Error("the dashboard shows an error")
	}
}
