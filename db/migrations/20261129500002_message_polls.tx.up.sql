-- A poll sent through the outbox keeps its options with the message (the
-- question is the body), so every send attempt sends the same poll.
ALTER TABLE messages ADD COLUMN poll jsonb;
