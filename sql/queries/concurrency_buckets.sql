-- concurrency_buckets: concurrent listeners CCL(t) in one space over [@from, @to], reduced to
-- buckets of @step seconds: the peak (max of CCL over the bucket's seconds) and the last value
-- (CCL at the bucket's last second inside the window). For dashboard panels; with @step = 1 it is
-- concurrency.sql's curve.
--
-- The curve is concurrency.sql's (joins - leaves with ts <= t, each event once, starting from
-- the count before @from, an empty second carrying the last value forward). Buckets start at
-- multiples of @step seconds since the epoch and are clipped to the window: the first and last
-- bucket only see the seconds inside [@from, @to]. Dense: every bucket of the window.
--
-- The curve is one aggregation over the cells, and the bucketing happens in the same SELECT as
-- its ARRAY JOIN.
--
-- Parameters:
--   @space  String    the space id
--   @from   DateTime  first second of the window (inclusive)
--   @to     DateTime  last second of the window (inclusive, @to >= @from)
--   @step   UInt32    bucket length in seconds (>= 1)
-- Returns, one row per bucket in order: bucket DateTime('UTC'), peak Int64, last Int64.
SELECT
    toDateTime(intDiv(toUInt32(@from) + offset - 1, @step) * @step, 'UTC') AS bucket,
    max(baseline + running_delta) AS peak,
    argMax(baseline + running_delta, offset) AS last
FROM
(
    SELECT
        -- CCL just before the window: every join and leave up to @from - 1.
        toInt64(sumIf(cell_events, class = 'join' AND second < @from)) - toInt64(sumIf(cell_events, class = 'leave' AND second < @from)) AS baseline,
        -- per-second joins and leaves of the window, dense, then their running difference
        toUInt32(@to) - toUInt32(@from) + 1 AS seconds,
        arrayCumSum(arrayMap((j, l) -> toInt64(j) - toInt64(l),
            arrayResize(groupArrayInsertAtIf(cell_events, toUInt32(toUInt32(second) - toUInt32(@from)), class = 'join' AND second >= @from), seconds),
            arrayResize(groupArrayInsertAtIf(cell_events, toUInt32(toUInt32(second) - toUInt32(@from)), class = 'leave' AND second >= @from), seconds)
        )) AS running
    FROM
    (
        -- one row per (second, class): groupArrayInsertAt keeps one value per position
        SELECT second, class, sum(events) AS cell_events
        FROM space_second_counts
        WHERE space_id = @space AND second <= @to AND class IN ('join', 'leave')
        GROUP BY second, class
    )
)
ARRAY JOIN
    running AS running_delta,
    arrayEnumerate(running) AS offset
GROUP BY bucket
ORDER BY bucket
