ALTER TABLE campaign_recipients DROP COLUMN vote_unreadable_at;
