-- The request journal is written for every request and read by the control API now and then:
-- each index is a write per request. `request_journal_by_time` orders every read, and the
-- table holds about `--request-journal-size` rows, so a read for one account walks that
-- index and filters; the primary key's uniqueness was never read (`id` comes from its own
-- sequence). Each row now costs one index entry instead of three.
DROP INDEX IF EXISTS request_journal_by_account;
ALTER TABLE request_journal DROP CONSTRAINT IF EXISTS request_journal_pkey;
