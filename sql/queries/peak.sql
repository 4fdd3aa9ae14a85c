-- peak: the peak of concurrent listeners CCL(t) in one space over [@from, @to], and when.
--
-- Same curve as concurrency.sql (joins - leaves with ts <= t, each event once, starting from
-- the count before @from, empty seconds carry the last value); the peak is its maximum and
-- peak_at the earliest second that reaches it.
--
-- Parameters:
--   @space  String    the space id
--   @from   DateTime  first second of the window (inclusive)
--   @to     DateTime  last second of the window (inclusive, @to >= @from)
-- Returns one row: peak_listeners Int64, peak_at DateTime('UTC').
SELECT
    baseline + arrayReduce('max', running) AS peak_listeners,
    @from + (indexOf(running, arrayReduce('max', running)) - 1) AS peak_at
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
            toInt64(sumIf(events, class = 'join')) - toInt64(sumIf(events, class = 'leave')) AS delta
        FROM space_second_counts
        WHERE space_id = @space AND second <= @to AND class IN ('join', 'leave')
        GROUP BY second
    )
)
