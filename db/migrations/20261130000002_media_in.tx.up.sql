-- Files customers send (voice notes, photos, documents) that the AI reads:
-- kept with their contact until they expire, and deleted with it.
ALTER TABLE media
    ADD COLUMN contact_id bigint,
    ADD COLUMN expires_at timestamptz,
    ADD FOREIGN KEY (tenant_id, contact_id) REFERENCES contacts (tenant_id, id) ON DELETE CASCADE;
CREATE INDEX media_expires_idx ON media (expires_at) WHERE expires_at IS NOT NULL;

-- What the AI heard or saw in a customer's media: a voice note's
-- transcript, or a photo's or document's description.
ALTER TABLE messages ADD COLUMN transcript text NOT NULL DEFAULT '';
CREATE INDEX messages_transcript_idx ON messages USING gin (to_tsvector('simple', transcript)) WHERE transcript <> '';

-- Questions the AI could not answer from the business knowledge, grouped
-- (a new question joins an open one that says nearly the same), until the
-- tenant answers them (the answer becomes a knowledge entry) or dismisses
-- them.
CREATE TABLE knowledge_gaps (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     bigint      NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    question      text        NOT NULL CHECK (question <> ''),
    words         text[]      NOT NULL DEFAULT '{}',
    times_asked   integer     NOT NULL DEFAULT 1 CHECK (times_asked > 0),
    first_asked   timestamptz NOT NULL DEFAULT now(),
    last_asked    timestamptz NOT NULL DEFAULT now(),
    last_contact_id bigint,
    status        text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'answered', 'dismissed')),
    entry_id      bigint,
    resolved_at   timestamptz,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, last_contact_id) REFERENCES contacts (tenant_id, id) ON DELETE SET NULL (last_contact_id)
);
CREATE INDEX knowledge_gaps_open_idx ON knowledge_gaps (tenant_id, status, times_asked DESC, last_asked DESC);
