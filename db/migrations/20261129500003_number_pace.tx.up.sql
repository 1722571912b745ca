-- What each WhatsApp number has sent for campaigns, as the pace needs it,
-- across all of its tenant's campaigns and every worker: the dispatcher of
-- a number locks its row, sends one message, and writes when the next may
-- go (next_at).
CREATE TABLE number_pace (
    instance_id      bigint      PRIMARY KEY,
    tenant_id        bigint      NOT NULL,
    day              timestamptz,
    sent_today       integer     NOT NULL DEFAULT 0,
    sent_since_pause integer     NOT NULL DEFAULT 0,
    last_sent_at     timestamptz,
    next_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, instance_id) REFERENCES instances (tenant_id, id) ON DELETE CASCADE
);
