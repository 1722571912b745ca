-- How many times a recipient's message was tried again after it failed
-- (the tenant's retry, or a number that disconnected before sending it):
-- each attempt is a message of its own, keyed campaign:<id>:<retries>, so a
-- retry is charged once and a redelivered attempt stays one message.
ALTER TABLE campaign_recipients ADD COLUMN retries integer NOT NULL DEFAULT 0 CHECK (retries >= 0);
