-- user_failure_rate: the per-user technical join-failure rate of one space per bucket of @step
-- seconds, from the raw events table (user ids are not rolled up).
--
--   users_attempting  distinct user_id with >= 1 join attempt (join or join-phase error) in the bucket
--   users_failed      ... of whom none joined in the bucket and at least one attempt failed with a
--                     technical code (a user turned away only by business errors, e.g.
--                     space_ended, is not a technical failure)
--   attempts          join attempts in the bucket
--   rate              users_failed / users_attempting, NULL ("not enough data") when
--                     attempts < @min_attempts, the same floor as the per-attempt rate
-- Buckets start at multiples of @step seconds since the epoch and are clipped to the window.
-- Sparse: a bucket without attempts has no row.
--
-- Parameters:
--   @space         String    the space id
--   @from          DateTime  first second of the window (inclusive)
--   @to            DateTime  last second of the window (inclusive)
--   @step          UInt32    bucket length in seconds (>= 1)
--   @min_attempts  UInt32    fewest attempts a bucket needs for a rate (25)
-- Returns, one row per bucket with attempts, in order: bucket DateTime('UTC'),
-- users_attempting Int64, users_failed Int64, attempts Int64, rate Nullable(Float64).
SELECT
    bucket,
    n_users AS users_attempting,
    n_failed AS users_failed,
    n_attempts AS attempts,
    if(n_attempts >= @min_attempts, n_failed / n_users, NULL) AS rate
FROM
(
    SELECT
        bucket,
        toInt64(count()) AS n_users,
        toInt64(countIf(joined = 0 AND failed_technical = 1)) AS n_failed,
        toInt64(sum(user_attempts)) AS n_attempts
    FROM
    (
        SELECT
            toDateTime(intDiv(toUInt32(ts), @step) * @step, 'UTC') AS bucket,
            user_id,
            max(kind = 'join') AS joined,
            max(kind = 'error' AND code NOT IN ('space_ended', 'auth', 'geo_blocked')) AS failed_technical,
            count() AS user_attempts
        FROM events
        WHERE space_id = @space AND ts >= @from AND ts <= @to
          AND (kind = 'join' OR (kind = 'error' AND phase = 'join'))
        GROUP BY bucket, user_id
    )
    GROUP BY bucket
)
ORDER BY bucket
