CREATE TABLE IF NOT EXISTS pending_requests (
    relay_state TEXT PRIMARY KEY NOT NULL,
    request_id  TEXT NOT NULL,
    return_to   TEXT,
    role_hint   TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_requests_expires ON pending_requests (expires_at);

CREATE TABLE IF NOT EXISTS replay_cache (
    assertion_id TEXT PRIMARY KEY NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS replay_cache_expires ON replay_cache (expires_at);
