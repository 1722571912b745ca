package db

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Plan names. The plan decides limits such as the number of WhatsApp numbers.
const (
	PlanStarter  = "starter"
	PlanPro      = "pro"
	PlanBusiness = "business"
)

// PlanTitle returns the display name of a plan.
func PlanTitle(plan string) string {
	if plan == "" {
		return ""
	}
	return strings.ToUpper(plan[:1]) + plan[1:]
}

// Tenant statuses.
const (
	TenantActive    = "active"
	TenantSuspended = "suspended"
)

// Tenant is a client business. It owns every tenant-scoped row. Its
// CreditBalance changes only through the ledger (ledger.go), in the same
// transaction as the ledger row, and the database keeps it at zero or above.
type Tenant struct {
	bun.BaseModel `bun:"table:tenants,alias:t"`

	ID             int64  `bun:"id,pk,autoincrement"`
	Name           string `bun:"name,notnull"`
	Plan           string `bun:"plan,notnull"`
	CreditBalance  int64  `bun:"credit_balance,notnull"`
	Status         string `bun:"status,notnull"`
	DefaultCountry string `bun:"default_country,notnull"`
	Timezone       string `bun:"timezone,notnull"`
	// SuspendedAt and SuspendReason are set while an owner has suspended
	// the tenant (Status is then TenantSuspended): see May.
	SuspendedAt   *time.Time `bun:"suspended_at"`
	SuspendReason string     `bun:"suspend_reason,notnull"`
	CreatedAt     time.Time  `bun:"created_at,notnull,default:current_timestamp"`
	UpdatedAt     time.Time  `bun:"updated_at,notnull,default:current_timestamp"`

	// Billing (billing.go): set by Stripe's webhook events only.
	StripeCustomerID     *string    `bun:"stripe_customer_id"`
	StripeSubscriptionID *string    `bun:"stripe_subscription_id"`
	SubscriptionStatus   string     `bun:"subscription_status,notnull"`
	CurrentPeriodEnd     *time.Time `bun:"current_period_end"`
	SubscriptionEventAt  *time.Time `bun:"subscription_event_at"`
	PendingPlan          *string    `bun:"pending_plan"`
	PaymentFailedAt      *time.Time `bun:"payment_failed_at"`
	LowBalanceNotifiedAt *time.Time `bun:"low_balance_notified_at"`
}

// Activity is something a tenant's account does, which suspension may stop.
type Activity string

// Activities, for Tenant.May.
const (
	// ActView: signing in and reading the tenant's own pages.
	ActView Activity = "view"
	// ActAIReply: the AI answering a customer.
	ActAIReply Activity = "ai-reply"
	// ActCampaign: campaigns dispatching messages.
	ActCampaign Activity = "campaign"
	// ActSend: the tenant's numbers sending any message.
	ActSend Activity = "send"
)

// May reports whether the tenant's account may do a. A suspended tenant can
// still sign in and see its data (and why it is suspended), but its AI
// stays silent, its campaigns wait and its numbers send nothing.
func (t *Tenant) May(a Activity) bool { return StatusMay(t.Status, a) }

// StatusMay is May for a tenant whose status alone was read.
func StatusMay(status string, a Activity) bool {
	if status != TenantSuspended {
		return true
	}
	return a == ActView
}

// Location returns the tenant's time zone, UTC when unset or unknown.
func (t *Tenant) Location() *time.Location {
	if loc, err := time.LoadLocation(t.Timezone); err == nil && t.Timezone != "" {
		return loc
	}
	return time.UTC
}

// Tenant returns the scoped tenant's own record.
func (ts *TenantStore) Tenant(ctx context.Context) (*Tenant, error) {
	t := new(Tenant)
	err := ts.db.NewSelect().Model(t).Where("t.id = ?", ts.tenantID).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("tenant %d: %w", ts.tenantID, mapErr(err))
	}
	return t, nil
}

// CreditBalance returns the tenant's current balance.
func (ts *TenantStore) CreditBalance(ctx context.Context) (int64, error) {
	var bal int64
	err := ts.db.NewSelect().Model((*Tenant)(nil)).Column("credit_balance").
		Where("t.id = ?", ts.tenantID).Scan(ctx, &bal)
	if err != nil {
		return 0, fmt.Errorf("credit balance: %w", mapErr(err))
	}
	return bal, nil
}

// TenantByID returns any tenant, for the auth middleware that resolves the
// signed-in user's membership, and for the owner's console.
func (s *Store) TenantByID(ctx context.Context, id int64) (*Tenant, error) {
	return s.Tenant(id).Tenant(ctx)
}

// SignUp is what a new client gives to create their tenant and owner user.
type SignUp struct {
	BusinessName string
	Email        string
	PasswordHash string
	Credits      int64
	// Timezone is an IANA name; empty means UTC.
	Timezone string
	// Country is the ISO 3166 code local phone numbers are read in; empty
	// when not known (numbers then need their country code).
	Country string
}

// CreateTenantWithOwner creates a tenant on the Starter plan with its owner
// user and default AI settings, and grants the sign-up credits through the
// ledger, all in one transaction. A taken email gives ErrConflict.
func (s *Store) CreateTenantWithOwner(ctx context.Context, in SignUp) (*Tenant, *User, error) {
	t := &Tenant{Name: in.BusinessName, Plan: PlanStarter, Status: TenantActive, DefaultCountry: in.Country, Timezone: in.Timezone}
	if t.Timezone == "" {
		t.Timezone = "UTC"
	}
	u := &User{Email: NormalizeEmail(in.Email), PasswordHash: in.PasswordHash, Role: RoleOwner}
	err := s.RunInTx(ctx, func(ctx context.Context, tx *TxStore) error {
		if _, err := tx.tx.NewInsert().Model(t).Returning("*").Exec(ctx); err != nil {
			return mapErr(err)
		}
		u.TenantID = t.ID
		if _, err := tx.tx.NewInsert().Model(u).Returning("*").Exec(ctx); err != nil {
			return mapErr(err)
		}
		if err := tx.Tenant(t.ID).SaveAISettings(ctx, DefaultAISettings(t.ID, t.Name)); err != nil {
			return err
		}
		if in.Credits > 0 {
			e, err := tx.Tenant(t.ID).Grant(ctx, in.Credits, "Welcome credits", "signup")
			if err != nil {
				return err
			}
			t.CreditBalance = e.BalanceAfter
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create tenant: %w", err)
	}
	return t, u, nil
}

// Profile is what a tenant says about itself on the account page.
type Profile struct {
	Name     string
	Timezone string
	Country  string
}

// SetProfile sets the tenant's business name, time zone and default country.
func (ts *TenantStore) SetProfile(ctx context.Context, p Profile) error {
	_, err := ts.db.NewUpdate().Model((*Tenant)(nil)).Set("name = ?", p.Name).Set("timezone = ?", p.Timezone).
		Set("default_country = ?", p.Country).Set("updated_at = now()").Where("id = ?", ts.tenantID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("set profile: %w", mapErr(err))
	}
	return nil
}
