-- When the state of an instance was last observed (the gateway event's own
-- time, or the time of a poll): webhook events are processed in parallel and
-- may arrive out of order, and an older one must not undo a newer state.
ALTER TABLE instances ADD COLUMN state_observed_at timestamptz;
