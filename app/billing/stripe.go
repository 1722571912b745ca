package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Config configures the Stripe client.
type Config struct {
	SecretKey string
	// APIBase overrides Stripe's API URL (stripe-mock); empty is Stripe.
	APIBase    string
	HTTPClient *http.Client
}

// Client talks to Stripe through stripe-go: Checkout, the customer portal
// and invoices.
type Client struct {
	sc *stripe.Client
}

// NewClient returns a client, or nil without a secret key (billing off).
func NewClient(cfg Config) *Client {
	if cfg.SecretKey == "" {
		return nil
	}
	bc := &stripe.BackendConfig{
		HTTPClient:    cfg.HTTPClient,
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}, // errors are returned
	}
	if bc.HTTPClient == nil {
		bc.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.APIBase != "" {
		bc.URL = stripe.String(cfg.APIBase)
	}
	return &Client{sc: stripe.NewClient(cfg.SecretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(bc)))}
}

// Metadata keys set on Checkout sessions and subscriptions.
const (
	MetaTenantID = "tenant_id"
	MetaPlan     = "plan"
	MetaPackID   = "pack_id"
	MetaCredits  = "credits"
)

// Price is what Checkout sells: a Stripe price, or an amount priced inline
// when the owner has not set a Stripe price id.
type Price struct {
	StripePriceID string
	Name          string
	AmountCents   int64
	Currency      string
}

// Checkout is one Checkout session to create for a tenant.
type Checkout struct {
	TenantID int64
	// CustomerID is the tenant's Stripe customer, when it is one already;
	// else Email pre-fills the new customer.
	CustomerID string
	Email      string
	SuccessURL string
	CancelURL  string
}

func (co Checkout) params(mode stripe.CheckoutSessionMode, p Price, recurring bool, meta map[string]string) *stripe.CheckoutSessionCreateParams {
	item := &stripe.CheckoutSessionCreateLineItemParams{Quantity: stripe.Int64(1)}
	if p.StripePriceID != "" {
		item.Price = stripe.String(p.StripePriceID)
	} else {
		item.PriceData = &stripe.CheckoutSessionCreateLineItemPriceDataParams{
			Currency:    stripe.String(p.Currency),
			UnitAmount:  stripe.Int64(p.AmountCents),
			ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String(p.Name)},
		}
		if recurring {
			item.PriceData.Recurring = &stripe.CheckoutSessionCreateLineItemPriceDataRecurringParams{Interval: stripe.String("month")}
		}
	}
	meta[MetaTenantID] = strconv.FormatInt(co.TenantID, 10)
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(mode)),
		ClientReferenceID: stripe.String(strconv.FormatInt(co.TenantID, 10)),
		LineItems:         []*stripe.CheckoutSessionCreateLineItemParams{item},
		SuccessURL:        stripe.String(co.SuccessURL),
		CancelURL:         stripe.String(co.CancelURL),
		Metadata:          meta,
	}
	if co.CustomerID != "" {
		params.Customer = stripe.String(co.CustomerID)
	} else if co.Email != "" {
		params.CustomerEmail = stripe.String(co.Email)
	}
	return params
}

// SubscriptionCheckout creates a Checkout session in subscription mode for
// a plan and returns its URL. The plan and tenant ride along as metadata of
// the session and the subscription.
func (c *Client) SubscriptionCheckout(ctx context.Context, co Checkout, planID string, p Price) (string, error) {
	params := co.params(stripe.CheckoutSessionModeSubscription, p, true, map[string]string{MetaPlan: planID})
	params.SubscriptionData = &stripe.CheckoutSessionCreateSubscriptionDataParams{
		Metadata: map[string]string{MetaPlan: planID, MetaTenantID: strconv.FormatInt(co.TenantID, 10)},
	}
	s, err := c.sc.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return "", fmt.Errorf("stripe checkout (subscription): %w", err)
	}
	return s.URL, nil
}

// TopUpCheckout creates a Checkout session in payment mode for a credit
// pack and returns its URL. The credits sold ride along as metadata.
func (c *Client) TopUpCheckout(ctx context.Context, co Checkout, packID, credits int64, p Price) (string, error) {
	params := co.params(stripe.CheckoutSessionModePayment, p, false, map[string]string{
		MetaPackID: strconv.FormatInt(packID, 10), MetaCredits: strconv.FormatInt(credits, 10),
	})
	if co.CustomerID == "" {
		params.CustomerCreation = stripe.String("always") // so the portal and invoices work later
	}
	s, err := c.sc.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		return "", fmt.Errorf("stripe checkout (top-up): %w", err)
	}
	return s.URL, nil
}

