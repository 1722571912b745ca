-- Billing: plans and credit packs the owner edits in the database, each
-- tenant's Stripe customer and subscription, and Stripe's webhook events.

-- Plans replace PLAN_INSTANCE_LIMITS. Starter is the sign-up plan: its
-- credits are DEFAULT_CREDITS, granted once at sign-up, not monthly.
CREATE TABLE plans (
    id              text        PRIMARY KEY CHECK (id ~ '^[a-z][a-z0-9_-]{0,39}$'),
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    price_cents     bigint      NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
    currency        text        NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    monthly_credits bigint      NOT NULL DEFAULT 0 CHECK (monthly_credits >= 0),
    instance_limit  integer     NOT NULL CHECK (instance_limit >= 0),
    -- stripe_price_id is the recurring Stripe price; empty means Checkout
    -- prices the plan from price_cents itself.
    stripe_price_id text        NOT NULL DEFAULT '',
    active          boolean     NOT NULL DEFAULT true,
    sort_order      integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX plans_stripe_price_key ON plans (stripe_price_id) WHERE stripe_price_id <> '';

INSERT INTO plans (id, name, price_cents, monthly_credits, instance_limit, sort_order) VALUES
    ('starter', 'Starter', 0, 0, 1, 0),
    ('pro', 'Pro', 2900, 3000, 3, 1),
    ('business', 'Business', 9900, 12000, 10, 2);

-- Credit packs are one-time top-ups.
CREATE TABLE credit_packs (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credits         bigint      NOT NULL CHECK (credits > 0),
    price_cents     bigint      NOT NULL CHECK (price_cents > 0),
    currency        text        NOT NULL DEFAULT 'usd' CHECK (currency ~ '^[a-z]{3}$'),
    stripe_price_id text        NOT NULL DEFAULT '',
    active          boolean     NOT NULL DEFAULT true,
    sort_order      integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now()
);

INSERT INTO credit_packs (credits, price_cents, sort_order) VALUES
    (1000, 1000, 0),
    (5000, 4500, 1),
    (20000, 16000, 2);

ALTER TABLE tenants DROP CONSTRAINT tenants_plan_check;
ALTER TABLE tenants
    ADD CONSTRAINT tenants_plan_fkey FOREIGN KEY (plan) REFERENCES plans (id),
    ADD COLUMN stripe_customer_id     text,
    ADD COLUMN stripe_subscription_id text,
    ADD COLUMN subscription_status    text NOT NULL DEFAULT '',
    ADD COLUMN current_period_end     timestamptz,
    -- subscription_event_at is when Stripe created the subscription event
    -- last applied: an older one arriving later is not applied over it.
    ADD COLUMN subscription_event_at  timestamptz,
    -- pending_plan is a downgrade that takes effect at current_period_end.
    ADD COLUMN pending_plan           text REFERENCES plans (id),
    -- payment_failed_at starts the grace period after a failed renewal.
    ADD COLUMN payment_failed_at      timestamptz,
    -- low_balance_notified_at is when the low-balance email went out; it
    -- is cleared once the balance is back above the threshold.
    ADD COLUMN low_balance_notified_at timestamptz;
CREATE UNIQUE INDEX tenants_stripe_customer_key ON tenants (stripe_customer_id);

-- Stripe's webhook events, stored once by Stripe's event id and processed
-- by a job. Not tenant-owned: the tenant is found while processing.
CREATE TABLE stripe_events (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     text        NOT NULL UNIQUE,
    event_type   text        NOT NULL,
    payload      bytea       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text        NOT NULL DEFAULT ''
);
CREATE INDEX stripe_events_unprocessed ON stripe_events (received_at) WHERE processed_at IS NULL;
