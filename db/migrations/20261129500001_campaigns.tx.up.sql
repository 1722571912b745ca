-- Bulk campaigns: a lead list sent one text or poll, through the outbox, at
-- a pace per number. A campaign is edited as a draft (the wizard saves each
-- step), then scheduled or sent; its recipients are the cleaned rows of the
-- uploaded file, and the rows dropped at clean-up are kept with the reason.
CREATE TABLE campaigns (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id    bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind         text        NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'poll')),
    state        text        NOT NULL DEFAULT 'draft'
                 CHECK (state IN ('draft', 'scheduled', 'sending', 'paused', 'done', 'cancelled')),
    -- The furthest wizard step saved: upload, map, review, message, send.
    step         text        NOT NULL DEFAULT 'upload' CHECK (step IN ('upload', 'map', 'review', 'message', 'send')),
    pause_reason text        NOT NULL DEFAULT '',
    file_name    text        NOT NULL DEFAULT '',
    sheet        text        NOT NULL DEFAULT '',
    -- The file's headers and how they map (phone, name, variables).
    columns      jsonb       NOT NULL DEFAULT '[]',
    mapping      jsonb       NOT NULL DEFAULT '{}',
    body         text        NOT NULL DEFAULT '',
    variants     text[]      NOT NULL DEFAULT '{}',
    poll         jsonb,
    instance_ids bigint[]    NOT NULL DEFAULT '{}',
    pace         jsonb       NOT NULL DEFAULT '{}',
    quiet_start  integer     CHECK (quiet_start BETWEEN 0 AND 1439),
    quiet_end    integer     CHECK (quiet_end BETWEEN 0 AND 1439),
    -- Credits per message, fixed when the campaign is launched.
    price        bigint      NOT NULL DEFAULT 0 CHECK (price >= 0),
    scheduled_at timestamptz,
    started_at   timestamptz,
    finished_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id)
);
CREATE INDEX campaigns_tenant_recent_idx ON campaigns (tenant_id, created_at DESC, id DESC);
CREATE INDEX campaigns_due_idx ON campaigns (scheduled_at) WHERE state IN ('scheduled', 'sending');

-- One cleaned row of the file: an E.164 number, once per campaign.
CREATE TABLE campaign_recipients (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   bigint      NOT NULL,
    campaign_id bigint      NOT NULL,
    row_number  integer     NOT NULL CHECK (row_number > 0),
    phone       text        NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{5,15}$'),
    name        text        NOT NULL DEFAULT '',
    vars        jsonb       NOT NULL DEFAULT '{}',
    contact_id  bigint,
    instance_id bigint,
    state       text        NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'queued', 'sent', 'failed', 'skipped')),
    reason      text        NOT NULL DEFAULT '',
    message_id  bigint,
    vote        text[],
    voted_at    timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (campaign_id, phone)
);
CREATE INDEX campaign_recipients_page_idx ON campaign_recipients (campaign_id, row_number);
CREATE INDEX campaign_recipients_pending_idx ON campaign_recipients (campaign_id, id) WHERE state = 'pending';
CREATE INDEX campaign_recipients_message_idx ON campaign_recipients (tenant_id, message_id) WHERE message_id IS NOT NULL;

-- A row of the file left out at clean-up, with why (invalid number,
-- duplicate of another row, opted out, no number).
CREATE TABLE campaign_dropped (
    tenant_id   bigint  NOT NULL,
    campaign_id bigint  NOT NULL,
    row_number  integer NOT NULL CHECK (row_number > 0),
    value       text    NOT NULL DEFAULT '',
    reason      text    NOT NULL,
    FOREIGN KEY (tenant_id, campaign_id) REFERENCES campaigns (tenant_id, id) ON DELETE CASCADE,
    PRIMARY KEY (campaign_id, row_number)
);
