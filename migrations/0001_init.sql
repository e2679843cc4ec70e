-- The emulator's whole state. Times are Unix seconds (caller IDs, accounts) or Unix
-- milliseconds (calls and callbacks, which are scheduled with sub-second precision).

-- Accounts. `configured` ones come from --account / CALLERID_ACCOUNTS (or are the built-in
-- development account) and survive POST /_emulator/reset; the others were made through the
-- control API.
CREATE TABLE accounts (
    sid           TEXT PRIMARY KEY NOT NULL,
    auth_token    TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    configured    INTEGER NOT NULL DEFAULT 0,
    date_created  INTEGER NOT NULL
);

-- API keys (SK…) authenticate as the account that owns them.
CREATE TABLE api_keys (
    sid           TEXT PRIMARY KEY NOT NULL,
    account_sid   TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    secret        TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    date_created  INTEGER NOT NULL
);
CREATE INDEX api_keys_by_account ON api_keys(account_sid);

-- Verified caller IDs. Lists are ordered and keyset-paged by sid (SIDs are generated in
-- increasing order), so each filter has an index ending in sid.
CREATE TABLE outgoing_caller_ids (
    sid           TEXT PRIMARY KEY NOT NULL,
    account_sid   TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    phone_number  TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    date_created  INTEGER NOT NULL,
    date_updated  INTEGER NOT NULL,
    CONSTRAINT one_caller_id_per_number UNIQUE (account_sid, phone_number)
);
CREATE INDEX caller_ids_by_account ON outgoing_caller_ids(account_sid, sid);
CREATE INDEX caller_ids_by_name ON outgoing_caller_ids(account_sid, friendly_name, sid);

-- How the simulated callee at a number answers verification calls, per account.
CREATE TABLE phone_behaviors (
    account_sid  TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    phone_number TEXT NOT NULL,
    behavior     TEXT NOT NULL,
    PRIMARY KEY (account_sid, phone_number)
);

-- Verification calls: one per validation request. `next_action_at` is when the scheduler
-- next moves the call on; it is NULL once the call has ended.
CREATE TABLE calls (
    sid                    TEXT PRIMARY KEY NOT NULL,
    account_sid            TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    to_number              TEXT NOT NULL,
    friendly_name          TEXT NOT NULL,
    validation_code        TEXT NOT NULL,
    extension              TEXT,
    call_delay             INTEGER NOT NULL,
    status_callback        TEXT,
    status_callback_method TEXT NOT NULL,
    behavior               TEXT NOT NULL,
    status                 TEXT NOT NULL,
    verification_status    TEXT,
    digits                 TEXT,
    next_action_at         INTEGER,
    outgoing_caller_id_sid TEXT,
    date_created           INTEGER NOT NULL,
    date_updated           INTEGER NOT NULL,
    start_time             INTEGER,
    end_time               INTEGER,
    duration               INTEGER
);
CREATE INDEX calls_due ON calls(next_action_at) WHERE next_action_at IS NOT NULL;
CREATE INDEX calls_pending_by_number ON calls(account_sid, to_number) WHERE next_action_at IS NOT NULL;

-- Each call's timeline, for GET /_emulator/calls/{CallSid}.
CREATE TABLE call_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    call_sid TEXT NOT NULL REFERENCES calls(sid) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    status   TEXT NOT NULL,
    note     TEXT NOT NULL
);
CREATE INDEX call_events_by_call ON call_events(call_sid, id);

-- StatusCallback requests to make. Written in the transaction that ends the call, so a crash
-- cannot lose one; `next_attempt_at` is NULL once delivered or given up.
CREATE TABLE callbacks (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    account_sid       TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    call_sid          TEXT NOT NULL,
    url               TEXT NOT NULL,
    method            TEXT NOT NULL,
    params            TEXT NOT NULL,
    idempotency_token TEXT NOT NULL,
    state             TEXT NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   INTEGER,
    created_at        INTEGER NOT NULL
);
CREATE INDEX callbacks_due ON callbacks(next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX callbacks_by_call ON callbacks(account_sid, call_sid);

-- Every delivery attempt, as the callback journal shows it.
CREATE TABLE callback_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    callback_id INTEGER NOT NULL REFERENCES callbacks(id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    url         TEXT NOT NULL,
    signature   TEXT NOT NULL,
    status_code INTEGER,
    latency_ms  INTEGER NOT NULL,
    error       TEXT
);
CREATE INDEX callback_attempts_by_callback ON callback_attempts(callback_id, id);
