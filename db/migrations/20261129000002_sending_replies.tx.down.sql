DROP INDEX IF EXISTS ai_replies_sending_idx;
