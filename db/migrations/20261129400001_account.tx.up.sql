-- A tenant may have no default country yet (sign-up without the browser's
-- hint): phone numbers must then carry their country code.
ALTER TABLE tenants DROP CONSTRAINT tenants_default_country_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_default_country_check
    CHECK (default_country = '' OR default_country ~ '^[A-Z]{2}$');

-- Whose session a row is, so that a password change or reset signs the user
-- out everywhere. Filled when a session is saved; sessions saved before this
-- column existed have none and end at their expiry.
ALTER TABLE sessions ADD COLUMN user_id bigint REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX sessions_user_id_idx ON sessions (user_id) WHERE user_id IS NOT NULL;

-- Password reset links. Only the SHA-256 of the token is kept: a copy of the
-- database cannot reset anyone's password. A link works once, for an hour.
CREATE TABLE password_resets (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash   bytea       NOT NULL CHECK (length(token_hash) = 32),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    requested_ip text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT password_resets_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX password_resets_user_open_idx ON password_resets (user_id) WHERE used_at IS NULL;
