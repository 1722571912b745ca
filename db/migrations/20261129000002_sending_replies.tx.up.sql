-- AI replies handed to the outbox, for the sweeper that settles them from
-- their message's outcome.
CREATE INDEX ai_replies_sending_idx ON ai_replies (out_message_id) WHERE status = 'sending';
