-- The audit trail (see migrations/sqlite for the design notes).
CREATE TABLE IF NOT EXISTS audit_events (
    seq           BIGINT PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    time          TEXT NOT NULL,
    time_ms       BIGINT NOT NULL,
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
    detail        TEXT NOT NULL DEFAULT '{}',
    prev_hash     TEXT NOT NULL UNIQUE,
    hash          TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_time ON audit_events (time_ms, seq);
CREATE INDEX IF NOT EXISTS audit_subject ON audit_events (subject, seq);
CREATE INDEX IF NOT EXISTS audit_event ON audit_events (event, seq);
CREATE INDEX IF NOT EXISTS audit_outcome ON audit_events (outcome, seq);
CREATE INDEX IF NOT EXISTS audit_role ON audit_events (role_arn, seq);
CREATE INDEX IF NOT EXISTS audit_source ON audit_events (source_ip, seq);

CREATE TABLE IF NOT EXISTS audit_anchor (
    one         INTEGER PRIMARY KEY CHECK (one = 1),
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    archived_at TEXT NOT NULL,
    archive     TEXT NOT NULL
);

CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'audit events are append-only';
    END IF;
    IF OLD.seq > COALESCE((SELECT seq FROM audit_anchor WHERE one = 1), 0) THEN
        RAISE EXCEPTION 'audit events can only be removed by retention, below the anchor';
    END IF;
    RETURN OLD;
END $$;
DROP TRIGGER IF EXISTS audit_no_update ON audit_events;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_append_only();
DROP TRIGGER IF EXISTS audit_no_delete ON audit_events;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_append_only();
