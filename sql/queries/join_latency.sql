-- join_latency: join latency percentiles (exact, ms) of one space per bucket of @step seconds,
-- optionally per value of one dimension. Joins without a latency (join_ms < 0) are left out, as
-- in summary.sql.
--
-- A percentile is the nearest-rank one: p95 is the ceil(0.95 * n)-th smallest of the bucket's n
-- latencies (quantilesExactWeighted; the scenarios' ground truth uses the same definition).
-- When @step is a multiple of 60, the whole minutes inside [@from, @to] are read from the
-- join-latency rollups (migration 0007: joins per minute and join_ms) and only the seconds of the
-- window's first and last partial minute from the raw events table; other steps read the raw
-- table. Both give the same figures: the rollups count each landed event once.
--
-- Buckets start at multiples of @step seconds since the epoch and are clipped to the window.
-- Sparse: a bucket without samples has no row.
--
-- Parameters:
--   @space      String    the space id
--   @from       DateTime  first second of the window (inclusive)
--   @to         DateTime  last second of the window (inclusive)
--   @step       UInt32    bucket length in seconds (>= 1)
--   @dimension  String    '' for one series, or one of: client, app_version, region, country
-- Returns, ordered by bucket then value: bucket DateTime('UTC'), value String, samples Int64,
-- p50 Float64, p95 Float64, p99 Float64.
SELECT
    bucket,
    value,
    toInt64(sum(weight)) AS samples,
    toFloat64(quantilesExactWeighted(0.5, 0.95, 0.99)(join_ms, toUInt64(weight))[1]) AS p50,
    toFloat64(quantilesExactWeighted(0.5, 0.95, 0.99)(join_ms, toUInt64(weight))[2]) AS p95,
    toFloat64(quantilesExactWeighted(0.5, 0.95, 0.99)(join_ms, toUInt64(weight))[3]) AS p99
FROM
(
    -- One row per (bucket, value, join_ms) with its joins: a rollup cell can be split over
    -- unmerged rows, corrections included, so they are summed before the percentiles.
    SELECT bucket, value, join_ms, sum(joins) AS weight
    FROM
    (
        SELECT toDateTime(intDiv(toUInt32(minute), @step) * @step, 'UTC') AS bucket, '' AS value, join_ms, joins
        FROM join_latency_minute_counts
        WHERE @step % 60 = 0 AND @dimension = '' AND space_id = @space
          AND minute >= toStartOfMinute(@from + 59) AND minute < toStartOfMinute(@to + 1)
        UNION ALL
        SELECT toDateTime(intDiv(toUInt32(minute), @step) * @step, 'UTC') AS bucket, value, join_ms, joins
        FROM join_latency_minute_dimension_counts
        WHERE @step % 60 = 0 AND space_id = @space AND dimension = @dimension
          AND minute >= toStartOfMinute(@from + 59) AND minute < toStartOfMinute(@to + 1)
        UNION ALL
        SELECT
            toDateTime(intDiv(toUInt32(ts), @step) * @step, 'UTC') AS bucket,
            multiIf(
                @dimension = 'client', client,
                @dimension = 'app_version', app_version,
                @dimension = 'region', region,
                @dimension = 'country', country,
                '') AS value,
            join_ms,
            toInt64(1) AS joins
        FROM events
        WHERE space_id = @space AND ts >= @from AND ts <= @to AND kind = 'join' AND join_ms >= 0
          AND (@step % 60 != 0 OR ts < toStartOfMinute(@from + 59) OR ts >= toStartOfMinute(@to + 1))
    )
    GROUP BY bucket, value, join_ms
    HAVING weight > 0
)
GROUP BY bucket, value
ORDER BY bucket, value
