-- The replicas that have readers of /_emulator/events (see src/store/postgres/listeners.rs):
-- the others announce their events over NOTIFY only while one is listed and alive (holds the
-- advisory lock on its id). A row is inserted by the replica's first reader and deleted after
-- its last; one left by a replica that died is ignored.
CREATE TABLE event_listeners (
    replica INTEGER PRIMARY KEY
);
