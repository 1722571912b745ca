DROP TABLE knowledge_gaps;
DROP INDEX messages_transcript_idx;
ALTER TABLE messages DROP COLUMN transcript;
DELETE FROM media WHERE contact_id IS NOT NULL;
DROP INDEX media_expires_idx;
ALTER TABLE media DROP COLUMN expires_at, DROP COLUMN contact_id;
