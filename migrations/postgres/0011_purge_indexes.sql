-- What `purge` looks for: rows whose time has passed, found without reading whole tables.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX sessions_ended ON sessions (ended_at) WHERE ended_at IS NOT NULL;
CREATE INDEX sessions_idle ON sessions (last_seen_at) WHERE NOT remember AND ended_at IS NULL;
CREATE INDEX challenges_expires ON challenges (expires_at);
CREATE INDEX password_resets_expires ON password_resets (expires_at);
CREATE INDEX trusted_devices_expires ON trusted_devices (expires_at);
CREATE INDEX verifications_expires ON verifications (expires_at);
CREATE INDEX throttles_window ON throttles (window_start);
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX outbox_gave_up ON outbox (gave_up_at) WHERE gave_up_at IS NOT NULL;
CREATE INDEX blocking_notices_day ON blocking_notices (day);
