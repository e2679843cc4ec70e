-- Caller IDs are read from the emulator's in-memory index (src/store/index.rs), so the
-- FriendlyName index only cost every update and insert a second B-tree write.
DROP INDEX IF EXISTS caller_ids_by_name;
