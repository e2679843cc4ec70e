-- Subaccounts, account status and key kinds (the Accounts and Keys resources), as SQLite's
-- migrations/0005. `owner_account_sid` is the parent of a subaccount (NULL for a main
-- account): deleting a parent deletes its subaccounts with everything they own. `status` is
-- active, suspended or closed; `kind` is standard or main.
ALTER TABLE accounts ADD COLUMN owner_account_sid TEXT REFERENCES accounts(sid) ON DELETE CASCADE;
ALTER TABLE accounts ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE accounts ADD COLUMN date_updated BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET date_updated = date_created;
CREATE INDEX accounts_by_owner ON accounts(owner_account_sid, sid);

ALTER TABLE api_keys ADD COLUMN kind TEXT NOT NULL DEFAULT 'standard';
ALTER TABLE api_keys ADD COLUMN date_updated BIGINT NOT NULL DEFAULT 0;
UPDATE api_keys SET date_updated = date_created;
