-- The owner's console: what platform owners did, and tenants' suspension.

-- audit_log is platform data, not a tenant's: every action an owner takes in
-- the console is a row (who, when, what, why). It outlives the actor and the
-- tenant (their ids go NULL; the email and details stay).
CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_user_id bigint      REFERENCES users (id) ON DELETE SET NULL,
    actor_email   text        NOT NULL,
    tenant_id     bigint      REFERENCES tenants (id) ON DELETE SET NULL,
    action        text        NOT NULL CHECK (length(action) BETWEEN 1 AND 60),
    details       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    reason        text        NOT NULL DEFAULT '' CHECK (length(reason) <= 1000),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_created_idx ON audit_log (created_at DESC, id DESC);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, created_at DESC, id DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, created_at DESC, id DESC);

ALTER TABLE tenants
    ADD COLUMN suspended_at   timestamptz,
    ADD COLUMN suspend_reason text NOT NULL DEFAULT '' CHECK (length(suspend_reason) <= 1000);
