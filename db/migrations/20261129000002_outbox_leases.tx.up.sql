-- AI replies handed to the outbox, for the sweeper that settles them from
-- their message's outcome.
CREATE INDEX ai_replies_sending_idx ON ai_replies (out_message_id) WHERE status = 'sending';

-- A task working on a message holds it until lease_until. The lease is kept
-- apart from due_at so that taking it changes no indexed column: a claim is
-- a HOT update, which matters at campaign volumes.
ALTER TABLE messages ADD COLUMN lease_until timestamptz;
