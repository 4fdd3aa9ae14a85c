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
    -- the max over [i - 120, i] by doubling: m<k> is the max over [i - k + 1, i] (the first
    -- second repeated in front of the shifted array), and [i - 63, i] with [i - 120, i - 57] covers
    -- the window. O(seconds): one level a subquery, since a lambda capturing an array copies it for
    -- every element and an alias used twice is expanded twice.
    FROM
    (
        SELECT curve, arrayMap((x, y) -> greatest(x, y), m64, arraySlice(arrayConcat(arrayResize([m64[1]], 57, m64[1]), m64), 1, length(m64))) AS peaks
        FROM
        (
            SELECT curve, arrayMap((x, y) -> greatest(x, y), m32, arraySlice(arrayConcat(arrayResize([m32[1]], 32, m32[1]), m32), 1, length(m32))) AS m64
            FROM
            (
                SELECT curve, arrayMap((x, y) -> greatest(x, y), m16, arraySlice(arrayConcat(arrayResize([m16[1]], 16, m16[1]), m16), 1, length(m16))) AS m32
                FROM
                (
                    SELECT curve, arrayMap((x, y) -> greatest(x, y), m8, arraySlice(arrayConcat(arrayResize([m8[1]], 8, m8[1]), m8), 1, length(m8))) AS m16
                    FROM
                    (
                        SELECT curve, arrayMap((x, y) -> greatest(x, y), m4, arraySlice(arrayConcat(arrayResize([m4[1]], 4, m4[1]), m4), 1, length(m4))) AS m8
                        FROM
                        (
                            SELECT curve, arrayMap((x, y) -> greatest(x, y), m2, arraySlice(arrayConcat(arrayResize([m2[1]], 2, m2[1]), m2), 1, length(m2))) AS m4
                            FROM
                            (
                                SELECT curve, arrayMap((x, y) -> greatest(x, y), ccl, arraySlice(arrayConcat(arrayResize([ccl[1]], 1, ccl[1]), ccl), 1, length(ccl))) AS m2
                                FROM
                                (
                                    SELECT arraySort(groupArray((bucket, last))) AS curve, arrayMap(x -> tupleElement(x, 2), curve) AS ccl
                                    FROM
                                    (
                                    {{query concurrency}}
                                    )
                                )
                            )
                        )
                    )
                )
            )
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
