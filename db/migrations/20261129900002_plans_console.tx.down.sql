ALTER TABLE instances DROP COLUMN paused_at;
