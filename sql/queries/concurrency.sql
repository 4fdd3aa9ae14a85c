-- concurrency: concurrent listeners CCL(t) in one space, for every second t of [@from, @to].
--
-- CCL(t) = joins - leaves with ts <= t, each event_id counted once. The curve starts from the
-- count before @from (sessions opened earlier still count) and is dense: a second without events
-- carries the last value forward. Reads the space_second rollup only, in O(events + seconds):
-- per-second deltas are scattered into a dense array (groupArrayInsertAt + arrayResize), summed
-- with arrayCumSum and unrolled with ARRAY JOIN.
--
-- Parameters:
--   @space  String    the space id
--   @from   DateTime  first second of the window (inclusive)
--   @to     DateTime  last second of the window (inclusive, @to >= @from)
-- Returns, one row per second in order: second DateTime('UTC'), listeners Int64.
SELECT
    @from + (offset - 1) AS second,
    baseline + running_delta AS listeners
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
ARRAY JOIN
    running AS running_delta,
    arrayEnumerate(running) AS offset
ORDER BY second
