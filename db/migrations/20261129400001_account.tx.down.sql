DROP TABLE IF EXISTS password_resets;
DROP INDEX IF EXISTS sessions_user_id_idx;
ALTER TABLE sessions DROP COLUMN IF EXISTS user_id;
UPDATE tenants SET default_country = 'US' WHERE default_country = '';
ALTER TABLE tenants DROP CONSTRAINT tenants_default_country_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_default_country_check CHECK (default_country ~ '^[A-Z]{2}$');
