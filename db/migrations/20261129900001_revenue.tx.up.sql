-- Revenue: what tenants paid, as Stripe reported it, and the Stripe events
-- given up on.

-- payments is one row per Stripe object paid: an invoice (subscription) or
-- a one-time top-up's Checkout session. stripe_id is unique, so an event
-- delivered again or out of order records nothing more. Amounts are in the
-- currency's smallest unit (cents), as Stripe sends them.
CREATE TABLE payments (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    stripe_id    text        NOT NULL UNIQUE CHECK (stripe_id <> ''),
    kind         text        NOT NULL CHECK (kind IN ('subscription', 'top-up')),
    amount_cents bigint      NOT NULL CHECK (amount_cents > 0),
    currency     text        NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    paid_at      timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_tenant_paid_idx ON payments (tenant_id, paid_at DESC, id DESC);
CREATE INDEX payments_paid_idx ON payments (paid_at);

-- failed_at is when the job processing the event gave up on it (its last
-- error is last_error); cleared if it is processed after all.
ALTER TABLE stripe_events ADD COLUMN failed_at timestamptz;
CREATE INDEX stripe_events_failed ON stripe_events (failed_at DESC) WHERE failed_at IS NOT NULL;
