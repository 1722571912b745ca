-- A number beyond what the tenant's plan allows (after a downgrade) is
-- paused, not deleted: it still receives, but nothing is sent from it until
-- the plan allows it again (an upgrade, or another number removed).
ALTER TABLE instances ADD COLUMN paused_at timestamptz;
