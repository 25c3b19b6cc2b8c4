-- The audit trail: append-only, hash-chained. `seq` orders the chain;
-- `hash` = SHA-256(prev_hash || canonical JSON of the event); UNIQUE(prev_hash)
-- keeps the chain linear even with several concurrent writers.
CREATE TABLE IF NOT EXISTS audit_events (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    time          TEXT NOT NULL,          -- RFC 3339, UTC, millisecond precision (sorts as text)
    time_ms       INTEGER NOT NULL,       -- the same instant, for range queries
    event         TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    subject       TEXT,
    source_ip     TEXT,
    user_agent    TEXT,
    request_id    TEXT,
    idp           TEXT,
    assertion_id  TEXT,
    role_arn      TEXT,
    access_key_id TEXT,
    reason        TEXT,
    detail        TEXT NOT NULL DEFAULT '{}',  -- JSON object
    prev_hash     TEXT NOT NULL UNIQUE,
    hash          TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_time ON audit_events (time_ms, seq);
CREATE INDEX IF NOT EXISTS audit_subject ON audit_events (subject, seq);
CREATE INDEX IF NOT EXISTS audit_event ON audit_events (event, seq);
CREATE INDEX IF NOT EXISTS audit_outcome ON audit_events (outcome, seq);
CREATE INDEX IF NOT EXISTS audit_role ON audit_events (role_arn, seq);
CREATE INDEX IF NOT EXISTS audit_source ON audit_events (source_ip, seq);

-- Where the chain starts after retention removed older events: the hash of
-- the last removed event becomes the first remaining event's expected prev_hash.
CREATE TABLE IF NOT EXISTS audit_anchor (
    one        INTEGER PRIMARY KEY CHECK (one = 1),
    seq        INTEGER NOT NULL,      -- events with seq <= this were archived
    hash       TEXT NOT NULL,         -- hash of the last archived event
    archived_at TEXT NOT NULL,
    archive    TEXT NOT NULL          -- where the archived events were written
);

-- Append-only: no update; delete only below the retention anchor.
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > COALESCE((SELECT seq FROM audit_anchor WHERE one = 1), 0)
BEGIN
    SELECT RAISE(ABORT, 'audit events can only be removed by retention, below the anchor');
END;
