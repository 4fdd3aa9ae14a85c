-- activity: events of one space per bucket of @step seconds, by class, each event once: the
-- join and leave rates of a dashboard.
--
--   joins, leaves           kind join / leave
--   technical_failures      join-phase errors with a technical code
--   business_failures       join-phase errors with a business code (space_ended, auth, geo_blocked)
--   session_errors          errors during a session
-- Buckets start at multiples of @step seconds since the epoch and are clipped to the window, as in
-- failure_rate.sql. Sparse: a bucket without events has no row. Reads the space_second_counts rollup.
--
-- Parameters:
--   @space  String    the space id
--   @from   DateTime  first second of the window (inclusive)
--   @to     DateTime  last second of the window (inclusive)
--   @step   UInt32    bucket length in seconds (>= 1)
-- Returns, one row per bucket with events, in order: bucket DateTime('UTC'), joins Int64,
-- leaves Int64, technical_failures Int64, business_failures Int64, session_errors Int64.
SELECT
    toDateTime(intDiv(toUInt32(second), @step) * @step, 'UTC') AS bucket,
    toInt64(sumIf(events, class = 'join')) AS joins,
    toInt64(sumIf(events, class = 'leave')) AS leaves,
    toInt64(sumIf(events, class = 'join_error')) AS technical_failures,
    toInt64(sumIf(events, class = 'join_error_business')) AS business_failures,
    toInt64(sumIf(events, class = 'session_error')) AS session_errors
FROM space_second_counts
WHERE space_id = @space AND second >= @from AND second <= @to
GROUP BY bucket
ORDER BY bucket
