-- The recovery sweep claims due outbox rows oldest-due first. Most rows are leased to the
-- in-memory hand-off (next_attempt_at in the future) until the broker confirms them, so
-- the claim must find the due ones without walking the leased ones: an index on the
-- outbox's own column. The outbox is narrow and short (rows live until their confirm), so
-- the index stays small; nothing on `events` changes.
CREATE INDEX IF NOT EXISTS outbox_next_attempt_at ON outbox (next_attempt_at);
