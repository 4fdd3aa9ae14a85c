-- concurrency_buckets: concurrent listeners CCL(t) in one space over [@from, @to], reduced to
-- buckets of @step seconds: the peak (max of CCL over the bucket's seconds) and the last value
-- (CCL at the bucket's last second inside the window). For panels whose interval is wider than a
-- second; with @step = 1 it is concurrency.sql.
--
-- The curve is concurrency.sql's (joins - leaves with ts <= t, each event_id once, starting from
-- the count before @from, an empty second carrying the last value forward); this file only adds
-- the outer GROUP BY. Buckets start at multiples of @step seconds since the epoch and are clipped
-- to the window: the first and last bucket only see the seconds inside [@from, @to]. Dense: every
-- bucket of the window is returned.
--
-- Parameters:
--   @space  String    the space id
--   @from   DateTime  first second of the window (inclusive)
--   @to     DateTime  last second of the window (inclusive, @to >= @from)
--   @step   UInt32    bucket length in seconds (>= 1)
-- Returns, one row per bucket in order: bucket DateTime('UTC'), peak Int64, last Int64.
SELECT
    toDateTime(intDiv(toUInt32(second), @step) * @step, 'UTC') AS bucket,
    max(listeners) AS peak,
    argMax(listeners, second) AS last
FROM
(
    SELECT
        @from + (offset - 1) AS second,
        baseline + running_delta AS listeners
    FROM
    (
        SELECT
            -- CCL just before the window: every join and leave up to @from - 1.
            sumIf(delta, second_of_cell < @from) AS baseline,
            arrayCumSum(arrayResize(
                groupArrayInsertAtIf(delta, toUInt32(toUInt32(second_of_cell) - toUInt32(@from)), second_of_cell >= @from),
                toUInt32(@to) - toUInt32(@from) + 1
            )) AS running
        FROM
        (
            SELECT
                second AS second_of_cell,
                toInt64(sumIf(cell_events, class = 'join')) - toInt64(sumIf(cell_events, class = 'leave')) AS delta
            FROM
            (
                {cells: lo = toDateTime(0, 'UTC'); hi = @to; classes = 'join', 'leave'}
            )
            GROUP BY second
        )
    )
    ARRAY JOIN
        running AS running_delta,
        arrayEnumerate(running) AS offset
)
GROUP BY bucket
ORDER BY bucket
