-- 0002: per-second rollup, the source of the concurrency curve, peaks and failure rates.
--
-- One row per (space, second, class) and insert block; `event_ids` holds the distinct event ids of
-- that cell as a uniqExact state. A duplicate event has the same space, ts and class, so it lands in
-- the same cell and uniqExactMerge counts it once, whether the copy came in the same block, a later
-- batch or another partition. Per-second distinct counts therefore add up exactly over any range
-- of seconds. Read it with GROUP BY ... uniqExactMerge(event_ids), never with sum/count.
--
-- class:
--   join                 kind = join
--   leave                kind = leave
--   join_error           kind = error, phase = join, technical code (everything not business)
--   join_error_business  kind = error, phase = join, code in (space_ended, auth, geo_blocked)
--   session_error        kind = error, phase = session (or absent)
--
-- {db} is replaced by the target database when the migration runs (see warehouse.Migrate).
CREATE TABLE IF NOT EXISTS {db}.space_second
(
    space_id  String,
    second    DateTime('UTC'),
    class     Enum8('join' = 1, 'leave' = 2, 'join_error' = 3, 'join_error_business' = 4, 'session_error' = 5),
    event_ids AggregateFunction(uniqExact, UUID)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(second)
ORDER BY (space_id, second, class)
;
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.space_second_mv TO {db}.space_second
AS SELECT
    space_id,
    ts AS second,
    CAST(multiIf(
        kind = 'join', 'join',
        kind = 'leave', 'leave',
        phase = 'join', if(code IN ({business_codes}), 'join_error_business', 'join_error'),
        'session_error'
    ) AS Enum8('join' = 1, 'leave' = 2, 'join_error' = 3, 'join_error_business' = 4, 'session_error' = 5)) AS class,
    uniqExactState(event_id) AS event_ids
FROM {db}.events
GROUP BY space_id, second, class
