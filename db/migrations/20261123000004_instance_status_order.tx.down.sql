ALTER TABLE instances DROP COLUMN IF EXISTS state_observed_at;
