package db_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

func TestTenantMay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status string
		act    db.Activity
		want   bool
	}{
		{db.TenantActive, db.ActView, true},
		{db.TenantActive, db.ActAIReply, true},
		{db.TenantActive, db.ActCampaign, true},
		{db.TenantActive, db.ActSend, true},
		{db.TenantSuspended, db.ActView, true},
		{db.TenantSuspended, db.ActAIReply, false},
		{db.TenantSuspended, db.ActCampaign, false},
		{db.TenantSuspended, db.ActSend, false},
	} {
		t.Run(tc.status+"/"+string(tc.act), func(t *testing.T) {
			if got := (&db.Tenant{Status: tc.status}).May(tc.act); got != tc.want {
				t.Errorf("May = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTenantsAllTenants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	tag := fmt.Sprintf("zq%d", time.Now().UnixNano())
	busy, _ := dbtest.NewTenant(t, s, func(in *db.SignUp) { in.BusinessName = "Busy " + tag }, dbtest.WithCredits(50))
	quiet, quietUser := dbtest.NewTenant(t, s, func(in *db.SignUp) { in.BusinessName = "Quiet " + tag }, dbtest.WithCredits(900))
	ts := s.Tenant(busy.ID)
	inst := dbtest.NewInstance(t, s, busy.ID)
	c, _, _ := ts.UpsertContact(ctx, db.ContactIdentity{Phone: "+15550007777"})
	for i, sender := range []string{db.SenderLead, db.SenderAI, db.SenderAI} {
		dir := db.DirectionOut
		if sender == db.SenderLead {
			dir = db.DirectionIn
		}
		if _, err := ts.SaveMessage(ctx, &db.Message{InstanceID: &inst.ID, ContactID: c.ID, WaID: fmt.Sprintf("c%d", i), Direction: dir,
			Sender: sender, ChatKind: db.ContactDirect, Type: "text", Body: "hi", Status: db.MessageReceived, SentAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}

	got, total, err := s.TenantsAllTenants(ctx, db.TenantFilter{Query: tag, Sort: db.SortTenantMessages, Desc: true})
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(got) != 2 || got[0].ID != busy.ID || got[1].ID != quiet.ID {
		t.Fatalf("search %q by messages: total %d, %+v", tag, total, got)
	}
	if b := got[0]; b.Messages != 3 || b.AIReplies != 2 || b.CreditBalance != 50 || b.Plan != db.PlanStarter || b.LastActivity == nil {
		t.Errorf("busy tenant: %+v", b)
	}
	if q := got[1]; q.Messages != 0 || q.LastActivity != nil || q.Email != quietUser.Email {
		t.Errorf("quiet tenant: %+v", q)
	}
	got, _, _ = s.TenantsAllTenants(ctx, db.TenantFilter{Query: tag, Sort: db.SortTenantCredits})
	if len(got) != 2 || got[0].ID != busy.ID {
		t.Errorf("by credits ascending: %+v", got)
	}
	// By email, case-insensitive; LIKE wildcards are plain text.
	got, total, _ = s.TenantsAllTenants(ctx, db.TenantFilter{Query: strings.ToUpper(quietUser.Email)})
	if total != 1 || got[0].ID != quiet.ID {
		t.Errorf("by email: %d %+v", total, got)
	}
	if _, total, _ = s.TenantsAllTenants(ctx, db.TenantFilter{Query: tag[:2] + "%"}); total != 0 {
		t.Errorf("%% matched %d tenants", total)
	}
	// Paged: one per page, the count is of all matches.
	got, total, _ = s.TenantsAllTenants(ctx, db.TenantFilter{Query: tag, Sort: db.SortTenantName, Page: db.Page{Number: 2, PerPage: 1}})
	if total != 2 || len(got) != 1 || got[0].ID != quiet.ID {
		t.Errorf("page 2: %d %+v", total, got)
	}
}

func TestConsoleActionsAreAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := dbtest.Store(t)
	_, ownerUser := dbtest.NewTenant(t, s)
	tenant, _ := dbtest.NewTenant(t, s, dbtest.WithCredits(100))
	actor := db.Actor{UserID: ownerUser.ID, Email: ownerUser.Email}

	e, err := s.AdjustCredits(ctx, actor, tenant.ID, 40, "goodwill", "owner:a1")
	if err != nil || e.BalanceAfter != 140 {
		t.Fatalf("grant: %v %+v", err, e)
	}
	if e, err = s.AdjustCredits(ctx, actor, tenant.ID, 40, "goodwill", "owner:a1"); err != nil || e.BalanceAfter != 140 || !e.Replayed {
		t.Errorf("the same form twice: %v %+v", err, e)
	}
	if _, err = s.AdjustCredits(ctx, actor, tenant.ID, -141, "too much", "owner:a2"); !errors.Is(err, db.ErrInsufficientCredits) {
		t.Errorf("below zero: err = %v", err)
	}
	if e, err = s.AdjustCredits(ctx, actor, tenant.ID, -140, "refund abuse", "owner:a3"); err != nil || e.BalanceAfter != 0 {
		t.Errorf("remove all: %v %+v", err, e)
	}
	if ok, err := s.SetSuspended(ctx, actor, tenant.ID, true, "unpaid"); !ok || err != nil {
		t.Errorf("suspend: %v %v", ok, err)
	}
	if ok, _ := s.SetSuspended(ctx, actor, tenant.ID, true, "again"); ok {
		t.Error("suspending a suspended tenant changed something")
	}
	got, _ := s.TenantByID(ctx, tenant.ID)
	if got.Status != db.TenantSuspended || got.SuspendReason != "unpaid" || got.SuspendedAt == nil {
		t.Errorf("suspended tenant: %+v", got)
	}
	if ok, err := s.SetSuspended(ctx, actor, tenant.ID, false, "paid"); !ok || err != nil {
		t.Errorf("unsuspend: %v %v", ok, err)
	}
	if ok, err := s.SetPlan(ctx, actor, tenant.ID, db.PlanPro, "upgrade by phone"); !ok || err != nil {
		t.Errorf("plan: %v %v", ok, err)
	}
	if ok, _ := s.SetPlan(ctx, actor, tenant.ID, db.PlanPro, "same"); ok {
		t.Error("setting the same plan changed something")
	}
	if err := s.Audit(ctx, actor, tenant.ID, db.AuditPasswordReset, map[string]string{"email": "x@example.com"}, ""); err != nil {
		t.Fatal(err)
	}

	log, total, err := s.AuditLogAllTenants(ctx, db.AuditFilter{TenantID: tenant.ID})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range log {
		actions = append(actions, e.Action+":"+e.Reason)
		if e.ActorEmail != ownerUser.Email || *e.ActorUserID != ownerUser.ID || e.TenantName == nil {
			t.Errorf("entry %+v", e)
		}
	}
	want := "user.password_reset:,tenant.plan:upgrade by phone,tenant.unsuspend:paid,tenant.suspend:unpaid,credits.remove:refund abuse,credits.grant:goodwill"
	if total != 6 || strings.Join(actions, ",") != want {
		t.Errorf("audit log (%d):\n got %s\nwant %s", total, strings.Join(actions, ","), want)
	}
	if !strings.Contains(string(log[4].Details), `"amount": -140`) || !strings.Contains(string(log[1].Details), `"from": "starter"`) {
		t.Errorf("details: %s / %s", log[4].Details, log[1].Details)
	}
	if _, total, _ = s.AuditLogAllTenants(ctx, db.AuditFilter{TenantID: tenant.ID, Action: db.AuditSuspended}); total != 1 {
		t.Errorf("filtered by action: %d", total)
	}
}
