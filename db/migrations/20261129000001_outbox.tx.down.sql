DROP TABLE IF EXISTS job_failures;
ALTER TABLE ai_settings DROP COLUMN IF EXISTS handoff_reply;
DROP INDEX IF EXISTS webhook_events_dead_idx;
DROP INDEX IF EXISTS webhook_events_due_idx;
CREATE INDEX IF NOT EXISTS webhook_events_unprocessed_idx ON webhook_events (received_at) WHERE processed_at IS NULL;
ALTER TABLE webhook_events DROP COLUMN IF EXISTS dead_at, DROP COLUMN IF EXISTS generation, DROP COLUMN IF EXISTS due_at;
DROP INDEX IF EXISTS messages_due_idx;
DROP INDEX IF EXISTS messages_outbox_key;
ALTER TABLE messages DROP COLUMN IF EXISTS handled_at, DROP COLUMN IF EXISTS action, DROP COLUMN IF EXISTS attempt,
    DROP COLUMN IF EXISTS due_at, DROP COLUMN IF EXISTS outbox_key;
