ALTER TABLE waha_nodes DROP COLUMN monthly_cost;
