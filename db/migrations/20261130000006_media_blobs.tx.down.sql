-- Files kept apart cannot come back into their rows here: going down
-- deletes their rows (their messages and campaigns lose the file).
DELETE FROM media WHERE bytes IS NULL;
ALTER TABLE media
    DROP CONSTRAINT media_bytes_or_blob_check,
    DROP COLUMN blob_key,
    ALTER COLUMN bytes SET NOT NULL;
