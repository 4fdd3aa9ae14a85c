-- user_failure_rate: the per-user join-failure rate of one space per bucket of @step seconds,
-- from the raw events table (user ids are not rolled up). The one definition of the per-user
-- rate: the report's summary, the rooms table and the per-user panel read it.
--
--   users_attempting  distinct user_id with >= 1 join attempt (join or join-phase error) in the bucket
--   users_failed      ... of whom none joined successfully in the bucket, whatever the error
--                     (sql/README.md's definition: a user turned away by space_ended after the room
--                     ended did not get in either; only the per-attempt rate, which pages, leaves
--                     business errors out)
--   attempts          join attempts in the bucket
--   rate              users_failed / users_attempting, NULL ("not enough data") when
--                     attempts < @min_attempts, the same floor as the per-attempt rate
--   retry_amplification  attempts / users_attempting (the bucket has attempts, so users)
-- Buckets start at multiples of @step seconds since the epoch and are clipped to the window; a
-- @step larger than @to's epoch seconds (4294967295) makes the whole window one bucket (labelled
-- 1970-01-01 00:00:00). Sparse: a bucket without attempts has no row.
--
-- Parameters:
--   @space         String    the space id
--   @from          DateTime  first second of the window (inclusive)
--   @to            DateTime  last second of the window (inclusive)
--   @step          UInt32    bucket length in seconds (>= 1)
--   @min_attempts  UInt32    fewest attempts a bucket needs for a rate (25)
-- Returns, one row per bucket with attempts, in order: bucket DateTime('UTC'),
-- users_attempting Int64, users_failed Int64, attempts Int64, rate Nullable(Float64),
-- retry_amplification Float64.
SELECT
    bucket,
    n_users AS users_attempting,
    n_failed AS users_failed,
    n_attempts AS attempts,
    if(n_attempts >= @min_attempts, n_failed / n_users, NULL) AS rate,
    n_attempts / n_users AS retry_amplification
FROM
(
    SELECT
        bucket,
        toInt64(count()) AS n_users,
        toInt64(countIf(joined = 0)) AS n_failed,
        toInt64(sum(user_attempts)) AS n_attempts
    FROM
    (
        SELECT
            toDateTime(intDiv(toUInt32(ts), @step) * @step, 'UTC') AS bucket,
            user_id,
            max(kind = 'join') AS joined,
            count() AS user_attempts
        FROM events
        WHERE space_id = @space AND ts >= @from AND ts <= @to
          AND (kind = 'join' OR (kind = 'error' AND phase = 'join'))
        GROUP BY bucket, user_id
    )
    GROUP BY bucket
)
ORDER BY bucket
