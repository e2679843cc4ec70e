-- Callbacks by account, in the order they were queued: an account's journal page and the
-- cascade of an account's delete use it, and a new callback lands at the end of it. It
-- replaces the index on (account_sid, call_sid), whose random call SIDs put every new
-- callback on a different page (a page more to journal and write per callback); the journal
-- filtered by call uses callbacks_by_call_only.
DROP INDEX IF EXISTS callbacks_by_call;
CREATE INDEX callbacks_by_account ON callbacks(account_sid, id);
