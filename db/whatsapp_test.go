package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

func sessionName(t, i int64) string { return fmt.Sprintf("t%d_i%d", t, i) }

// TestInstancePlacementAndLimits runs alone (not in parallel): it controls
// which nodes are enabled.
func TestInstancePlacementAndLimits(t *testing.T) {
	ctx := context.Background()
	s := dbtest.Store(t)
	bdb := dbtest.DB(t)
	if _, err := s.EnsureDefaultNode(ctx, "waha", dbtest.TestNodeURL, 1_000_000); err != nil {
		t.Fatal(err)
	}
	// Only the nodes of this test take instances while it runs.
	if _, err := bdb.ExecContext(ctx, "UPDATE gateway_nodes SET enabled = false"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = bdb.ExecContext(ctx, "UPDATE gateway_nodes SET enabled = true WHERE url = ?", dbtest.TestNodeURL)
	})
	small := &db.Node{Name: "small", URL: "http://small.test.invalid", Capacity: 1, Enabled: true}
	big := &db.Node{Name: "big", URL: "http://big.test.invalid", Capacity: 3, Enabled: true}
	for _, n := range []*db.Node{small, big} {
		if err := s.CreateNode(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateNode(ctx, &db.Node{Name: "dup", URL: big.URL, Capacity: 1, Enabled: true}); !errors.Is(err, db.ErrConflict) {
		t.Errorf("duplicate node URL: %v", err)
	}

	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	newInst := func(limit int) (*db.Instance, error) {
		return ts.CreateInstance(ctx, db.NewInstance{Name: "Shop", Providers: []string{"waha"}, Limit: limit, SessionName: sessionName})
	}
	first, err := newInst(10)
	if err != nil {
		t.Fatal(err)
	}
	if *first.NodeID != big.ID {
		t.Errorf("first instance on node %d, want the one with most room (%d)", *first.NodeID, big.ID)
	}
	if first.SessionName != sessionName(tenant.ID, first.ID) || first.Status != db.InstanceCreating {
		t.Errorf("instance = %+v", first)
	}
	// big has 2 left, small 1: the next goes to big, then big and small tie
	// (1 each) and the lower id wins.
	for range 3 {
		if _, err := newInst(10); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := newInst(10); !errors.Is(err, db.ErrNoCapacity) {
		t.Errorf("fifth instance: %v, want ErrNoCapacity", err)
	}
	nodes, err := s.NodesWithUse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.ID == big.ID && n.Used != 3 || n.ID == small.ID && n.Used != 1 {
			t.Errorf("node %s used %d of %d", n.Name, n.Used, n.Capacity)
		}
	}
	if err := s.DeleteNode(ctx, small.ID); !errors.Is(err, db.ErrNodeInUse) {
		t.Errorf("deleting a used node: %v", err)
	}

	// The plan limit holds under concurrency.
	if err := s.UpdateNode(ctx, big.ID, db.NodeChange{Name: "big", Capacity: 100, Enabled: true, MonthlyCost: 49.99}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Node(ctx, big.ID); err != nil || n.MonthlyCost != 49.99 {
		t.Errorf("monthly cost: %+v, %v", n, err)
	}
	other, _ := dbtest.NewTenant(t, s)
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, limited := 0, 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Tenant(other.ID).CreateInstance(ctx, db.NewInstance{Name: "x", Providers: []string{"waha"}, Limit: 3, SessionName: sessionName})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case errors.Is(err, db.ErrPlanLimit):
				limited++
			default:
				t.Errorf("create: %v", err)
			}
		}()
	}
	wg.Wait()
	if created != 3 || limited != 5 {
		t.Errorf("created %d, limited %d; want 3 and 5", created, limited)
	}
}

