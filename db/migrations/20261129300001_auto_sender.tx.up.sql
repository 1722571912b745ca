-- Automatic replies (opt-out confirmation, after hours, handoff
-- acknowledgement) are told apart from the AI's answers.
ALTER TABLE messages DROP CONSTRAINT messages_sender_check;
ALTER TABLE messages ADD CONSTRAINT messages_sender_check
    CHECK (sender IN ('lead', 'ai', 'auto', 'app', 'phone', 'campaign', 'api', 'system'));
UPDATE messages SET sender = 'auto' WHERE sender = 'ai' AND outbox_key ~ '^(opt-out|opt-in|handoff|after-hours):';
