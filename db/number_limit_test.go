package db_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/myaibud/aibud/db"
	"github.com/myaibud/aibud/db/dbtest"
)

func TestNumbersToPause(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	three := []db.NumberAge{{ID: 7, CreatedAt: at(2)}, {ID: 3, CreatedAt: at(0)}, {ID: 5, CreatedAt: at(1)}}
	for _, tc := range []struct {
		name    string
		numbers []db.NumberAge
		limit   int
		want    []int64
	}{
		{"none", nil, 1, nil},
		{"within the limit", three, 3, nil},
		{"more allowed", three, 10, nil},
		{"one over: the newest", three, 2, []int64{7}},
		{"two over, in the order given", three, 1, []int64{7, 5}},
		{"limit zero pauses all", three, 0, []int64{7, 3, 5}},
		{"negative limit counts as zero", three, -1, []int64{7, 3, 5}},
		{"same time: the higher id is newer", []db.NumberAge{{ID: 9, CreatedAt: at(0)}, {ID: 4, CreatedAt: at(0)}}, 1, []int64{9}},
	} {
		if got := db.NumbersToPause(tc.numbers, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("%s: NumbersToPause = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestPlanChangePausesNumbers: a smaller plan pauses the newest numbers
// beyond its limit, a larger one resumes them, and removing a number lets
// a paused one take its place.
func TestPlanChangePausesNumbers(t *testing.T) {
	ctx := context.Background()
	s := dbtest.Store(t)
	if _, err := s.EnsureDefaultNode(ctx, "waha", dbtest.TestNodeURL, 1_000_000); err != nil {
		t.Fatal(err)
	}
	tenant, user := dbtest.NewTenant(t, s)
	ts := s.Tenant(tenant.ID)
	actor := db.Actor{UserID: user.ID, Email: user.Email}
	if _, err := s.SetPlan(ctx, actor, tenant.ID, db.PlanBusiness, "test"); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for range 3 {
		inst, err := ts.CreateInstance(ctx, db.NewInstance{Name: "Shop", Providers: []string{"waha"}, Limit: 10, SessionName: sessionName})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, inst.ID)
	}
	paused := func() []int64 {
		t.Helper()
		ns, err := ts.Instances(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, n := range ns {
			if n.PausedAt != nil {
				out = append(out, n.ID)
			}
		}
		slices.Sort(out)
		return out
	}
	if _, err := s.SetPlan(ctx, actor, tenant.ID, db.PlanStarter, "downgrade"); err != nil {
		t.Fatal(err)
	}
	if got := paused(); !slices.Equal(got, ids[1:]) {
		t.Errorf("on Starter (1 number) paused = %v, want %v", got, ids[1:])
	}
	if _, err := s.SetPlan(ctx, actor, tenant.ID, db.PlanPro, "upgrade"); err != nil {
		t.Fatal(err)
	}
	if got := paused(); len(got) != 0 {
		t.Errorf("on Pro (3 numbers) paused = %v, want none", got)
	}
	// The billing path (a downgrade at period end) pauses the same way.
	if _, err := ts.UpdateBilling(ctx, func(t *db.Tenant) (bool, error) { t.Plan = db.PlanStarter; return true, nil }); err != nil {
		t.Fatal(err)
	}
	if got := paused(); !slices.Equal(got, ids[1:]) {
		t.Errorf("after the billing downgrade paused = %v, want %v", got, ids[1:])
	}
	if err := ts.DeleteInstance(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if got := paused(); !slices.Equal(got, ids[2:]) {
		t.Errorf("after removing the working number paused = %v, want %v", got, ids[2:])
	}
}
