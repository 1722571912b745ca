ALTER TABLE messages DROP COLUMN IF EXISTS lease_until;
DROP INDEX IF EXISTS ai_replies_sending_idx;
