-- 0004: sealed cell counts, so that a long concurrency curve need not merge every event id.
--
-- space_second gets `rows`, a count state of the event rows that went into each state row (a
-- duplicate delivery adds to it; merges add the states up, so a cell's total only ever grows).
-- A sealing pass (sql/maintenance/seal_cells.sql, run by the consumer) stores in
-- space_second_sealed each cell's distinct count together with that total, read in one snapshot;
-- queries (sql/fragments/cells.sql) use the sealed count of a cell only while its total is
-- still the sealed one, and merge the uniqExact states of every other cell. Figures are exact
-- whether or not, and however long ago, a cell was sealed.
--
-- space_second is rebuilt from events rather than altered: 18.16 can neither ADD COLUMN IF NOT
-- EXISTS nor change a table's index granularity, and the rollup is a function of events, so
-- dropping it and inserting every event's state again gives exactly the same cells (a state
-- holds each event id once). The granularity drops from 8,192 to 1,024 rows: a cell that must
-- be merged (late events, the live tail) reads the event_ids of its granule, and at 8,192 rows
-- (about 45 minutes of a busy room) 25 late events cost 200 ms on a 3-hour curve. The backfill
-- runs after the view exists, so events inserted while this runs are counted too. Run again (cut
-- short), the migration rebuilds again. It reads the whole events table once: on a large
-- warehouse, run spacepulse-migrate at a quiet hour. Any partition dropped from events (but kept
-- in space_second) would be lost from the rollup; spacepulse drops none.
--
-- {db} is replaced by the target database when the migration runs (see warehouse.Migrate).
DROP TABLE IF EXISTS {db}.space_second_mv
;
DROP TABLE IF EXISTS {db}.space_second
;
CREATE TABLE IF NOT EXISTS {db}.space_second
(
    space_id  String,
    second    DateTime('UTC'),
    class     Enum8('join' = 1, 'leave' = 2, 'join_error' = 3, 'join_error_business' = 4, 'session_error' = 5),
    event_ids AggregateFunction(uniqExact, UUID),
    rows      AggregateFunction(count)
)
ENGINE = AggregatingMergeTree()
PARTITION BY toYYYYMM(second)
ORDER BY (space_id, second, class)
SETTINGS index_granularity = 1024
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
    uniqExactState(event_id) AS event_ids,
    countState() AS rows
FROM {db}.events
GROUP BY space_id, second, class
;
INSERT INTO {db}.space_second (space_id, second, class, event_ids, rows)
SELECT
    space_id,
    ts AS second,
    CAST(multiIf(
        kind = 'join', 'join',
        kind = 'leave', 'leave',
        phase = 'join', if(code IN ({business_codes}), 'join_error_business', 'join_error'),
        'session_error'
    ) AS Enum8('join' = 1, 'leave' = 2, 'join_error' = 3, 'join_error_business' = 4, 'session_error' = 5)) AS class,
    uniqExactState(event_id) AS event_ids,
    countState() AS rows
FROM {db}.events
GROUP BY space_id, second, class
;
-- One row per sealing of a cell: its distinct events and the stored_rows it had then. A later
-- sealing has a larger stored_rows (the ReplacingMergeTree version, so merges keep the latest);
-- queries take argMax(events, stored_rows) and never rely on merges.
CREATE TABLE IF NOT EXISTS {db}.space_second_sealed
(
    space_id    String,
    second      DateTime('UTC'),
    class       Enum8('join' = 1, 'leave' = 2, 'join_error' = 3, 'join_error_business' = 4, 'session_error' = 5),
    stored_rows UInt64,
    events      UInt64
)
ENGINE = ReplacingMergeTree(stored_rows)
PARTITION BY toYYYYMM(second)
ORDER BY (space_id, second, class)
