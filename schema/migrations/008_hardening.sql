-- Hardening (issue 14): server-side login sessions, failed-login backoff, stored thumbnails.
-- A session is a random token in the browser's cookie; only its SHA-256 is kept here, so a
-- copied database or backup cannot be turned into a login. Deleting the rows ends the sessions
-- at once (logout, a disabled account, a new password or role).
CREATE TABLE login_session (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    site TEXT NOT NULL DEFAULT 'collector',
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX login_session_user ON login_session (user_name);

-- Failed logins per account ('user:NAME') and per address ('addr:IP'): the backoff survives a
-- restart of the app.
CREATE TABLE login_failure (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at REAL NOT NULL
);

-- Thumbnails made once, when an image is uploaded (or first shown after it came in a pack).
CREATE TABLE thumbnail (
    sha256 TEXT PRIMARY KEY,
    data BLOB
);
