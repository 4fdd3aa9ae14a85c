-- concurrency: concurrent listeners CCL(t) in one space, for every second t of [@from, @to].
--
-- CCL(t) = joins - leaves with ts <= t, each event counted once. The curve starts from the
-- count before @from (sessions opened earlier still count) and is dense: a second without events
-- carries the last value forward. Reads the space_second_counts rollup only, in O(events + seconds):
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
ARRAY JOIN
    running AS running_delta,
    arrayEnumerate(running) AS offset
ORDER BY second
