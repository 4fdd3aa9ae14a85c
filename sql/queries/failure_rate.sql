-- failure_rate: the per-attempt join-failure rate of one space, in buckets of @step seconds.
--
-- attempts           = joins + join-phase errors (technical and business)
-- technical_failures = join-phase errors whose code is not business (space_ended, auth, geo_blocked)
-- business_failures  = join-phase errors with a business code (never paged)
-- rate               = technical_failures / attempts, NULL ("not enough data") when
--                      attempts < @min_attempts
-- Buckets start at multiples of @step seconds since the epoch (60: whole UTC minutes) and are
-- clipped to the window: the first and last bucket count only the seconds inside [@from, @to],
-- so the buckets add up to the window's totals. Dense: every bucket of the window is returned,
-- empty ones with zero attempts and rate NULL. Reads the space_second_counts rollup only.
--
-- Parameters:
--   @space         String    the space id
--   @from          DateTime  first second of the window (inclusive)
--   @to            DateTime  last second of the window (inclusive, @to >= @from)
--   @step          UInt32    bucket length in seconds (60 for per-minute)
--   @min_attempts  UInt32    fewest attempts a bucket needs for a rate (25)
-- Returns, one row per bucket in order: bucket DateTime('UTC'), attempts Int64,
-- technical_failures Int64, business_failures Int64, rate Nullable(Float64).
SELECT
    toDateTime((intDiv(toUInt32(@from), @step) + offset - 1) * @step, 'UTC') AS bucket,
    bucket_attempts AS attempts,
    bucket_technical AS technical_failures,
    bucket_business AS business_failures,
    if(bucket_attempts >= @min_attempts, bucket_technical / bucket_attempts, NULL) AS rate
FROM
(
    SELECT
        intDiv(toUInt32(@to), @step) - intDiv(toUInt32(@from), @step) + 1 AS buckets,
        arrayResize(groupArrayInsertAt(attempts_in_bucket, bucket_index), buckets) AS attempts_by_bucket,
        arrayResize(groupArrayInsertAt(technical_in_bucket, bucket_index), buckets) AS technical_by_bucket,
        arrayResize(groupArrayInsertAt(business_in_bucket, bucket_index), buckets) AS business_by_bucket
    FROM
    (
        SELECT
            toUInt32(intDiv(toUInt32(second), @step) - intDiv(toUInt32(@from), @step)) AS bucket_index,
            toInt64(sum(events)) AS attempts_in_bucket,
            toInt64(sumIf(events, class = 'join_error')) AS technical_in_bucket,
            toInt64(sumIf(events, class = 'join_error_business')) AS business_in_bucket
        FROM space_second_counts
        WHERE space_id = @space AND second >= @from AND second <= @to
          AND class IN ('join', 'join_error', 'join_error_business')
        GROUP BY bucket_index
    )
)
ARRAY JOIN
    attempts_by_bucket AS bucket_attempts,
    technical_by_bucket AS bucket_technical,
    business_by_bucket AS bucket_business,
    arrayEnumerate(attempts_by_bucket) AS offset
ORDER BY bucket
