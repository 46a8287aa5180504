-- A session opened in a browser tab of its own ("Login as ... in a new tab") names the
-- session whose tab opened it (the first of the family, whatever switches came since),
-- so that signing out there signs out of its tabs too.
ALTER TABLE sessions ADD COLUMN opened_from BIGINT;
CREATE INDEX sessions_opened_from ON sessions (opened_from) WHERE opened_from IS NOT NULL;
