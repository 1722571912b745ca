DROP TABLE stripe_events;
DROP INDEX tenants_stripe_customer_key;
ALTER TABLE tenants
    DROP COLUMN low_balance_notified_at,
    DROP COLUMN payment_failed_at,
    DROP COLUMN pending_plan,
    DROP COLUMN subscription_event_at,
    DROP COLUMN current_period_end,
    DROP COLUMN subscription_status,
    DROP COLUMN stripe_subscription_id,
    DROP COLUMN stripe_customer_id,
    DROP CONSTRAINT tenants_plan_fkey;
UPDATE tenants SET plan = 'starter' WHERE plan NOT IN ('starter', 'pro', 'business');
ALTER TABLE tenants ADD CONSTRAINT tenants_plan_check CHECK (plan IN ('starter', 'pro', 'business'));
DROP TABLE credit_packs;
DROP TABLE plans;
