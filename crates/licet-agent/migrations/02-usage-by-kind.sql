-- The outbox is read oldest first and summarised by meter; an index keeps the summary
-- (GET /v1/usage/summary) from scanning a large backlog.
CREATE INDEX IF NOT EXISTS usage_events_by_kind ON usage_events (kind, seq);
