ALTER TABLE messages DROP COLUMN media_id;
ALTER TABLE campaigns DROP COLUMN media_id;
DROP TABLE media;
