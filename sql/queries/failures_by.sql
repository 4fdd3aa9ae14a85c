-- failures_by: join attempts and failures of one space broken down by one dimension, from the
-- space_minute_counts rollup.
--
-- Minute resolution: every minute that overlaps [@from, @to] counts whole (the window widens to
-- whole UTC minutes), unlike summary.sql and failure_rate.sql, which count to the second.
--
--   value               the dimension's value ('' when absent)
--   attempts            joins + join-phase errors with this value (for @dimension = 'code' a
--                       code's attempts are its own errors; joins have code '')
--   joins               successful joins
--   technical_failures  join-phase errors with a technical code
--   business_failures   join-phase errors with a business code (space_ended, auth, geo_blocked)
--   session_errors      errors during a session (phase session)
--   failure_rate        technical_failures / attempts, NULL when attempts < @min_attempts
--
-- Parameters:
--   @space         String    the space id
--   @from          DateTime  first second of the window (its minute counts whole)
--   @to            DateTime  last second of the window (its minute counts whole)
--   @dimension     String    one of: code, client, app_version, region, country
--   @min_attempts  UInt32    fewest attempts for a failure rate (25)
-- Returns one row per value, most technical failures first: the columns above.
SELECT
    value,
    attempts,
    joins,
    technical_failures,
    business_failures,
    session_errors,
    if(attempts >= @min_attempts, technical_failures / attempts, NULL) AS failure_rate
FROM
(
    SELECT
        value,
        toInt64(sumIf(events, kind = 'join' OR (kind = 'error' AND phase = 'join'))) AS attempts,
        toInt64(sumIf(events, kind = 'join')) AS joins,
        toInt64(sumIf(events, kind = 'error' AND phase = 'join' AND technical = 1)) AS technical_failures,
        toInt64(sumIf(events, kind = 'error' AND phase = 'join' AND technical = 0)) AS business_failures,
        toInt64(sumIf(events, kind = 'error' AND phase != 'join')) AS session_errors
    FROM
    (
        SELECT
            multiIf(
                @dimension = 'code', code,
                @dimension = 'client', client,
                @dimension = 'app_version', app_version,
                @dimension = 'region', region,
                @dimension = 'country', country,
                '') AS value,
            kind,
            phase,
            technical,
            events
        FROM space_minute_counts
        WHERE space_id = @space AND minute >= toStartOfMinute(@from) AND minute <= @to
    )
    GROUP BY value
)
ORDER BY technical_failures DESC, attempts DESC, value
