-- join_latency: join latency percentiles (exact, ms) of one space per bucket of @step seconds,
-- optionally per value of one dimension. Joins without a latency (join_ms < 0) are left out, as
-- in summary.sql.
--
-- A percentile is the nearest-rank one: p95 is the ceil(0.95 * n)-th smallest of the bucket's n
-- latencies (quantilesExactWeighted; the scenarios' ground truth uses the same definition).
-- One series with @step a multiple of 60: the whole minutes inside [@from, @to] are read from
-- the join-latency rollup (migration 0007: joins per minute and join_ms) and only the seconds of
-- the window's first and last partial minute from the raw events table. Other steps, and a
-- series per value of @dimension (not rolled up: see 0007), read the raw table. Both give the
-- same figures: the rollup counts each landed event once.
--
-- The rollup rows go to quantilesExactWeighted as they are, unmerged cells and a reconciler's
-- corrections (negative joins) included: it sums a value's weights as UInt64, so toUInt64 of a
-- negative correction wraps and the sum comes out right (it is never negative). A value whose
-- weights cancel keeps weight 0, which no rank can land on. (Summing the cells in a GROUP BY
-- first costs more than the percentiles: 157 ms of 250 over 360k cells here.)
-- The bounds are if() of parameters only, so ClickHouse folds them before it chooses the index
-- ranges: a condition like "@step % 60 != 0 OR ts < …" would read the whole window.
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
    toInt64(sum(joins)) AS samples,
    toFloat64(quantilesExactWeighted(0.5, 0.95, 0.99)(join_ms, toUInt64(joins))[1]) AS p50,
    toFloat64(quantilesExactWeighted(0.5, 0.95, 0.99)(join_ms, toUInt64(joins))[2]) AS p95,
    toFloat64(quantilesExactWeighted(0.5, 0.95, 0.99)(join_ms, toUInt64(joins))[3]) AS p99
FROM
(
    -- the whole minutes of the window (one series, @step a multiple of 60), else none
    SELECT toDateTime(intDiv(toUInt32(minute), @step) * @step, 'UTC') AS bucket, '' AS value, join_ms, joins
    FROM join_latency_minute_counts
    WHERE space_id = @space AND minute >= toStartOfMinute(@from + 59)
      AND minute < if(@step % 60 = 0 AND @dimension = '', toStartOfMinute(@to + 1), toDateTime(0, 'UTC'))
    UNION ALL
    -- the rest of the window from the raw table: its partial first and last minute, or all of it
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
      AND (ts < if(@step % 60 = 0 AND @dimension = '', toStartOfMinute(@from + 59), @to + 1)
           OR ts >= toStartOfMinute(@to + 1))
)
GROUP BY bucket, value
HAVING samples > 0
ORDER BY bucket, value
