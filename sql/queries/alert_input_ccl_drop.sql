-- alert_input_ccl_drop: the crash page's minutes for alert_state.sql: concurrent listeners
-- falling more than @threshold (0.30) within 2 minutes without a room end (the DeSantis crash
-- loops). For each second t, fall(t) = 1 - CCL(t) / max CCL over [t - 120 s, t] (concurrency.sql,
-- per second); a minute's value is its largest fall (a: the 2-minute peak then, b: CCL then; of
-- equal falls the latest second),
-- measured when that peak is >= @min_listeners, bad when the fall is over @threshold and no
-- leave with reason `ended` (a room end: space_minute_counts) falls in the minute or the two
-- before it.
-- The curve is read from @from, and the minutes start 2 minutes later: pass @from 120 s before
-- the first minute to judge (warehouse.AlertState does).
-- Parameters: @space @from @to @step (1), @min_listeners UInt32, @threshold Float64.
SELECT
    minute AS bucket,
    max(fall) AS value,
    argMax(peak, (fall, second)) AS a,
    argMax(listeners, (fall, second)) AS b,
    toUInt8(max(peak) >= @min_listeners) AS measured,
    toUInt8(max(if(peak >= @min_listeners, fall, 0)) > @threshold AND any(ended) = 0) AS bad
FROM
(
    SELECT
        tupleElement(point, 1) AS second,
        toStartOfMinute(second) AS minute,
        tupleElement(point, 2) AS listeners,
        peak,
        if(peak > 0, 1 - listeners / peak, 0) AS fall
    FROM
    (
        SELECT
            arraySort(groupArray((bucket, last))) AS curve,
            arrayMap(x -> tupleElement(x, 2), curve) AS ccl,
            arrayMap(i -> arrayReduce('max', arraySlice(ccl, greatest(1, i - 120), i - greatest(1, i - 120) + 1)),
                     arrayEnumerate(ccl)) AS peaks
        FROM
        (
{{query concurrency}}
        )
    )
    ARRAY JOIN curve AS point, peaks AS peak
) AS per_second
ANY LEFT JOIN
(
    SELECT shifted AS minute, ended
    FROM
    (
        SELECT minute + delta AS shifted, toInt64(sum(events)) AS ended
        FROM space_minute_counts
        ARRAY JOIN [0, 60, 120] AS delta
        WHERE space_id = @space AND kind = 'leave' AND reason = 'ended'
          AND minute >= toStartOfMinute(@from) AND minute <= @to
        GROUP BY shifted
    )
) AS room_end USING minute
WHERE minute >= toStartOfMinute(@from) + 120
GROUP BY minute
ORDER BY minute
