-- Sessions in the broker's own table, written through the store's writer
-- (group commit) and read by id. `data` is the session record as JSON;
-- `expires_at` is Unix seconds. The tower-sessions sqlx table it replaces is
-- dropped: sessions open at the upgrade end and people sign in again.
CREATE TABLE IF NOT EXISTS sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    data       BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions (expires_at);
DROP TABLE IF EXISTS tower_sessions;
