-- A callback keeps its newest attempt in its own row; callback_attempts holds the ones before
-- it. Recording an attempt is then one update of the callback's row, which changes its state
-- anyway, instead of a row and an index entry more on pages of their own: Twilio makes one
-- attempt, so most callbacks never have a row in callback_attempts. The attempt's number is
-- the row's `attempts`; `last_at` is NULL until the first attempt is recorded. Attempts
-- recorded before this migration stay in callback_attempts, older than any newest one.
ALTER TABLE callbacks ADD COLUMN last_at INTEGER;
ALTER TABLE callbacks ADD COLUMN last_url TEXT;
ALTER TABLE callbacks ADD COLUMN last_signature TEXT;
ALTER TABLE callbacks ADD COLUMN last_status_code INTEGER;
ALTER TABLE callbacks ADD COLUMN last_latency_ms INTEGER;
ALTER TABLE callbacks ADD COLUMN last_error TEXT;