func TestInstanceStateAndQR(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	inst := dbtest.NewInstance(t, s, tenant.ID)
	ts := s.Tenant(tenant.ID)
	if _, err := ts.SetInstanceState(ctx, inst.ID, db.SessionState{Status: db.InstanceScanQR}); err != nil {
		t.Fatal(err)
	}

	changed, err := ts.SetInstanceQR(ctx, inst.ID, []byte("png1"), "h1")
	if err != nil || !changed {
		t.Fatalf("first QR: %v %v", changed, err)
	}
	if changed, _ := ts.SetInstanceQR(ctx, inst.ID, []byte("png1"), "h1"); changed {
		t.Error("the same QR counted as a change")
	}
	if changed, _ := ts.SetInstanceQR(ctx, inst.ID, []byte("png2"), "h2"); !changed {
		t.Error("a new QR did not count")
	}
	got, _ := ts.Instance(ctx, inst.ID)
	if got.QRCount != 2 || string(got.QRPNG) != "png2" {
		t.Errorf("QR count %d, png %q", got.QRCount, got.QRPNG)
	}

	changed, err = ts.SetInstanceState(ctx, inst.ID, db.SessionState{Status: db.InstanceConnected, ProviderStatus: "WORKING", Phone: "+15551234567", AccountID: "15551234567@c.us", PushName: "Shop"})
	if err != nil || !changed {
		t.Fatalf("connect: %v %v", changed, err)
	}
	got, _ = ts.Instance(ctx, inst.ID)
	if got.Status != db.InstanceConnected || got.Phone == nil || *got.Phone != "+15551234567" || got.QRPNG != nil {
		t.Errorf("connected instance = %+v", got)
	}
	if changed, _ := ts.SetInstanceState(ctx, inst.ID, db.SessionState{Status: db.InstanceConnected, ProviderStatus: "WORKING"}); changed {
		t.Error("the same status counted as a change")
	}
	if changed, _ := ts.SetInstanceQR(ctx, inst.ID, []byte("late"), "h3"); changed {
		t.Error("a late QR code was stored on a connected number")
	}
	if changed, _ := ts.SetInstanceState(ctx, inst.ID, db.SessionState{Status: db.InstanceFailed, OnlyFrom: []string{db.InstanceScanQR}}); changed {
		t.Error("a guarded state change overrode a connected number")
	}
	if got, _ := ts.Instance(ctx, inst.ID); got.Status != db.InstanceConnected {
		t.Errorf("status %s, want connected", got.Status)
	}
	byName, err := s.InstanceBySession(ctx, inst.SessionName)
	if err != nil || byName.ID != inst.ID || byName.TenantID != tenant.ID {
		t.Errorf("by session: %+v %v", byName, err)
	}
}

// Of checks claiming the restart of a failed session at once (two health
// check runs overlapping on two workers), one wins; a later check does not
// restart it again, until the number connects again.
func TestClaimInstanceRestartOnce(t *testing.T) {
	t.Parallel()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts, inst := s.Tenant(tenant.ID), dbtest.NewInstance(t, s, tenant.ID)
	ctx := context.Background()
	var wg sync.WaitGroup
	claims := make(chan bool, 5)
	for range cap(claims) {
		wg.Go(func() {
			ok, err := ts.ClaimInstanceRestart(ctx, inst.ID)
			if err != nil {
				t.Error(err)
			}
			claims <- ok
		})
	}
	wg.Wait()
	close(claims)
	won := 0
	for ok := range claims {
		if ok {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d of 5 concurrent claims won, want 1", won)
	}
	if ok, err := ts.ClaimInstanceRestart(ctx, inst.ID); ok || err != nil {
		t.Errorf("a later claim: %v %v, want false", ok, err)
	}
	if _, err := ts.SetInstanceState(ctx, inst.ID, db.SessionState{Status: db.InstanceConnected, ProviderStatus: "WORKING"}); err != nil {
		t.Fatal(err)
	}
	if ok, err := ts.ClaimInstanceRestart(ctx, inst.ID); !ok || err != nil {
		t.Errorf("a claim after the number connected again: %v %v, want true", ok, err)
	}
}

// Of checks claiming the restart of a session that dropped webhooks at
// once, one wins; none wins again within the period, and one does after it.
func TestClaimSilentRestartOncePerPeriod(t *testing.T) {
	t.Parallel()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts, inst := s.Tenant(tenant.ID), dbtest.NewInstance(t, s, tenant.ID)
	ctx := context.Background()
	var won atomic.Int32
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			ok, err := ts.ClaimSilentRestart(ctx, inst.ID, time.Hour)
			if err != nil {
				t.Error(err)
			}
			if ok {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Errorf("%d of 5 concurrent claims won, want 1", won.Load())
	}
	if ok, err := ts.ClaimSilentRestart(ctx, inst.ID, time.Hour); ok || err != nil {
		t.Errorf("a claim within the hour: %v %v, want false", ok, err)
	}
	if _, err := dbtest.DB(t).ExecContext(ctx, "UPDATE instances SET silent_restart_at = now() - interval '61 minutes' WHERE id = ?", inst.ID); err != nil {
		t.Fatal(err)
	}
	if ok, err := ts.ClaimSilentRestart(ctx, inst.ID, time.Hour); !ok || err != nil {
		t.Errorf("a claim after the hour: %v %v, want true", ok, err)
	}
	if _, err := ts.ClaimSilentRestart(ctx, inst.ID+1_000_000, time.Hour); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("an unknown number: %v, want not found", err)
	}
}

