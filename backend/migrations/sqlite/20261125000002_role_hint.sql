-- A role chosen before the sign-in started (role switch after the assertion expired).
ALTER TABLE pending_requests ADD COLUMN role_hint TEXT;
