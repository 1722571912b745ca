ALTER TABLE campaign_recipients DROP COLUMN retries;
