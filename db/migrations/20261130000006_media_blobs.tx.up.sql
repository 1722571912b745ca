-- A file's bytes are in its row (MEDIA_STORAGE=postgres), or kept apart
-- under a key (MEDIA_STORAGE=disk): one or the other, never both.
ALTER TABLE media
    ALTER COLUMN bytes DROP NOT NULL,
    ADD COLUMN blob_key text UNIQUE CHECK (blob_key <> ''),
    ADD CONSTRAINT media_bytes_or_blob_check CHECK ((bytes IS NULL) <> (blob_key IS NULL));
