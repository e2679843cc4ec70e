-- Lists no longer page through SQLite, so caller_ids_by_account (account_sid, sid) served only
-- the cascade when an account is deleted, which the unique (account_sid, phone_number) index
-- serves as well; dropping it saves a B-tree write on every new caller ID.
DROP INDEX IF EXISTS caller_ids_by_account;
