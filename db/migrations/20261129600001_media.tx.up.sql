-- Files a tenant uploads to send (a campaign's image), stored in the
-- database for now: small (the app caps them) and few. A later change may
-- move the bytes to another store and add retention; rows are reached only
-- by (tenant_id, id).
CREATE TABLE media (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    mime       text        NOT NULL CHECK (mime <> ''),
    file_name  text        NOT NULL DEFAULT '',
    size       bigint      NOT NULL CHECK (size >= 0),
    sha256     bytea       NOT NULL CHECK (length(sha256) = 32),
    bytes      bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (size = length(bytes)),
    UNIQUE (tenant_id, id)
);
CREATE INDEX media_tenant_sha_idx ON media (tenant_id, sha256);

-- A text campaign's image; its text is the caption. A file a campaign
-- uses cannot be deleted: the campaign would go out without it.
ALTER TABLE campaigns ADD COLUMN media_id bigint,
    ADD FOREIGN KEY (tenant_id, media_id) REFERENCES media (tenant_id, id);

-- The file an outgoing media message sends (type 'image'). Deleting the
-- file keeps the message in the conversation; one still to send then fails.
ALTER TABLE messages ADD COLUMN media_id bigint,
    ADD FOREIGN KEY (tenant_id, media_id) REFERENCES media (tenant_id, id) ON DELETE SET NULL (media_id);
