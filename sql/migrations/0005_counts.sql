-- 0005: rollups of plain counts. The consumer now lands each event once (consumers/ingest/doc.go),
-- so a rollup no longer keeps the set of event ids of every cell: it counts rows, and every figure
-- is read with sum(). This replaces space_second (uniqExact states), its sealing overlay
-- (space_second_sealed) and space_minute, which are dropped at the end.
--
-- Upgrading a warehouse that has data (schema 4) keeps every figure:
-- 1. The two counting tables and their views are created. A view counts only rows with
--    inserted_at >= {cutover}; the backfill counts only the rows before it, so a row inserted while
--    this migration runs is counted once, by one of the two.
-- 2. warehouse.Migrate waits until the server's clock is past {cutover} (plus a margin for blocks
--    still being written) before it runs the first INSERT here.
-- 3. The backfill reads events FINAL: the rows of schema 4 may hold copies of an event (at-least-
--    once delivery), which share the sort key (space_id, ts, event_id) of this ReplacingMergeTree,
--    so FINAL reads each event once. OPTIMIZE … FINAL then folds those copies on disk too, so that
--    count() over events is right for analysts. On a large warehouse it rewrites the events table
--    once: run spacepulse-migrate at a quiet hour.
-- 4. The old tables are dropped last, once the new ones hold everything.
-- Cut short and run again, the migration starts by dropping what it had made, so the backfill
-- never counts a row twice.
-- On a fresh database (0001 applied by the same Migrate call) {cutover} is the epoch: no wait.
--
-- A row inserted into events later with an explicit inserted_at before {cutover} (a restore of old
-- rows, say) is not rolled up by the views; leave inserted_at to its default.
--
-- space_second_counts: one row per (space, second, class) and insert block until merges sum them;
-- class as in 0002 (join, leave, join_error = technical join-phase error, join_error_business =
-- space_ended/auth/geo_blocked, session_error). space_minute_counts: the same per minute with the
-- dimensions the plugin and the report group by. events is Int64 so that a correction (a negative
-- row) can be written by a reconciler.
--
-- {db} is the target database, {cutover} a DateTime expression (see warehouse.Migrate).
DROP TABLE IF EXISTS {db}.space_second_counts_mv
;
DROP TABLE IF EXISTS {db}.space_minute_counts_mv
;
DROP TABLE IF EXISTS {db}.space_second_counts
;
DROP TABLE IF EXISTS {db}.space_minute_counts
;
CREATE TABLE IF NOT EXISTS {db}.space_second_counts
(
    space_id String,
    second   DateTime('UTC'),
    class    Enum8('join' = 1, 'leave' = 2, 'join_error' = 3, 'join_error_business' = 4, 'session_error' = 5),
    events   Int64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(second)
ORDER BY (space_id, second, class)
;
CREATE TABLE IF NOT EXISTS {db}.space_minute_counts
(
    space_id    String,
    minute      DateTime('UTC'),
    kind        Enum8('join' = 1, 'leave' = 2, 'error' = 3),
    phase       Enum8('' = 0, 'join' = 1, 'session' = 2),
    technical   UInt8,
    code        String,
    reason      Enum8('' = 0, 'user' = 1, 'ended' = 2, 'kicked' = 3, 'network' = 4, 'error' = 5),
    client      String,
    app_version String,
    region      String,
    country     String,
    events      Int64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country)
;
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.space_second_counts_mv TO {db}.space_second_counts
AS SELECT
    space_id,
    ts AS second,
    CAST(multiIf(
        kind = 'join', 'join',
        kind = 'leave', 'leave',
        phase = 'join', if(code IN ({business_codes}), 'join_error_business', 'join_error'),
        'session_error'
    ) AS Enum8('join' = 1, 'leave' = 2, 'join_error' = 3, 'join_error_business' = 4, 'session_error' = 5)) AS class,
    toInt64(count()) AS events
FROM {db}.events
WHERE inserted_at >= {cutover}
GROUP BY space_id, second, class
;
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.space_minute_counts_mv TO {db}.space_minute_counts
AS SELECT
    space_id,
    toStartOfMinute(ts) AS minute,
    kind,
    phase,
    toUInt8(kind = 'error' AND code NOT IN ({business_codes})) AS technical,
    code,
    reason,
    client,
    app_version,
    region,
    country,
    toInt64(count()) AS events
FROM {db}.events
WHERE inserted_at >= {cutover}
GROUP BY space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country
;
INSERT INTO {db}.space_second_counts (space_id, second, class, events)
SELECT
    space_id,
    ts AS second,
    CAST(multiIf(
        kind = 'join', 'join',
        kind = 'leave', 'leave',
        phase = 'join', if(code IN ({business_codes}), 'join_error_business', 'join_error'),
        'session_error'
    ) AS Enum8('join' = 1, 'leave' = 2, 'join_error' = 3, 'join_error_business' = 4, 'session_error' = 5)) AS class,
    toInt64(count()) AS events
FROM {db}.events FINAL
WHERE inserted_at < {cutover}
GROUP BY space_id, second, class
;
INSERT INTO {db}.space_minute_counts (space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country, events)
SELECT
    space_id,
    toStartOfMinute(ts) AS minute,
    kind,
    phase,
    toUInt8(kind = 'error' AND code NOT IN ({business_codes})) AS technical,
    code,
    reason,
    client,
    app_version,
    region,
    country,
    toInt64(count()) AS events
FROM {db}.events FINAL
WHERE inserted_at < {cutover}
GROUP BY space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country
;
OPTIMIZE TABLE {db}.events FINAL
;
DROP TABLE IF EXISTS {db}.space_second_mv
;
DROP TABLE IF EXISTS {db}.space_minute_mv
;
DROP TABLE IF EXISTS {db}.space_second_sealed
;
DROP TABLE IF EXISTS {db}.space_second
;
DROP TABLE IF EXISTS {db}.space_minute
