-- A vote that arrived but could not be decrypted (WAHA's poll.vote.failed,
-- Evolution's vote without pollUpdates): the recipient answered, the choice
-- is unknown. A readable vote after it replaces it.
ALTER TABLE campaign_recipients ADD COLUMN vote_unreadable_at timestamptz;
