UPDATE instances SET provider_status = CASE provider_status
    WHEN 'stopped' THEN 'STOPPED'
    WHEN 'starting' THEN 'STARTING'
    WHEN 'scan_qr' THEN 'SCAN_QR_CODE'
    WHEN 'working' THEN 'WORKING'
    WHEN 'failed' THEN 'FAILED'
    WHEN 'logged_out' THEN 'STOPPED'
    ELSE provider_status END;

CREATE UNIQUE INDEX messages_wa_id_key ON messages (tenant_id, wa_id);
DROP INDEX messages_origin_wa_id_key;
ALTER TABLE messages DROP COLUMN origin_instance_id;

DELETE FROM gateway_nodes WHERE provider = 'evolution' AND NOT EXISTS (SELECT 1 FROM instances i WHERE i.node_id = gateway_nodes.id);
DROP INDEX gateway_nodes_default_key;
CREATE UNIQUE INDEX waha_nodes_default_key ON gateway_nodes (is_default) WHERE is_default;
ALTER TABLE gateway_nodes DROP COLUMN provider;
ALTER INDEX gateway_nodes_url_key RENAME TO waha_nodes_url_key;
ALTER TABLE gateway_nodes RENAME TO waha_nodes;
