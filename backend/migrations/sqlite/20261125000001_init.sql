-- Pending SP-initiated AuthnRequests, keyed by the opaque RelayState.
CREATE TABLE IF NOT EXISTS pending_requests (
    relay_state TEXT PRIMARY KEY NOT NULL,
    request_id  TEXT NOT NULL,
    return_to   TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_requests_expires ON pending_requests (expires_at);

-- Assertion ids already accepted, remembered until their NotOnOrAfter.
CREATE TABLE IF NOT EXISTS replay_cache (
    assertion_id TEXT PRIMARY KEY NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS replay_cache_expires ON replay_cache (expires_at);
