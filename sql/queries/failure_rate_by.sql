-- failure_rate_by: the per-attempt technical join-failure rate of one space per bucket of @step
-- seconds (a multiple of 60) and per value of one dimension, from the space_minute_counts rollup.
-- The time series form of failures_by.sql.
--
-- Minute resolution: every minute overlapping [@from, @to] counts whole, as in failures_by.sql.
--   attempts            joins + join-phase errors with this value
--   technical_failures  join-phase errors with a technical code
--   business_failures   join-phase errors with a business code (space_ended, auth, geo_blocked)
--   rate                technical_failures / attempts, NULL when attempts < @min_attempts
-- Sparse: a (bucket, value) without attempts has no row.
--
-- Parameters:
--   @space         String    the space id
--   @from          DateTime  first second of the window (its minute counts whole)
--   @to            DateTime  last second of the window (its minute counts whole)
--   @step          UInt32    bucket length in seconds, a multiple of 60
--   @dimension     String    one of: code, client, app_version, region, country
--   @min_attempts  UInt32    fewest attempts a bucket needs for a rate (25)
-- Returns, ordered by bucket then value: bucket DateTime('UTC'), value String, attempts Int64,
-- technical_failures Int64, business_failures Int64, rate Nullable(Float64).
SELECT
    bucket,
    value,
    bucket_attempts AS attempts,
    bucket_technical AS technical_failures,
    bucket_business AS business_failures,
    if(bucket_attempts >= @min_attempts, bucket_technical / bucket_attempts, NULL) AS rate
FROM
(
    SELECT
        toDateTime(intDiv(toUInt32(minute), @step) * @step, 'UTC') AS bucket,
        value,
        toInt64(sum(events)) AS bucket_attempts,
        toInt64(sumIf(events, kind = 'error' AND technical = 1)) AS bucket_technical,
        toInt64(sumIf(events, kind = 'error' AND technical = 0)) AS bucket_business
    FROM
    (
        SELECT
            minute,
            multiIf(
                @dimension = 'code', code,
                @dimension = 'client', client,
                @dimension = 'app_version', app_version,
                @dimension = 'region', region,
                @dimension = 'country', country,
                '') AS value,
            kind,
            technical,
            events
        FROM space_minute_counts
        WHERE space_id = @space AND minute >= toStartOfMinute(@from) AND minute <= @to
          AND (kind = 'join' OR (kind = 'error' AND phase = 'join'))
    )
    GROUP BY bucket, value
)
ORDER BY bucket, value