// A number that fails says what happened: linking did not finish, or a
// number that worked stopped; a repeated failure keeps the first reason.
func TestInstanceFailureReasonFollowsWhatHappened(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	failed := db.SessionState{Status: db.InstanceFailed, Error: "not scanned", ErrorAfterLinked: "stopped after working"}
	reason := func(inst *db.Instance) string {
		got, err := ts.Instance(ctx, inst.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastError
	}

	never := dbtest.NewInstance(t, s, tenant.ID)
	if _, err := ts.SetInstanceState(ctx, never.ID, db.SessionState{Status: db.InstanceScanQR}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.SetInstanceState(ctx, never.ID, failed); err != nil {
		t.Fatal(err)
	}
	if got := reason(never); got != "not scanned" {
		t.Errorf("a number never linked failed with %q", got)
	}

	worked := dbtest.NewInstance(t, s, tenant.ID)
	if _, err := ts.SetInstanceState(ctx, worked.ID, db.SessionState{Status: db.InstanceConnected, Phone: "+15551230000"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.SetInstanceState(ctx, worked.ID, failed); err != nil {
		t.Fatal(err)
	}
	if got := reason(worked); got != "stopped after working" {
		t.Errorf("a connected number failed with %q", got)
	}
	if _, err := ts.SetInstanceState(ctx, worked.ID, failed); err != nil {
		t.Fatal(err)
	}
	if got := reason(worked); got != "stopped after working" {
		t.Errorf("a repeated failure changed the reason to %q", got)
	}
}

func TestContactLIDThenPhoneIsOnePerson(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)

	// The gateway tells the phone behind the linked id.
	a, created, err := ts.UpsertContact(ctx, db.ContactIdentity{LID: "987654321@lid", Phone: "+15550001111", Name: "Ana"})
	if err != nil || !created {
		t.Fatalf("first: %v created %v", err, created)
	}
	b, created, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+15550001111", Name: "Ana M."})
	if err != nil || created || b.ID != a.ID {
		t.Fatalf("same person by phone: id %d vs %d, created %v, err %v", b.ID, a.ID, created, err)
	}
	if b.Name != "Ana" {
		t.Errorf("push name overwrote the saved name: %q", b.Name)
	}
	c, _, _ := ts.UpsertContact(ctx, db.ContactIdentity{LID: "987654321@lid"})
	if c.ID != a.ID || c.ChatID != "15550001111@c.us" {
		t.Errorf("same person by lid: %+v", c)
	}
}

func TestContactMergeWhenLinkedLater(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	inst := dbtest.NewInstance(t, s, tenant.ID)

	byLID, _, err := ts.UpsertContact(ctx, db.ContactIdentity{LID: "555@lid", Name: "Bo"})
	if err != nil {
		t.Fatal(err)
	}
	byPhone, _, err := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+15550002222"})
	if err != nil {
		t.Fatal(err)
	}
	if byLID.ID == byPhone.ID {
		t.Fatal("unlinked ids made one contact")
	}
	for i, c := range []*db.Contact{byLID, byPhone} {
		if _, err := ts.SaveMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: c.ID, WaID: fmt.Sprintf("m%d", i), Direction: db.DirectionIn,
			Sender: db.SenderLead, ChatKind: db.ContactDirect, Type: "text", Body: "hi", Status: db.MessageReceived, SentAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	merged, created, err := ts.UpsertContact(ctx, db.ContactIdentity{LID: "555@lid", Phone: "+15550002222"})
	if err != nil || created {
		t.Fatalf("link: %v created %v", err, created)
	}
	if merged.ID != byPhone.ID || merged.LID == nil || *merged.LID != "555@lid" || merged.Name != "Bo" {
		t.Errorf("merged = %+v", merged)
	}
	if _, err := ts.Contact(ctx, byLID.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the linked-id contact still exists: %v", err)
	}
	msgs, err := ts.Messages(ctx, merged.ID, 10)
	if err != nil || len(msgs) != 2 {
		t.Errorf("merged conversation has %d messages (err %v), want 2", len(msgs), err)
	}
}

func TestContactUpsertConcurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	var wg sync.WaitGroup
	ids := make([]int64, 20)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := db.ContactIdentity{Phone: "+15550003333"}
			if i%2 == 0 {
				id.LID = "777@lid"
			}
			c, _, err := ts.UpsertContact(ctx, id)
			if err != nil {
				t.Errorf("upsert %d: %v", i, err)
				return
			}
			ids[i] = c.ID
		}()
	}
	wg.Wait()
	if n, _ := ts.ContactCount(ctx); n != 1 {
		t.Errorf("%d contacts for one person", n)
	}
}

func TestMessagesIdempotentAndAcks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	inst := dbtest.NewInstance(t, s, tenant.ID)
	c, _, _ := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+15550004444"})

	msg := func() *db.Message {
		return &db.Message{InstanceID: &inst.ID, ContactID: c.ID, WaID: "ABC", Direction: db.DirectionOut, Sender: db.SenderAI,
			ChatKind: db.ContactDirect, Type: "text", Body: "hello", Status: db.MessageSending, SentAt: time.Now()}
	}
	first, err := ts.SaveMessage(ctx, msg())
	if err != nil || !first.Inserted {
		t.Fatalf("first save: %v inserted %v", err, first.Inserted)
	}
	echo := msg()
	echo.ProviderID = "true_15550004444@c.us_ABC"
	again, err := ts.SaveMessage(ctx, echo)
	if err != nil || again.Inserted || again.ID != first.ID || again.ProviderID != echo.ProviderID {
		t.Fatalf("echo: %+v %v", again, err)
	}
	for _, tt := range []struct {
		level   int
		changed bool
		status  string
	}{
		{2, true, db.MessageDelivered},
		{1, false, db.MessageDelivered}, // late, lower ack
		{3, true, db.MessageRead},
		{3, false, db.MessageRead},  // duplicate
		{-1, false, db.MessageRead}, // failure after delivery
	} {
		_, err := ts.ApplyAck(ctx, inst.ID, "ABC", tt.level)
		if (err == nil) != tt.changed {
			t.Errorf("ack %d: err %v, want changed=%v", tt.level, err, tt.changed)
		}
		m, _ := ts.MessageByWaID(ctx, inst.ID, "ABC")
		if m.Status != tt.status {
			t.Errorf("after ack %d: status %s, want %s", tt.level, m.Status, tt.status)
		}
	}
	in, out, err := ts.MessageCountSince(ctx, time.Now().Add(-time.Hour))
	if err != nil || in != 0 || out != 1 {
		t.Errorf("counts in %d out %d (err %v)", in, out, err)
	}
	convs, err := ts.RecentConversations(ctx, 5)
	if err != nil || len(convs) != 1 || convs[0].LastBody != "hello" || convs[0].LastDirection != "out" {
		t.Errorf("conversations = %+v (err %v)", convs, err)
	}
}

func TestRecordWebhookEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tenant, _ := dbtest.NewTenant(t, s)
	inst := dbtest.NewInstance(t, s, tenant.ID)
	eventID := fmt.Sprintf("evt_%d", time.Now().UnixNano())

	var wg sync.WaitGroup
	outcomes := make([]string, 5)
	for i := range outcomes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, o, err := s.RecordWebhookEvent(ctx, "waha", eventID, "message", inst.SessionName, []byte(`{"id":"`+eventID+`"}`))
			if err != nil {
				t.Errorf("record: %v", err)
			}
			outcomes[i] = o
		}()
	}
	wg.Wait()
	stored := 0
	for _, o := range outcomes {
		switch o {
		case db.WebhookStored:
			stored++
		case db.WebhookDuplicate:
		default:
			t.Errorf("outcome %q", o)
		}
	}
	if stored != 1 {
		t.Errorf("stored %d times, want once (%v)", stored, outcomes)
	}
	e, o, err := s.RecordWebhookEvent(ctx, "waha", "evt_other", "message", "no_such_session", []byte(`{}`))
	if err != nil || o != db.WebhookUnknownSession || e != nil {
		t.Errorf("unknown session: %v %q %v", e, o, err)
	}
	e, o, err = s.RecordWebhookEvent(ctx, "waha", eventID, "message", inst.SessionName, []byte("{}"))
	if err != nil || o != db.WebhookDuplicate {
		t.Fatalf("redelivery: %q %v", o, err)
	}
	ts := s.Tenant(tenant.ID)
	if dead, err := ts.MarkWebhookEvent(ctx, e.ID, errors.New("boom \x00\xff"), false); err != nil || dead {
		t.Fatalf("mark failed: dead %v, %v", dead, err)
	}
	got, _ := ts.WebhookEvent(ctx, e.ID)
	if got.ProcessedAt != nil || got.LastError != "boom ?" || got.Attempts != 1 || got.DueAt == nil || string(got.Payload) != `{"id":"`+eventID+`"}` {
		t.Errorf("after failure: %+v", got)
	}
	_, _ = ts.MarkWebhookEvent(ctx, e.ID, nil, false)
	got, _ = ts.WebhookEvent(ctx, e.ID)
	if got.ProcessedAt == nil || got.Attempts != 2 || got.DueAt != nil {
		t.Errorf("after success: %+v", got)
	}
}

