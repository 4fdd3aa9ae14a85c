-- join_latency: join latency percentiles (exact, ms) of one space per bucket of @step seconds,
-- optionally per value of one dimension, from the raw events table (which holds each event once).
-- Joins without a latency (join_ms < 0) are left out, as in summary.sql.
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
    toDateTime(intDiv(toUInt32(ts), @step) * @step, 'UTC') AS bucket,
    multiIf(
        @dimension = 'client', client,
        @dimension = 'app_version', app_version,
        @dimension = 'region', region,
        @dimension = 'country', country,
        '') AS value,
    toInt64(count()) AS samples,
    toFloat64(quantilesExact(0.5, 0.95, 0.99)(join_ms)[1]) AS p50,
    toFloat64(quantilesExact(0.5, 0.95, 0.99)(join_ms)[2]) AS p95,
    toFloat64(quantilesExact(0.5, 0.95, 0.99)(join_ms)[3]) AS p99
FROM events
WHERE space_id = @space AND ts >= @from AND ts <= @to AND kind = 'join' AND join_ms >= 0
GROUP BY bucket, value
ORDER BY bucket, value
