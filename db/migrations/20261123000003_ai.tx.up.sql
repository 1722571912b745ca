-- How a tenant's AI answers. One row per tenant, created with defaults on
-- first use.
CREATE TABLE ai_settings (
    tenant_id             bigint      PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    enabled               boolean     NOT NULL DEFAULT true,
    persona               text        NOT NULL DEFAULT '',
    instructions          text        NOT NULL DEFAULT '',
    model                 text        NOT NULL DEFAULT '',
    temperature           real        NOT NULL DEFAULT 0.4 CHECK (temperature BETWEEN 0 AND 2),
    hours_enabled         boolean     NOT NULL DEFAULT false,
    -- seven [open, close] minute-of-day pairs, Monday first; null = closed
    hours                 jsonb       NOT NULL DEFAULT '[]',
    after_hours_reply     text        NOT NULL DEFAULT '',
    handoff_keywords      text[]      NOT NULL DEFAULT '{}',
    burst_wait_ms         integer     NOT NULL DEFAULT 4000 CHECK (burst_wait_ms BETWEEN 0 AND 60000),
    hourly_limit          integer     NOT NULL DEFAULT 12 CHECK (hourly_limit BETWEEN 0 AND 1000),
    answer_groups         boolean     NOT NULL DEFAULT false,
    human_quiet_minutes   integer     NOT NULL DEFAULT 120 CHECK (human_quiet_minutes BETWEEN 1 AND 100000),
    opt_out_reply         text        NOT NULL DEFAULT '',
    opt_in_reply          text        NOT NULL DEFAULT '',
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- Titled texts the AI may rely on (opening hours, prices, policies).
CREATE TABLE knowledge_entries (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    title      text        NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body       text        NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    position   integer     NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE INDEX knowledge_entries_tenant_idx ON knowledge_entries (tenant_id, position, id);

-- Who answers a chat: the AI, a person (until human_until), or nobody.
ALTER TABLE contacts
    ADD COLUMN ai_mode                text        NOT NULL DEFAULT 'ai' CHECK (ai_mode IN ('ai', 'human', 'off')),
    ADD COLUMN human_until            timestamptz,
    ADD COLUMN handoff_reason         text        NOT NULL DEFAULT '',
    ADD COLUMN handoff_at             timestamptz,
    ADD COLUMN after_hours_replied_at timestamptz;
CREATE INDEX contacts_tenant_handoff_idx ON contacts (tenant_id, handoff_at DESC) WHERE ai_mode = 'human';

-- One AI answer to a burst of messages, as a durable state machine: the
-- credit reservation, the generated text and the pre-generated message id
-- survive retries, so Gemini is asked once and the message is sent once.
CREATE TABLE ai_replies (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id          bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    contact_id         bigint      NOT NULL,
    trigger_message_id bigint      NOT NULL,
    instance_id        bigint,
    status             text        NOT NULL DEFAULT 'reserved'
                       CHECK (status IN ('reserved', 'generated', 'sending', 'sent', 'failed', 'refunded')),
    charge_ref         text        NOT NULL,
    reply_text         text        NOT NULL DEFAULT '',
    handoff            boolean     NOT NULL DEFAULT false,
    wa_id              text        NOT NULL DEFAULT '',
    out_message_id     bigint,
    error              text        NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, trigger_message_id),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE
);

-- Every model call, for the owner's cost view.
CREATE TABLE ai_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    contact_id    bigint,
    reply_id      bigint,
    model         text        NOT NULL,
    input_tokens  integer     NOT NULL DEFAULT 0,
    output_tokens integer     NOT NULL DEFAULT 0,
    latency_ms    integer     NOT NULL DEFAULT 0,
    outcome       text        NOT NULL CHECK (outcome IN ('ok', 'handoff', 'error')),
    error         text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ai_runs_tenant_idx ON ai_runs (tenant_id, created_at DESC);
CREATE INDEX ai_runs_created_idx ON ai_runs (created_at DESC);

-- An outgoing message remembers the ledger reference that paid for it, so a
-- send that finally fails refunds exactly that.
ALTER TABLE messages ADD COLUMN charge_ref text NOT NULL DEFAULT '';

-- Messages can be notes from the system shown in the conversation (e.g. why
-- the AI could not answer).
ALTER TABLE messages DROP CONSTRAINT messages_sender_check;
ALTER TABLE messages ADD CONSTRAINT messages_sender_check
    CHECK (sender IN ('lead', 'ai', 'app', 'phone', 'campaign', 'api', 'system'));
