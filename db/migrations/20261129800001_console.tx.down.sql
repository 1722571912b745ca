ALTER TABLE tenants DROP COLUMN suspend_reason, DROP COLUMN suspended_at;
DROP TABLE audit_log;
