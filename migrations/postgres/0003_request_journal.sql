-- The request journal of GET /_emulator/requests, shared by the replicas (SQLite keeps it in
-- the process's memory). `entry` is the request as that endpoint shows it (JSON text, written
-- by the HTTP layer); `at` is when it was answered (Unix milliseconds, the answering
-- replica's clock) and orders the journal, `id` (write order) breaking ties. Bounded by
-- --request-journal-size: each write deletes the oldest beyond it.
CREATE TABLE request_journal (
    id          BIGSERIAL PRIMARY KEY,
    at          BIGINT NOT NULL,
    account_sid TEXT,
    entry       TEXT NOT NULL
);
CREATE INDEX request_journal_by_time ON request_journal(at, id);
CREATE INDEX request_journal_by_account ON request_journal(account_sid, at, id);