// TestRecordWebhookEventsInABurst sends a burst that the inbox writes in
// batches, mixing new events of two tenants, the same ids several times and
// unknown sessions: each call gets its own outcome, each event is stored
// once, under its own tenant and instance, with its own payload.
func TestRecordWebhookEventsInABurst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	ta, _ := dbtest.NewTenant(t, s)
	tb, _ := dbtest.NewTenant(t, s)
	ia, ib := dbtest.NewInstance(t, s, ta.ID), dbtest.NewInstance(t, s, tb.ID)
	run := time.Now().UnixNano()

	type call struct {
		id, session string
		event       *db.WebhookEvent
		outcome     string
		err         error
	}
	var calls []*call
	for i := range 300 {
		session := ia.SessionName
		if i%2 == 1 {
			session = ib.SessionName
		}
		calls = append(calls, &call{id: fmt.Sprintf("burst_%d_%d", run, i%200), session: session}) // ids 0–99 twice
	}
	for i := range 20 {
		calls = append(calls, &call{id: fmt.Sprintf("burst_unknown_%d_%d", run, i), session: "no_such_session"})
	}
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.event, c.outcome, c.err = s.RecordWebhookEvent(ctx, "waha", c.id, "message", c.session, []byte(`{"id":"`+c.id+`"}`))
		}()
	}
	wg.Wait()

	stored := map[string]int{}
	for _, c := range calls {
		switch {
		case c.err != nil:
			t.Errorf("%s: %v", c.id, c.err)
		case c.session == "no_such_session":
			if c.outcome != db.WebhookUnknownSession || c.event != nil {
				t.Errorf("%s: %q %+v, want unknown session", c.id, c.outcome, c.event)
			}
		case c.outcome == db.WebhookStored || c.outcome == db.WebhookDuplicate:
			if c.outcome == db.WebhookStored {
				stored[c.id]++
			}
			want := map[string]int64{ia.SessionName: ia.ID, ib.SessionName: ib.ID}
			if c.event == nil || c.event.EventID != c.id {
				t.Errorf("%s: event %+v", c.id, c.event)
			} else if c.event.SessionName != c.session || want[c.session] != c.event.InstanceID {
				t.Errorf("%s: stored under %s/%d", c.id, c.event.SessionName, c.event.InstanceID)
			}
		default:
			t.Errorf("%s: outcome %q", c.id, c.outcome)
		}
	}
	if len(stored) != 200 {
		t.Errorf("%d distinct events stored, want 200", len(stored))
	}
	for id, n := range stored {
		if n != 1 {
			t.Errorf("%s reported stored %d times", id, n)
		}
	}
	var rows, payloadsOK int
	if err := dbtest.DB(t).QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE convert_from(payload, 'UTF8') = '{"id":"' || event_id || '"}')
		FROM webhook_events WHERE event_id LIKE ?`, fmt.Sprintf("burst_%%%d%%", run)).Scan(&rows, &payloadsOK); err != nil {
		t.Fatal(err)
	}
	if rows != 200 || payloadsOK != 200 {
		t.Errorf("%d rows (%d with their own payload), want 200", rows, payloadsOK)
	}
	for _, ten := range []int64{ta.ID, tb.ID} {
		var n int
		_ = dbtest.DB(t).QueryRowContext(ctx, `SELECT count(*) FROM webhook_events WHERE tenant_id = ? AND event_id LIKE ?`, ten, fmt.Sprintf("burst_%d_%%", run)).Scan(&n)
		if n != 100 {
			t.Errorf("tenant %d has %d events, want 100", ten, n)
		}
	}
}
