-- alert_input_join_failure_rate: the join-failure page's minutes for alert_state.sql: value is
-- the per-attempt technical join-failure rate of failure_rate.sql (a: attempts, b: technical
-- failures), measured with >= @min_attempts attempts, bad over @threshold (0.05).
-- Parameters: @space @from @to @step (60) @min_attempts, @threshold Float64.
SELECT
    bucket,
    rate AS value,
    attempts AS a,
    technical_failures AS b,
    toUInt8(attempts >= @min_attempts) AS measured,
    toUInt8(ifNull(rate, 0) > @threshold) AS bad
FROM
(
{{query failure_rate}}
)
