-- The request journal records the Twilio error code of each answer: `error_code` in each
-- entry's JSON (written by the HTTP layer, like every other field), so the table needs no
-- column for it. Entries journalled before this migration were written without it; they get
-- `"error_code": null`, so that every entry has the field, as every entry of SQLite's
-- in-memory journal has it. (Their code was not recorded: for one that failed, null says
-- "unknown" here.) The entries are compact JSON objects written by serde, so the field goes
-- in before the closing brace.
UPDATE request_journal
   SET entry = left(entry, -1) || ',"error_code":null}'
 WHERE entry LIKE '{%}' AND NOT (entry::jsonb ? 'error_code');
