-- summary: one row of figures for a space over the window [@from, @to], each event counted once.
-- The per-user figures (users attempting and failed, unique listeners, the per-user failure rate,
-- retry amplification) are user_failure_rate.sql's over the window as one bucket, the peak is
-- concurrency.sql's, and the listening time and mid-session drops are listening.sql's, which
-- reads every session of the room up to @to: warehouse.Summary reads the four, the rooms table
-- (warehouse.RoomSummary) all but listening.sql.
--
-- From the space_second_counts rollup:
--   joins, leaves, join_attempts (= joins + join-phase errors), join_failures (technical
--   join-phase errors), business_join_failures (space_ended, auth, geo_blocked), session_errors,
--   listeners_before (CCL at @from - 1) and listeners_after (CCL at @to).
-- From the join-latency rollup (whole minutes) and the raw events table (the rest):
--   join_latency_samples, join_latency_p50/p95/p99
--                           nearest-rank percentiles of join_ms over joins in the window
--                           (join_ms >= 0), as join_latency.sql's
-- Ratio (NULL when undefined):
--   join_failure_rate           join_failures / join_attempts, NULL when attempts < @min_attempts
--
-- Parameters:
--   @space         String    the space id
--   @from          DateTime  first second of the window (inclusive)
--   @to            DateTime  last second of the window (inclusive, @to >= @from)
--   @min_attempts  UInt32    fewest attempts for a per-attempt failure rate (25)
-- Returns one row (the columns above).
WITH
    -- assumeNotNull: current ClickHouse makes scalar subqueries Nullable; each returns one row.
    -- One pass over the cells up to @to: the window's counts and the CCL before it.
    assumeNotNull((
        SELECT tuple(
            toInt64(sumIf(events, class = 'join' AND second >= @from)),
            toInt64(sumIf(events, class = 'leave' AND second >= @from)),
            toInt64(sumIf(events, class = 'join_error' AND second >= @from)),
            toInt64(sumIf(events, class = 'join_error_business' AND second >= @from)),
            toInt64(sumIf(events, class = 'session_error' AND second >= @from)),
            toInt64(sumIf(events, class = 'join' AND second < @from)) - toInt64(sumIf(events, class = 'leave' AND second < @from)))
        FROM space_second_counts
        WHERE space_id = @space AND second <= @to
    )) AS cell_counts,
    -- The latency percentiles as join_latency.sql's over the window as one bucket: whole minutes
    -- from the join-latency rollup, the partial first and last minute from the raw table.
    -- (Unsummed cells and corrections go to quantilesExactWeighted as they are: see there.)
    assumeNotNull((
        SELECT tuple(toInt64(sum(joins)), quantilesExactWeighted(0.5, 0.95, 0.99)(join_ms, toUInt64(joins)))
        FROM
        (
            SELECT join_ms, joins
            FROM join_latency_minute_counts
            WHERE space_id = @space AND minute >= toStartOfMinute(@from + 59) AND minute < toStartOfMinute(@to + 1)
            UNION ALL
            SELECT join_ms, toInt64(1) AS joins
            FROM events
            WHERE space_id = @space AND ts >= @from AND ts <= @to AND kind = 'join' AND join_ms >= 0
              AND (ts < toStartOfMinute(@from + 59) OR ts >= toStartOfMinute(@to + 1))
        )
    )) AS latency
SELECT
    tupleElement(cell_counts, 1) AS joins,
    tupleElement(cell_counts, 2) AS leaves,
    tupleElement(cell_counts, 1) + tupleElement(cell_counts, 3) + tupleElement(cell_counts, 4) AS join_attempts,
    tupleElement(cell_counts, 3) AS join_failures,
    tupleElement(cell_counts, 4) AS business_join_failures,
    tupleElement(cell_counts, 5) AS session_errors,
    tupleElement(cell_counts, 6) AS listeners_before,
    tupleElement(cell_counts, 6) + tupleElement(cell_counts, 1) - tupleElement(cell_counts, 2) AS listeners_after,
    tupleElement(latency, 1) AS join_latency_samples,
    tupleElement(latency, 2)[1] AS join_latency_p50,
    tupleElement(latency, 2)[2] AS join_latency_p95,
    tupleElement(latency, 2)[3] AS join_latency_p99,
    if(join_attempts >= @min_attempts, join_failures / join_attempts, NULL) AS join_failure_rate
