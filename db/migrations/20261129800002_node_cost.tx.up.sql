-- What a WAHA server costs a month, in US dollars: the console shares it
-- out among the tenants by the numbers each holds on the server.
ALTER TABLE waha_nodes ADD COLUMN monthly_cost numeric(12, 2) NOT NULL DEFAULT 0
    CHECK (monthly_cost >= 0);
