DROP INDEX stripe_events_failed;
ALTER TABLE stripe_events DROP COLUMN failed_at;
DROP TABLE payments;
