-- Deleting an account cascades to its calls: without an index on calls(account_sid) the
-- cascade scans every call while holding the only writer. The callback journal is filtered
-- by call alone as well as by account.
CREATE INDEX calls_by_account ON calls(account_sid);
CREATE INDEX callbacks_by_call_only ON callbacks(call_sid, id);
