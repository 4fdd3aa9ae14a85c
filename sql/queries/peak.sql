-- peak: the peak of concurrent listeners CCL(t) in one space over [@from, @to], and when.
--
-- Same curve as concurrency.sql (joins - leaves with ts <= t, each event_id once, starting from
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
        -- CCL just before the window: every join and leave up to @from - 1. assumeNotNull keeps
        -- the type Int64 on current ClickHouse, which makes scalar subqueries Nullable.
        assumeNotNull((
            SELECT toInt64(sumIf(cell_events, class = 'join')) - toInt64(sumIf(cell_events, class = 'leave'))
            FROM
            (
                SELECT class, uniqExactMerge(event_ids) AS cell_events
                FROM space_second
                WHERE space_id = @space AND second < @from AND class IN ('join', 'leave')
                GROUP BY second, class
            )
        )) AS baseline,
        arrayCumSum(arrayResize(
            groupArrayInsertAt(delta, toUInt32(toUInt32(second_in_window) - toUInt32(@from))),
            toUInt32(@to) - toUInt32(@from) + 1
        )) AS running
    FROM
    (
        SELECT
            second AS second_in_window,
            toInt64(sumIf(cell_events, class = 'join')) - toInt64(sumIf(cell_events, class = 'leave')) AS delta
        FROM
        (
            SELECT second, class, uniqExactMerge(event_ids) AS cell_events
            FROM space_second
            WHERE space_id = @space AND second >= @from AND second <= @to AND class IN ('join', 'leave')
            GROUP BY second, class
        )
        GROUP BY second
    )
)
