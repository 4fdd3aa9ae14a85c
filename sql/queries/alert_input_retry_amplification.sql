-- alert_input_retry_amplification: the retry page's minutes for alert_state.sql: value is
-- user_failure_rate.sql's retry amplification (join attempts / users attempting; a: attempts,
-- b: users attempting), measured with >= @min_attempts attempts, bad over @threshold (2). Dense:
-- a minute without attempts is a row, not measured.
-- Parameters: @space @from @to @step (60) @min_attempts, @threshold Float64.
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
{{query user_failure_rate}}
) AS amplification USING bucket
