-- Client idempotency keys of POST /v1/usage: a retried request with the same key (and
-- the same body) is answered with the first request's sequence numbers and records
-- nothing. Keys are kept for a day.
CREATE TABLE IF NOT EXISTS usage_requests (
    key TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS usage_requests_by_age ON usage_requests (created_at);
