ALTER TABLE messages DROP CONSTRAINT messages_sender_check;
ALTER TABLE messages ADD CONSTRAINT messages_sender_check
    CHECK (sender IN ('lead', 'ai', 'app', 'phone', 'campaign', 'api'));
ALTER TABLE messages DROP COLUMN IF EXISTS charge_ref;
DROP TABLE IF EXISTS ai_runs;
DROP TABLE IF EXISTS ai_replies;
ALTER TABLE contacts DROP COLUMN IF EXISTS ai_mode, DROP COLUMN IF EXISTS human_until,
    DROP COLUMN IF EXISTS handoff_reason, DROP COLUMN IF EXISTS handoff_at, DROP COLUMN IF EXISTS after_hours_replied_at;
DROP TABLE IF EXISTS knowledge_entries;
DROP TABLE IF EXISTS ai_settings;
