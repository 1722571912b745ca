CREATE TABLE tenants (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    plan            text        NOT NULL DEFAULT 'starter' CHECK (plan IN ('starter', 'pro', 'business')),
    credit_balance  bigint      NOT NULL DEFAULT 0,
    status          text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    default_country text        NOT NULL DEFAULT 'US' CHECK (default_country ~ '^[A-Z]{2}$'),
    timezone        text        NOT NULL DEFAULT 'UTC',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenants_credit_balance_check CHECK (credit_balance >= 0)
);

CREATE TABLE users (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email           text        NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
    password_hash   text        NOT NULL,
    role            text        NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'member')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz,
    UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Server-side sessions, in the shape github.com/alexedwards/scs/postgresstore uses.
CREATE TABLE sessions (
    token  text PRIMARY KEY,
    data   bytea       NOT NULL,
    expiry timestamptz NOT NULL
);
CREATE INDEX sessions_expiry_idx ON sessions (expiry);

-- The credit ledger: every balance change is a row; the balance on tenants is
-- moved in the same transaction and never goes below zero.
CREATE TABLE credit_ledger (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind          text        NOT NULL CHECK (kind IN ('grant', 'charge', 'refund')),
    amount        bigint      NOT NULL,
    balance_after bigint      NOT NULL CHECK (balance_after >= 0),
    reason        text        NOT NULL,
    reference     text        NOT NULL CHECK (length(reference) BETWEEN 1 AND 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'charge' AND amount < 0) OR (kind <> 'charge' AND amount > 0)),
    CONSTRAINT credit_ledger_reference_key UNIQUE (tenant_id, reference)
);
CREATE INDEX credit_ledger_tenant_created_idx ON credit_ledger (tenant_id, created_at DESC, id DESC);
