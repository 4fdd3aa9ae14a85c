-- concurrency: concurrent listeners CCL(t) in one space over [@from, @to], in buckets of @step
-- seconds. The one definition of the curve: the report, every panel and the live stream read it.
--
-- CCL(t) = joins - leaves with ts <= t, each event counted once. The curve starts from the count
-- before @from (sessions opened earlier still count) and a second without events carries the
-- last value forward (never zero-fill). Per bucket:
--   peak     the max of CCL over the bucket's seconds inside the window
--   peak_at  the earliest of those seconds that reaches peak
--   last     CCL at the bucket's last second inside the window
-- @step = 1 gives the curve itself (peak = last = CCL of the second). Buckets start at multiples
-- of @step seconds since the epoch and are clipped to the window: the first and last bucket only
-- see the seconds inside [@from, @to]. A @step larger than @to's epoch seconds (4294967295) makes
-- the whole window one bucket (labelled 1970-01-01 00:00:00): its peak and peak_at are the
-- window's. Dense: every bucket of the window.
--
-- Reads the space_second_counts rollup only, in O(cells + seconds): the per-second joins and
-- leaves are scattered into dense arrays (groupArrayInsertAt + arrayResize), their running
-- difference taken with arrayCumSum, unrolled with ARRAY JOIN and bucketed in the same SELECT.
--
-- Parameters:
--   @space  String    the space id
--   @from   DateTime  first second of the window (inclusive)
--   @to     DateTime  last second of the window (inclusive, @to >= @from)
--   @step   UInt32    bucket length in seconds (>= 1)
-- Returns, one row per bucket in order: bucket DateTime('UTC'), peak Int64,
-- peak_at DateTime('UTC'), last Int64.
SELECT
    toDateTime(intDiv(toUInt32(@from) + offset - 1, @step) * @step, 'UTC') AS bucket,
    max(baseline + running_delta) AS peak,
    -- the largest CCL, and of equal ones the earliest second
    toDateTime(toUInt32(@from) + argMax(offset, tuple(baseline + running_delta, -toInt64(offset))) - 1, 'UTC') AS peak_at,
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
