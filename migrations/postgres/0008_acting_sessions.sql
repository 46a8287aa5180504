-- Sessions acting as a user end with that user's sessions (an administrator ending them,
-- a password change or reset) and when the grant they act under is taken away: both are
-- found by the user acted as.
CREATE INDEX sessions_acting_as ON sessions (acting_as_id) WHERE acting_as_id IS NOT NULL;
