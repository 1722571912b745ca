package db

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun"
)

// Instance statuses, as the tenant sees them.
const (
	InstanceCreating     = "creating"     // the session is being set up on a node
	InstanceStarting     = "starting"     // the gateway is starting the session
	InstanceScanQR       = "scan_qr"      // waiting for the phone to scan the QR code
	InstanceConnected    = "connected"    // linked and working
	InstanceDisconnected = "disconnected" // was linked, the session dropped: reconnect
	InstanceFailed       = "failed"       // the gateway gave up (e.g. QR not scanned): retry
	InstanceLoggedOut    = "logged_out"   // the tenant unlinked the phone
)

// Instance is one WhatsApp number of a tenant: a session on a gateway node.
// It belongs to its tenant; the session name is unique platform-wide and is
// how webhooks find it.
type Instance struct {
	bun.BaseModel `bun:"table:instances,alias:i"`

	ID              int64      `bun:"id,pk,autoincrement"`
	TenantID        int64      `bun:"tenant_id,notnull"`
	NodeID          *int64     `bun:"node_id"`
	Provider        string     `bun:"provider,notnull"`
	Name            string     `bun:"name,notnull"`
	SessionName     string     `bun:"session_name,notnull"`
	Status          string     `bun:"status,notnull"`
	ProviderStatus  string     `bun:"provider_status,notnull"`
	Phone           *string    `bun:"phone"`
	AccountID       *string    `bun:"account_id"`
	PushName        *string    `bun:"push_name"`
	QRPNG           []byte     `bun:"qr_png"`
	QRHash          *string    `bun:"qr_hash"`
	QRCount         int        `bun:"qr_count,notnull"`
	PairingCode     *string    `bun:"pairing_code"`
	LastError       string     `bun:"last_error,notnull"`
	StatusChangedAt time.Time  `bun:"status_changed_at,notnull,default:current_timestamp"`
	CheckedAt       *time.Time `bun:"checked_at"`
	RestartedAt     *time.Time `bun:"restarted_at"`
	// SilentRestartAt is when the inbox check last restarted the session
	// for dropping webhooks (ClaimSilentRestart).
	SilentRestartAt *time.Time `bun:"silent_restart_at"`
	// StateObservedAt is when the current state was observed at the gateway.
	StateObservedAt *time.Time `bun:"state_observed_at"`
	// PausedAt is set while the number is beyond what the tenant's plan
	// allows (see NumbersToPause): it receives, but sends nothing.
	PausedAt  *time.Time `bun:"paused_at"`
	CreatedAt time.Time  `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt time.Time  `bun:"updated_at,notnull,default:current_timestamp"`
}

// ErrPlanLimit is returned when a tenant has as many numbers as its plan allows.
var ErrPlanLimit = errors.New("the plan's limit of WhatsApp numbers is reached")

// NewInstance is what CreateInstance needs.
type NewInstance struct {
	Name string
	// Providers are the kinds of gateway the number may be placed on; the
	// instance takes its node's.
	Providers []string
	// Limit is the number of instances the tenant's plan allows.
	Limit int
	// SessionName derives the gateway session name from the instance id.
	SessionName func(tenantID, instanceID int64) string
}

// CreateInstance records a new instance on the enabled node with the most
// free room. It refuses with ErrPlanLimit when the tenant is at its limit and
// ErrNoCapacity when no node has room. The tenant row and a placement lock
// are held, so concurrent creations cannot exceed either limit.
func (ts *TenantStore) CreateInstance(ctx context.Context, in NewInstance) (*Instance, error) {
	var inst *Instance
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		if _, err := tx.lockTenant(ctx); err != nil {
			return err
		}
		n, err := tx.db.NewSelect().Model((*Instance)(nil)).ApplyQueryBuilder(tx.scope).Count(ctx)
		if err != nil {
			return err
		}
		if int(n) >= in.Limit {
			return ErrPlanLimit
		}
		if len(in.Providers) == 0 {
			return ErrNoCapacity
		}
		if _, err := tx.db.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", placementLockKey); err != nil {
			return err
		}
		var node struct {
			ID       int64  `bun:"id"`
			Provider string `bun:"provider"`
		}
		err = tx.db.NewRaw(`
			SELECT n.id, n.provider FROM gateway_nodes n
			WHERE n.enabled AND n.provider IN (?) AND n.capacity > (SELECT count(*) FROM instances i WHERE i.node_id = n.id)
			ORDER BY n.capacity - (SELECT count(*) FROM instances i WHERE i.node_id = n.id) DESC, n.id
			LIMIT 1`, bun.In(in.Providers)).Scan(ctx, &node)
		if errors.Is(mapErr(err), ErrNotFound) {
			return ErrNoCapacity
		}
		if err != nil {
			return err
		}
		inst = &Instance{
			TenantID: ts.tenantID, NodeID: &node.ID, Provider: node.Provider, Name: in.Name,
			SessionName: "pending", Status: InstanceCreating,
		}
		if _, err := tx.db.NewInsert().Model(inst).Returning("*").Exec(ctx); err != nil {
			return mapErr(err)
		}
		inst.SessionName = in.SessionName(ts.tenantID, inst.ID)
		_, err = tx.db.NewUpdate().Model(inst).Column("session_name").WherePK().Exec(ctx)
		return mapErr(err)
	})
	if err != nil {
		return nil, fmt.Errorf("create instance: %w", err)
	}
	return inst, nil
}

// placementLockKey serialises the choice of a node across tenants.
const placementLockKey = 0x6e6f6465

// Instances lists the tenant's instances, oldest first.
func (ts *TenantStore) Instances(ctx context.Context) ([]Instance, error) {
	var is []Instance
	err := ts.db.NewSelect().Model(&is).ExcludeColumn("qr_png").ApplyQueryBuilder(ts.scope).Order("i.id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("instances: %w", err)
	}
	return is, nil
}

// Instance returns one of the tenant's instances.
func (ts *TenantStore) Instance(ctx context.Context, id int64) (*Instance, error) {
	i := new(Instance)
	err := ts.db.NewSelect().Model(i).ApplyQueryBuilder(ts.scope).Where("i.id = ?", id).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("instance %d: %w", id, mapErr(err))
	}
	return i, nil
}

// InstanceCount returns how many instances the tenant has.
func (ts *TenantStore) InstanceCount(ctx context.Context) (int, error) {
	n, err := ts.db.NewSelect().Model((*Instance)(nil)).ApplyQueryBuilder(ts.scope).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count instances: %w", err)
	}
	return int(n), nil
}

// RenameInstance changes the display name.
func (ts *TenantStore) RenameInstance(ctx context.Context, id int64, name string) error {
	return ts.updateInstance(ctx, id, func(q *bun.UpdateQuery) *bun.UpdateQuery { return q.Set("name = ?", name) })
}

// SessionState is the state of an instance's session as the gateway reports it.
type SessionState struct {
	Status         string // an Instance… status
	ProviderStatus string
	Phone          string
	AccountID      string
	PushName       string
	Error          string
	// ErrorAfterLinked, when set, replaces Error for a number that was
	// linked until now (connected or disconnected): what went wrong
	// depends on what happened before.
	ErrorAfterLinked string
	// OnlyFrom, when set, applies the state only if the instance is in one
	// of these statuses now, so a poller acting on an old read cannot undo
	// a newer change.
	OnlyFrom []string
	// ObservedAt is when the gateway was in this state (an event's time, or
	// now for a poll). A state observed before the stored one is ignored.
	// Zero means now.
	ObservedAt time.Time
}

// SetInstanceState records the session's state. It reports whether the
// tenant-visible status changed.
func (ts *TenantStore) SetInstanceState(ctx context.Context, id int64, s SessionState) (bool, error) {
	var changed bool
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		cur := new(Instance)
		err := tx.db.NewSelect().Model(cur).Column("status", "state_observed_at", "last_error").ApplyQueryBuilder(tx.scope).Where("i.id = ?", id).For("UPDATE").Scan(ctx)
		if err != nil {
			return mapErr(err)
		}
		if len(s.OnlyFrom) > 0 && !slices.Contains(s.OnlyFrom, cur.Status) {
			return nil
		}
		observed := s.ObservedAt
		if now := time.Now(); observed.IsZero() || observed.After(now) {
			// A gateway clock ahead of ours must not make our own later
			// observations look older.
			observed = now
		}
		if cur.StateObservedAt != nil && observed.Before(*cur.StateObservedAt) {
			return nil // an older event, processed late
		}
		changed = cur.Status != s.Status
		why := stateError(cur, s)
		return tx.updateInstance(ctx, id, func(q *bun.UpdateQuery) *bun.UpdateQuery {
			q = q.Set("status = ?", s.Status).Set("provider_status = ?", s.ProviderStatus).Set("last_error = ?", why).
				Set("checked_at = now()").Set("state_observed_at = ?", observed)
			if changed {
				q = q.Set("status_changed_at = now()")
			}
			if s.Phone != "" {
				q = q.Set("phone = ?", s.Phone).Set("account_id = ?", s.AccountID).Set("push_name = ?", s.PushName)
			}
			if s.Status == InstanceConnected {
				q = q.Set("qr_png = NULL").Set("qr_hash = NULL").Set("qr_count = 0").Set("pairing_code = NULL").Set("restarted_at = NULL")
			}
			if s.Status == InstanceStarting {
				q = q.Set("qr_count = 0")
			}
			return q
		})
	})
	if err != nil {
		return false, fmt.Errorf("instance %d state: %w", id, err)
	}
	return changed, nil
}

// stateError is the reason shown for a new state. A state whose reason
// depends on the past (ErrorAfterLinked set) keeps the reason already shown
// when it repeats, and otherwise takes the one for a number that was linked
// when it was.
func stateError(cur *Instance, s SessionState) string {
	switch {
	case s.ErrorAfterLinked != "" && cur.Status == s.Status && cur.LastError != "":
		return cur.LastError
	case s.ErrorAfterLinked != "" && (cur.Status == InstanceConnected || cur.Status == InstanceDisconnected):
		return s.ErrorAfterLinked
	}
	return s.Error
}

// SetInstanceQR stores the current QR image when it differs from the stored
// one (by hash) and the number still waits to be linked, and reports whether
// it changed.
func (ts *TenantStore) SetInstanceQR(ctx context.Context, id int64, png []byte, hash string) (bool, error) {
	res, err := ts.db.NewUpdate().Model((*Instance)(nil)).ApplyQueryBuilder(ts.scope).
		Set("qr_png = ?", png).Set("qr_hash = ?", hash).Set("qr_count = qr_count + 1").Set("updated_at = now()").
		Where("i.id = ?", id).Where("i.qr_hash IS DISTINCT FROM ?", hash).
		Where("i.status IN (?)", bun.In([]string{InstanceStarting, InstanceScanQR})).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("instance %d QR: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// SetPairingCode stores a pairing code the tenant types on the phone.
func (ts *TenantStore) SetPairingCode(ctx context.Context, id int64, code string) error {
	return ts.updateInstance(ctx, id, func(q *bun.UpdateQuery) *bun.UpdateQuery { return q.Set("pairing_code = ?", code) })
}

// ClaimInstanceRestart records that the health check restarts a failed
// session, once per failure: it reports false when a restart was claimed
// already, by an earlier check or by one running at the same time on
// another worker.
func (ts *TenantStore) ClaimInstanceRestart(ctx context.Context, id int64) (bool, error) {
	res, err := ts.db.NewUpdate().Model((*Instance)(nil)).ApplyQueryBuilder(ts.scope).
		Set("restarted_at = now()").Set("updated_at = now()").
		Where("i.id = ? AND i.restarted_at IS NULL", id).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("claim restart of instance %d: %w", id, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	if _, err := ts.Instance(ctx, id); err != nil {
		return false, fmt.Errorf("claim restart of instance %d: %w", id, err)
	}
	return false, nil
}

// ClaimSilentRestart records that the inbox check restarts a session that
// is open but whose webhooks dropped a message, at most once every every:
// it reports false when a restart was claimed within that time, by an
// earlier check or by one running at the same time on another worker.
func (ts *TenantStore) ClaimSilentRestart(ctx context.Context, id int64, every time.Duration) (bool, error) {
	res, err := ts.db.NewUpdate().Model((*Instance)(nil)).ApplyQueryBuilder(ts.scope).
		Set("silent_restart_at = now()").Set("updated_at = now()").
		Where("i.id = ?", id).
		Where("(i.silent_restart_at IS NULL OR i.silent_restart_at <= now() - ? * interval '1 millisecond')", every.Milliseconds()).
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("claim silent restart of instance %d: %w", id, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	if _, err := ts.Instance(ctx, id); err != nil {
		return false, fmt.Errorf("claim silent restart of instance %d: %w", id, err)
	}
	return false, nil
}

// DeleteInstance removes the instance. Its messages stay, without it. A
// number paused beyond the plan's limit may take the freed place.
func (ts *TenantStore) DeleteInstance(ctx context.Context, id int64) error {
	err := ts.RunInTx(ctx, func(ctx context.Context, tx *TenantStore) error {
		// The tenant first, as every writer that locks both does (a charge
		// locks the tenant, then its message's insert needs the number's
		// row): locking the number first deadlocks with them.
		if _, err := tx.lockTenant(ctx); err != nil {
			return err
		}
		res, err := tx.db.NewDelete().Model((*Instance)(nil)).ApplyQueryBuilder(tx.scope).Where("i.id = ?", id).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.ApplyNumberLimit(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete instance %d: %w", id, err)
	}
	return nil
}

func (ts *TenantStore) updateInstance(ctx context.Context, id int64, set func(*bun.UpdateQuery) *bun.UpdateQuery) error {
	q := ts.db.NewUpdate().Model((*Instance)(nil)).ApplyQueryBuilder(ts.scope).Where("i.id = ?", id).Set("updated_at = now()")
	res, err := set(q).Exec(ctx)
	if err != nil {
		return fmt.Errorf("update instance %d: %w", id, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update instance %d: %w", id, ErrNotFound)
	}
	return nil
}

// InstanceBySession finds the instance of a gateway session across tenants,
// for webhooks, which name only the session.
func (s *Store) InstanceBySession(ctx context.Context, session string) (*Instance, error) {
	i := new(Instance)
	if err := s.db.NewSelect().Model(i).ExcludeColumn("qr_png").Where("i.session_name = ?", session).Scan(ctx); err != nil {
		return nil, fmt.Errorf("instance of session %q: %w", session, mapErr(err))
	}
	return i, nil
}

// InstancesAllTenants lists every instance that should have a live session
// (all but those being created or logged out), for the health check.
func (s *Store) InstancesAllTenants(ctx context.Context) ([]Instance, error) {
	var is []Instance
	err := s.db.NewSelect().Model(&is).ExcludeColumn("qr_png").
		Where("i.status NOT IN (?)", bun.In([]string{InstanceCreating, InstanceLoggedOut})).
		Order("i.id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("instances of all tenants: %w", err)
	}
	return is, nil
}

// CreatingInstancesAllTenants lists instances that have been in creation
// since before olderThan: their provisioning task was lost or keeps failing.
func (s *Store) CreatingInstancesAllTenants(ctx context.Context, olderThan time.Time) ([]Instance, error) {
	var is []Instance
	err := s.db.NewSelect().Model(&is).ExcludeColumn("qr_png").
		Where("i.status = ? AND i.status_changed_at < ?", InstanceCreating, olderThan).
		Order("i.status_changed_at").Limit(500).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("instances in creation: %w", err)
	}
	return is, nil
}
