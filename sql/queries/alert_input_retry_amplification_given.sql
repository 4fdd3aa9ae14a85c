-- alert_input_retry_amplification_given: alert_input_retry_amplification.sql's minutes, with the
-- attempts and users attempting of each minute given by the caller instead of read from events:
-- they are user_failure_rate.sql's (at @step 60, over the same window), which the Grafana plugin
-- keeps per minute in its cache (warehouse.RetryStateGiven). The value is that file's
-- retry_amplification, attempts / users_attempting of two Int64, and the rest is
-- alert_input_retry_amplification.sql's, line for line; sql/tests checks that both give the same
-- rows. Dense: a minute without attempts is a row, not measured.
--
-- Parameters: @from (a whole minute) @to @min_attempts @threshold, and one element per minute with
-- attempts (sparse, any order, each minute once):
--   @minutes   Array(UInt32)  the minute, as minutes after @from
--   @attempts  Array(Int64)   its attempts (user_failure_rate.sql's attempts)
--   @users     Array(Int64)   its users attempting (user_failure_rate.sql's users_attempting)
SELECT
    bucket,
    if(attempts > 0, retry_amplification, NULL) AS value,
    attempts AS a,
    users_attempting AS b,
    toUInt8(attempts >= @min_attempts) AS measured,
    toUInt8(attempts > 0 AND retry_amplification > @threshold) AS bad
FROM
(
    SELECT toDateTime((intDiv(toUInt32(@from), 60) + k) * 60, 'UTC') AS bucket
    FROM (SELECT arrayJoin(range(toUInt32(intDiv(toUInt32(@to), 60) - intDiv(toUInt32(@from), 60) + 1))) AS k)
) AS minutes
ANY LEFT JOIN
(
    SELECT
        toDateTime((intDiv(toUInt32(@from), 60) + tupleElement(m, 1)) * 60, 'UTC') AS bucket,
        tupleElement(m, 2) AS attempts,
        tupleElement(m, 3) AS users_attempting,
        attempts / users_attempting AS retry_amplification
    FROM
    (
        SELECT arrayJoin(arrayMap((k, n, u) -> (k, n, u),
            CAST(@minutes AS Array(UInt32)), CAST(@attempts AS Array(Int64)), CAST(@users AS Array(Int64)))) AS m
    )
) AS given USING bucket
