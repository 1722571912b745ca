ALTER TABLE instances DROP COLUMN silent_restart_at;
