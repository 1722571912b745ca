-- One outbox for every outgoing message, and incoming work that finishes
-- after any crash. A message that still has work to do (an outgoing one to
-- send, an incoming one waiting for its AI answer) says when that work is
-- next due (due_at) and which generation of task may do it (attempt). A
-- sweeper re-drives whatever comes due with the next generation; a task of
-- an older generation does nothing.
ALTER TABLE messages
    ADD COLUMN outbox_key text,
    ADD COLUMN due_at     timestamptz,
    ADD COLUMN attempt    integer     NOT NULL DEFAULT 0,
    -- What an incoming message set off (opt-out, handoff, an AI answer…),
    -- decided once, in the transaction that applied it.
    ADD COLUMN action     text        NOT NULL DEFAULT '',
    -- When what it set off was all started (automatic replies queued, the
    -- AI answer scheduled).
    ADD COLUMN handled_at timestamptz;
CREATE UNIQUE INDEX messages_outbox_key ON messages (tenant_id, outbox_key) WHERE outbox_key IS NOT NULL;
CREATE INDEX messages_due_idx ON messages (due_at) WHERE due_at IS NOT NULL;
-- Outgoing messages an earlier version left unsent are due now; earlier
-- incoming messages count as handled.
UPDATE messages SET due_at = now() WHERE direction = 'out' AND status IN ('pending', 'sending');
UPDATE messages SET handled_at = created_at WHERE direction = 'in';

-- Webhook events: when an unprocessed event is due to be re-driven, its
-- generation, and when it was given up on (parked, with last_error).
ALTER TABLE webhook_events
    ADD COLUMN due_at     timestamptz DEFAULT now() + interval '20 seconds',
    ADD COLUMN generation integer     NOT NULL DEFAULT 0,
    ADD COLUMN dead_at    timestamptz;
UPDATE webhook_events SET due_at = NULL WHERE processed_at IS NOT NULL;
DROP INDEX webhook_events_unprocessed_idx;
CREATE INDEX webhook_events_due_idx ON webhook_events (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX webhook_events_dead_idx ON webhook_events (dead_at DESC) WHERE dead_at IS NOT NULL;

-- What the customer is told when a person takes the chat over.
ALTER TABLE ai_settings ADD COLUMN handoff_reply text NOT NULL DEFAULT '';
UPDATE ai_settings SET handoff_reply = 'Thanks! A person from our team will answer you here shortly.';

-- Background work given up on, for the owner's console.
CREATE TABLE job_failures (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_type  text        NOT NULL,
    task_id    text        NOT NULL,
    tenant_id  bigint      REFERENCES tenants (id) ON DELETE CASCADE,
    error      text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_failures_created_idx ON job_failures (created_at DESC);
