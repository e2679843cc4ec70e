-- The emulator's whole state in PostgreSQL: the same tables as SQLite's migrations/0001_init.sql
-- (times are Unix seconds for accounts and caller IDs, Unix milliseconds for calls and
-- callbacks), plus what several emulator replicas on one database need: insertion-order
-- columns (SQLite's rowid), callback leases and replica ids.

CREATE TABLE accounts (
    sid           TEXT PRIMARY KEY,
    auth_token    TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    configured    BOOLEAN NOT NULL DEFAULT FALSE,
    date_created  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY,
    sid           TEXT PRIMARY KEY,
    account_sid   TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    secret        TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    date_created  BIGINT NOT NULL
);
CREATE INDEX api_keys_by_account ON api_keys(account_sid, seq);

-- Lists are keyset-paged by sid (generated in increasing order), so each filter has an index
-- ending in sid. The unique constraint is the already-verified rule, across replicas.
CREATE TABLE outgoing_caller_ids (
    sid           TEXT PRIMARY KEY,
    account_sid   TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    phone_number  TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    date_created  BIGINT NOT NULL,
    date_updated  BIGINT NOT NULL,
    CONSTRAINT one_caller_id_per_number UNIQUE (account_sid, phone_number)
);
CREATE INDEX caller_ids_by_account ON outgoing_caller_ids(account_sid, sid);
CREATE INDEX caller_ids_by_name ON outgoing_caller_ids(account_sid, friendly_name, sid);

CREATE TABLE phone_behaviors (
    account_sid  TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    phone_number TEXT NOT NULL,
    behavior     TEXT NOT NULL,
    PRIMARY KEY (account_sid, phone_number)
);

-- `next_action_at` is when a scheduler next moves the call on; NULL once the call has ended.
CREATE TABLE calls (
    seq                    BIGINT GENERATED ALWAYS AS IDENTITY,
    sid                    TEXT PRIMARY KEY,
    account_sid            TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    to_number              TEXT NOT NULL,
    friendly_name          TEXT NOT NULL,
    validation_code        TEXT NOT NULL,
    extension              TEXT,
    call_delay             BIGINT NOT NULL,
    status_callback        TEXT,
    status_callback_method TEXT NOT NULL,
    behavior               TEXT NOT NULL,
    status                 TEXT NOT NULL,
    verification_status    TEXT,
    digits                 TEXT,
    next_action_at         BIGINT,
    outgoing_caller_id_sid TEXT,
    date_created           BIGINT NOT NULL,
    date_updated           BIGINT NOT NULL,
    start_time             BIGINT,
    end_time               BIGINT,
    duration               BIGINT
);
CREATE INDEX calls_due ON calls(next_action_at) WHERE next_action_at IS NOT NULL;
CREATE INDEX calls_pending_by_number ON calls(account_sid, to_number) WHERE next_action_at IS NOT NULL;
CREATE INDEX calls_by_account ON calls(account_sid, seq);
CREATE INDEX calls_newest ON calls(seq);

CREATE TABLE call_events (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    call_sid TEXT NOT NULL REFERENCES calls(sid) ON DELETE CASCADE,
    at       BIGINT NOT NULL,
    status   TEXT NOT NULL,
    note     TEXT NOT NULL
);
CREATE INDEX call_events_by_call ON call_events(call_sid, id);

-- StatusCallback requests to make. A callback being delivered is `sending`, claimed by one
-- replica (`claimed_by`, its id from `replica_ids`) until `lease_until` (the database's
-- clock); a lease that ran out makes it claimable again by any replica.
CREATE TABLE callbacks (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_sid       TEXT NOT NULL REFERENCES accounts(sid) ON DELETE CASCADE,
    call_sid          TEXT NOT NULL,
    url               TEXT NOT NULL,
    method            TEXT NOT NULL,
    params            TEXT NOT NULL,
    idempotency_token TEXT NOT NULL,
    state             TEXT NOT NULL,
    attempts          BIGINT NOT NULL DEFAULT 0,
    next_attempt_at   BIGINT,
    created_at        BIGINT NOT NULL,
    claimed_by        INTEGER,
    lease_until       TIMESTAMPTZ
);
CREATE INDEX callbacks_due ON callbacks(next_attempt_at) WHERE next_attempt_at IS NOT NULL;
CREATE INDEX callbacks_leased ON callbacks(lease_until) WHERE state = 'sending';
CREATE INDEX callbacks_by_account ON callbacks(account_sid, id);
CREATE INDEX callbacks_by_call ON callbacks(call_sid, id);

CREATE TABLE callback_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    callback_id BIGINT NOT NULL REFERENCES callbacks(id) ON DELETE CASCADE,
    attempt     BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    url         TEXT NOT NULL,
    signature   TEXT NOT NULL,
    status_code BIGINT,
    latency_ms  BIGINT NOT NULL,
    error       TEXT
);
CREATE INDEX callback_attempts_by_callback ON callback_attempts(callback_id, id);

-- One id per emulator process that opened the database: it holds the advisory lock
-- (1128615253, id) for as long as it lives, which is how others tell whether the replica
-- that claimed a callback is still there.
CREATE SEQUENCE replica_ids AS INTEGER CYCLE;
