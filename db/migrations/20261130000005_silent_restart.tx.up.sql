-- When the inbox check last restarted a session that was open but whose
-- webhooks dropped a message (Evolution API 2.3): at most one such restart
-- every half hour.
ALTER TABLE instances ADD COLUMN silent_restart_at timestamptz;
