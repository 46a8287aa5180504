-- The TR39 skeleton of each username (what it looks like, whatever the script): a new
-- name that looks like an existing one (`demо` with a Cyrillic о beside `demo`) is
-- refused. Rows from before are filled in at start-up by the server, which computes
-- skeletons; a pair that already collides keeps its names, the later one unfilled.
ALTER TABLE users ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX users_username_skeleton ON users (username_skeleton);
