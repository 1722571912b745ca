UPDATE messages SET sender = 'ai' WHERE sender = 'auto';
ALTER TABLE messages DROP CONSTRAINT messages_sender_check;
ALTER TABLE messages ADD CONSTRAINT messages_sender_check
    CHECK (sender IN ('lead', 'ai', 'app', 'phone', 'campaign', 'api', 'system'));
