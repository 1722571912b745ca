-- WhatsApp gateways of either provider (WAHA, Evolution API), and messages
-- keyed by the number (instance) they came through.

ALTER TABLE waha_nodes RENAME TO gateway_nodes;
ALTER INDEX waha_nodes_url_key RENAME TO gateway_nodes_url_key;
ALTER TABLE gateway_nodes
    ADD COLUMN provider text NOT NULL DEFAULT 'waha' CHECK (provider IN ('waha', 'evolution'));
-- One default node (from the environment) per provider.
DROP INDEX waha_nodes_default_key;
CREATE UNIQUE INDEX gateway_nodes_default_key ON gateway_nodes (provider) WHERE is_default;

-- A message is the provider's message id within one number: the same
-- WhatsApp message seen by two numbers of a tenant (one sends, the other
-- receives) is two messages. origin_instance_id is the number a message came
-- or went through (0 for notes); unlike instance_id it stays when the number
-- is deleted, so the key stays unique.
ALTER TABLE messages ADD COLUMN origin_instance_id bigint NOT NULL DEFAULT 0;
UPDATE messages SET origin_instance_id = instance_id WHERE instance_id IS NOT NULL;
CREATE UNIQUE INDEX messages_origin_wa_id_key ON messages (tenant_id, origin_instance_id, wa_id);
DROP INDEX messages_wa_id_key;

-- Session statuses in the provider-neutral names.
UPDATE instances SET provider_status = CASE provider_status
    WHEN 'STOPPED' THEN 'stopped'
    WHEN 'STARTING' THEN 'starting'
    WHEN 'SCAN_QR_CODE' THEN 'scan_qr'
    WHEN 'WORKING' THEN 'working'
    WHEN 'FAILED' THEN 'failed'
    ELSE provider_status END;
