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
-- One set of users per bucket: users_failed = users attempting minus users who joined, since a join
-- is an attempt. (Until 2026-12-07 a window of fewer than 30 buckets took one row per (bucket, user)
-- instead, which was faster with string sets; with hashed users the sets are faster at every
-- bucket count. On the demo's night (6.27M attempts by 3.5M users, clickhouse-client, 18.16, three
-- runs each, with other load on the machine): the night as one bucket 1.6-2.5 s against 7.1-7.2 s,
-- 18-minute buckets 2.8-3.4 s against 4.4-6.7 s, 5-minute buckets 1.1-1.4 s against 4.6-6.6 s.)
--
-- Users are told apart by cityHash64(user_id), not by the string (whose sets ClickHouse keys by
-- its 128-bit SipHash): on the demo's night (6.27M attempts by 3.5M users) the minute sets take
-- 0.33-0.39 s instead of 0.53-0.60 s, and the night as one bucket 0.58-0.63 s instead of
-- 0.93-1.0 s. Two users of one bucket share a hash with probability about n^2 / 2^65 for n
-- users (3e-7 for the 3.5M of that night, 3e-6 for 10M): then they count as one.
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
        toDateTime(intDiv(toUInt32(ts), @step) * @step, 'UTC') AS bucket,
        toInt64(uniqExact(cityHash64(user_id))) AS n_users,
        toInt64(uniqExact(cityHash64(user_id))) - toInt64(uniqExactIf(cityHash64(user_id), kind = 'join')) AS n_failed,
        toInt64(count()) AS n_attempts
    FROM events
    WHERE space_id = @space AND ts >= @from AND ts <= @to
      AND (kind = 'join' OR (kind = 'error' AND phase = 'join'))
    GROUP BY bucket
)
ORDER BY bucket
