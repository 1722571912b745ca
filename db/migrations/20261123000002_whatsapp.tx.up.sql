-- WAHA servers. The default node (WAHA_API_URL) has is_default set and no
-- stored key: its key comes from WAHA_API_KEY. Other nodes are added by the
-- platform owner.
CREATE TABLE waha_nodes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    url        text        NOT NULL CHECK (url ~ '^https?://'),
    api_key    text,
    capacity   integer     NOT NULL CHECK (capacity >= 0),
    enabled    boolean     NOT NULL DEFAULT true,
    is_default boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX waha_nodes_url_key ON waha_nodes (url);
CREATE UNIQUE INDEX waha_nodes_default_key ON waha_nodes (is_default) WHERE is_default;

-- A WhatsApp number of a tenant: one session on a gateway node.
CREATE TABLE instances (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    node_id           bigint      REFERENCES waha_nodes (id) ON DELETE RESTRICT,
    provider          text        NOT NULL DEFAULT 'waha' CHECK (provider IN ('waha', 'evolution')),
    name              text        NOT NULL CHECK (length(name) BETWEEN 1 AND 60),
    session_name      text        NOT NULL CHECK (session_name ~ '^[A-Za-z0-9_-]{1,54}$'),
    status            text        NOT NULL DEFAULT 'creating'
                      CHECK (status IN ('creating', 'starting', 'scan_qr', 'connected', 'disconnected', 'failed', 'logged_out')),
    provider_status   text        NOT NULL DEFAULT '',
    phone             text,
    account_id        text,
    push_name         text,
    qr_png            bytea,
    qr_hash           text,
    qr_count          integer     NOT NULL DEFAULT 0,
    pairing_code      text,
    last_error        text        NOT NULL DEFAULT '',
    status_changed_at timestamptz NOT NULL DEFAULT now(),
    checked_at        timestamptz,
    restarted_at      timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX instances_session_name_key ON instances (session_name);
CREATE INDEX instances_node_idx ON instances (node_id);

-- People and chats a tenant talks to. A person is known by phone number
-- (E.164), by WhatsApp linked id (…@lid), or both; each is unique per
-- tenant, and two rows found to be one person are merged.
CREATE TABLE contacts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id       bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind            text        NOT NULL DEFAULT 'direct' CHECK (kind IN ('direct', 'group', 'status', 'channel')),
    phone           text        CHECK (phone ~ '^\+[1-9][0-9]{5,15}$'),
    lid             text        CHECK (lid ~ '@lid$'),
    chat_id         text        NOT NULL,
    name            text        NOT NULL DEFAULT '',
    tags            text[]      NOT NULL DEFAULT '{}',
    opted_out_at    timestamptz,
    last_message_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    CHECK (kind <> 'direct' OR phone IS NOT NULL OR lid IS NOT NULL)
);
CREATE UNIQUE INDEX contacts_tenant_phone_key ON contacts (tenant_id, phone) WHERE phone IS NOT NULL;
CREATE UNIQUE INDEX contacts_tenant_lid_key ON contacts (tenant_id, lid) WHERE lid IS NOT NULL;
CREATE UNIQUE INDEX contacts_tenant_chat_key ON contacts (tenant_id, chat_id) WHERE kind <> 'direct';
CREATE INDEX contacts_tenant_recent_idx ON contacts (tenant_id, last_message_at DESC NULLS LAST, id DESC);

-- Messages of every chat, stored once per provider message (wa_id is the
-- message's own id, the last part of WAHA's "fromMe_chat_id" form).
CREATE TABLE messages (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    instance_id bigint,
    contact_id  bigint      NOT NULL,
    wa_id       text        NOT NULL,
    provider_id text        NOT NULL DEFAULT '',
    direction   text        NOT NULL CHECK (direction IN ('in', 'out')),
    sender      text        NOT NULL CHECK (sender IN ('lead', 'ai', 'app', 'phone', 'campaign', 'api')),
    chat_kind   text        NOT NULL DEFAULT 'direct' CHECK (chat_kind IN ('direct', 'group', 'status', 'channel')),
    author      text        NOT NULL DEFAULT '',
    type        text        NOT NULL DEFAULT 'text',
    body        text        NOT NULL DEFAULT '',
    media_url   text        NOT NULL DEFAULT '',
    media_type  text        NOT NULL DEFAULT '',
    reply_to    text        NOT NULL DEFAULT '',
    status      text        NOT NULL CHECK (status IN ('received', 'pending', 'sending', 'sent', 'delivered', 'read', 'played', 'failed')),
    ack         smallint    NOT NULL DEFAULT 0,
    error       text        NOT NULL DEFAULT '',
    sent_at     timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, instance_id) REFERENCES instances (tenant_id, id) ON DELETE SET NULL (instance_id)
);
CREATE UNIQUE INDEX messages_wa_id_key ON messages (tenant_id, wa_id);
CREATE INDEX messages_contact_idx ON messages (tenant_id, contact_id, sent_at DESC, id DESC);
CREATE INDEX messages_tenant_sent_idx ON messages (tenant_id, sent_at DESC);

-- Webhook deliveries, stored once per provider event id (providers retry).
CREATE TABLE webhook_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider     text        NOT NULL,
    event_id     text        NOT NULL,
    event_type   text        NOT NULL,
    session_name text        NOT NULL,
    tenant_id    bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    instance_id  bigint      NOT NULL,
    payload      bytea       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text        NOT NULL DEFAULT '',
    UNIQUE (provider, event_id),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES instances (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_events_unprocessed_idx ON webhook_events (received_at) WHERE processed_at IS NULL;
