-- Binds a pending sign-in to the browser that started it (login CSRF).
ALTER TABLE pending_requests ADD COLUMN IF NOT EXISTS browser_nonce TEXT NOT NULL DEFAULT '';
