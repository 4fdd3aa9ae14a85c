-- 0001: the raw event table.
--
-- One row per delivered event, as the consumer inserts it (it always names the columns below, so
-- the server-side DEFAULT columns at the end are filled here). Delivery is at-least-once: a batch
-- may be inserted twice after a consumer crash and producers retry, so the same event_id can be
-- stored more than once. ReplacingMergeTree keyed on (space_id, ts, event_id) folds those copies
-- in background merges, but merges are eventual: every query dedups by event_id itself (or reads
-- the rollups of 0002/0003, whose uniqExact states count each event_id once).
--
-- {db} is replaced by the target database when the migration runs (see warehouse.Migrate).
CREATE TABLE IF NOT EXISTS {db}.events
(
    event_id        UUID,
    kind            Enum8('join' = 1, 'leave' = 2, 'error' = 3),
    ts              DateTime('UTC'),
    ts_ms           Int64,
    space_id        String,
    session_id      UUID,
    user_id         String,
    role            Enum8('listener' = 1, 'speaker' = 2, 'host' = 3, 'cohost' = 4),
    client          String,
    app_version     String,
    region          String,
    country         String,
    join_ms         Int64,
    attempt         UInt16,
    reason          Enum8('' = 0, 'user' = 1, 'ended' = 2, 'kicked' = 3, 'network' = 4, 'error' = 5),
    phase           Enum8('' = 0, 'join' = 1, 'session' = 2),
    code            String,
    http_status     UInt16,
    kafka_partition Int32,
    kafka_offset    Int64,
    inserted_at     DateTime('UTC') DEFAULT now()
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (space_id, ts, event_id)
