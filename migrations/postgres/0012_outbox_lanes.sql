-- The outbox sends sign-in codes first, shares the sender fairly between accounts and
-- drops a message once what it carries has expired. `priority`: 0 sign-in codes, 1 other
-- messages a person waits for, 2 notices. `lane`: how many of its account's messages
-- were waiting when it was queued; sending in (priority, lane) order takes each
-- account's first message before anyone's second.
ALTER TABLE outbox ADD COLUMN account_id BIGINT;
ALTER TABLE outbox ADD COLUMN priority BIGINT NOT NULL DEFAULT 1;
ALTER TABLE outbox ADD COLUMN lane BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN expires_at BIGINT;
DROP INDEX outbox_due;
CREATE INDEX outbox_queue ON outbox (priority, lane, id) WHERE sent_at IS NULL AND gave_up_at IS NULL;
CREATE INDEX outbox_waiting ON outbox (account_id) WHERE sent_at IS NULL AND gave_up_at IS NULL;