// PortalURL creates a customer portal session and returns its URL.
func (c *Client) PortalURL(ctx context.Context, customerID, returnURL string) (string, error) {
	s, err := c.sc.V1BillingPortalSessions.Create(ctx, &stripe.BillingPortalSessionCreateParams{
		Customer: stripe.String(customerID), ReturnURL: stripe.String(returnURL),
	})
	if err != nil {
		return "", fmt.Errorf("stripe portal session: %w", err)
	}
	return s.URL, nil
}

// Invoice is one of a customer's invoices, for the billing page.
type Invoice struct {
	Number      string
	Created     time.Time
	AmountCents int64
	Currency    string
	Status      string
	URL         string
}

// Invoices returns a customer's latest invoices, newest first.
func (c *Client) Invoices(ctx context.Context, customerID string, limit int) ([]Invoice, error) {
	params := &stripe.InvoiceListParams{Customer: stripe.String(customerID)}
	params.Limit = stripe.Int64(int64(limit))
	var out []Invoice
	for inv, err := range c.sc.V1Invoices.List(ctx, params) {
		if err != nil {
			return nil, fmt.Errorf("stripe invoices: %w", err)
		}
		out = append(out, Invoice{
			Number: inv.Number, Created: time.Unix(inv.Created, 0), AmountCents: inv.AmountPaid,
			Currency: string(inv.Currency), Status: string(inv.Status), URL: inv.HostedInvoiceURL,
		})
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// ErrBadSignature is returned for a webhook whose signature does not verify.
var ErrBadSignature = errors.New("stripe webhook: bad signature")

// VerifyEvent checks a webhook's Stripe-Signature header over the exact
// body and returns the event's id and type.
func VerifyEvent(body []byte, header, secret string) (id, typ string, err error) {
	ev, err := webhook.ConstructEvent(body, header, secret)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return ev.ID, string(ev.Type), nil
}

// Event is a stored Stripe event, read into what the rules need.
type Event struct {
	ID      string
	Type    string
	Created time.Time
	// One of these, by Type.
	Checkout     *CheckoutCompleted
	Subscription *SubscriptionChange
	Invoice      *InvoiceEvent
}

// CheckoutCompleted is a checkout.session.completed event.
type CheckoutCompleted struct {
	SessionID      string
	Mode           string
	Paid           bool
	TenantID       int64
	CustomerID     string
	SubscriptionID string
	Credits        int64
	// AmountCents (amount_total) and Currency are what was paid; PaidAt is
	// when the session completed (the event's time).
	AmountCents int64
	Currency    string
	PaidAt      time.Time
}

// SubscriptionChange is a customer.subscription.* event.
type SubscriptionChange struct {
	CustomerID string
	// TenantID is from the metadata set at Checkout (0 when absent): it
	// finds the tenant when this event arrives before the checkout one.
	TenantID int64
	// PriceID is the subscription's (first) price; MetaPlan the plan it was
	// bought as. The price decides when a plan has it.
	PriceID, MetaPlan string
	Sub               Subscription
}

// InvoiceEvent is an invoice.paid or invoice.payment_failed event.
type InvoiceEvent struct {
	InvoiceID, CustomerID, SubscriptionID string
	PriceID, MetaPlan                     string
	// TenantID is from the subscription's metadata (0 when absent): it
	// finds the tenant when the first invoice is paid before the checkout
	// event links the customer.
	TenantID int64
	// AmountCents (amount_paid) and Currency are what was paid; PaidAt is
	// when (status_transitions.paid_at, else the event's time).
	AmountCents int64
	Currency    string
	PaidAt      time.Time
}

// Event types handled.
const (
	EventCheckoutCompleted    = "checkout.session.completed"
	EventSubscriptionCreated  = "customer.subscription.created"
	EventSubscriptionUpdated  = "customer.subscription.updated"
	EventSubscriptionDeleted  = "customer.subscription.deleted"
	EventInvoicePaid          = "invoice.paid"
	EventInvoicePaymentFailed = "invoice.payment_failed"
)

// Handled reports whether an event type is one the app acts on.
func Handled(typ string) bool {
	switch typ {
	case EventCheckoutCompleted, EventSubscriptionCreated, EventSubscriptionUpdated, EventSubscriptionDeleted,
		EventInvoicePaid, EventInvoicePaymentFailed:
		return true
	}
	return false
}

// ParseEvent reads a stored event body (its signature was checked when it
// arrived).
func ParseEvent(body []byte) (Event, error) {
	var ev stripe.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, fmt.Errorf("parse stripe event: %w", err)
	}
	if ev.Data == nil {
		return Event{}, errors.New("parse stripe event: no data")
	}
	out := Event{ID: ev.ID, Type: string(ev.Type), Created: time.Unix(ev.Created, 0).UTC()}
	var err error
	switch out.Type {
	case EventCheckoutCompleted:
		if out.Checkout, err = parseCheckout(ev.Data.Raw); err == nil {
			out.Checkout.PaidAt = out.Created
		}
	case EventSubscriptionCreated, EventSubscriptionUpdated, EventSubscriptionDeleted:
		out.Subscription, err = parseSubscription(ev.Data.Raw, out.Created)
	case EventInvoicePaid, EventInvoicePaymentFailed:
		if out.Invoice, err = parseInvoice(ev.Data.Raw); err == nil && out.Invoice.PaidAt.IsZero() {
			out.Invoice.PaidAt = out.Created
		}
	}
	if err != nil {
		return Event{}, fmt.Errorf("parse stripe event %s: %w", out.ID, err)
	}
	return out, nil
}

func parseCheckout(raw json.RawMessage) (*CheckoutCompleted, error) {
	var s stripe.CheckoutSession
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	co := &CheckoutCompleted{SessionID: s.ID, Mode: string(s.Mode), Paid: s.PaymentStatus != stripe.CheckoutSessionPaymentStatusUnpaid,
		AmountCents: s.AmountTotal, Currency: strings.ToLower(string(s.Currency))}
	co.TenantID, _ = strconv.ParseInt(s.ClientReferenceID, 10, 64)
	co.Credits, _ = strconv.ParseInt(s.Metadata[MetaCredits], 10, 64)
	if s.Customer != nil {
		co.CustomerID = s.Customer.ID
	}
	if s.Subscription != nil {
		co.SubscriptionID = s.Subscription.ID
	}
	return co, nil
}

func parseSubscription(raw json.RawMessage, at time.Time) (*SubscriptionChange, error) {
	var s stripe.Subscription
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	sc := &SubscriptionChange{MetaPlan: s.Metadata[MetaPlan], Sub: Subscription{ID: s.ID, Status: string(s.Status), EventAt: at}}
	sc.TenantID, _ = strconv.ParseInt(s.Metadata[MetaTenantID], 10, 64)
	if s.Customer != nil {
		sc.CustomerID = s.Customer.ID
	}
	if s.Items != nil && len(s.Items.Data) > 0 {
		item := s.Items.Data[0]
		if item.Price != nil {
			sc.PriceID = item.Price.ID
		}
		if item.CurrentPeriodEnd > 0 {
			sc.Sub.PeriodEnd = time.Unix(item.CurrentPeriodEnd, 0).UTC()
		}
	}
	return sc, nil
}

func parseInvoice(raw json.RawMessage) (*InvoiceEvent, error) {
	var inv stripe.Invoice
	if err := json.Unmarshal(raw, &inv); err != nil {
		return nil, err
	}
	ie := &InvoiceEvent{InvoiceID: inv.ID, AmountCents: inv.AmountPaid, Currency: strings.ToLower(string(inv.Currency))}
	if inv.StatusTransitions != nil && inv.StatusTransitions.PaidAt > 0 {
		ie.PaidAt = time.Unix(inv.StatusTransitions.PaidAt, 0).UTC()
	}
	if inv.Customer != nil {
		ie.CustomerID = inv.Customer.ID
	}
	if inv.Parent != nil && inv.Parent.SubscriptionDetails != nil {
		d := inv.Parent.SubscriptionDetails
		ie.MetaPlan = d.Metadata[MetaPlan]
		ie.TenantID, _ = strconv.ParseInt(d.Metadata[MetaTenantID], 10, 64)
		if d.Subscription != nil {
			ie.SubscriptionID = d.Subscription.ID
		}
	}
	if inv.Lines != nil {
		for _, l := range inv.Lines.Data {
			if l.Pricing != nil && l.Pricing.PriceDetails != nil && l.Pricing.PriceDetails.Price != "" {
				ie.PriceID = l.Pricing.PriceDetails.Price
				break
			}
		}
	}
	return ie, nil
}
