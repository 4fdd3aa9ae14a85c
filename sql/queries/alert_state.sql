-- alert_state: a paging rule on one room, minute by minute, judged only on minutes the consumers
-- have finished. The rule's figure comes from its input, one of the alert_input_*.sql files
-- (the line {{input}} below stands for it: package warehouse and sql/tests make one query per
-- input, alert_state_<input>), each minute of the window:
--   value     the rule's figure (Nullable(Float64)), a Int64 and b Int64 two counts behind it
--   measured  1 when the minute has enough to judge (attempts, listeners), else "no data"
--   bad       1 when a measured minute breaks the rule
-- and this file is the rule itself, the same for every page. A minute is
--   incomplete  its end + @lateness is after @watermark (ingest_watermark.sql: its events may
--               still be in Kafka) or after @to: not judged yet; only the last minutes can be
--   no_data     complete, not measured
--   bad         complete, bad
--   good        complete, otherwise
-- The alert fires at the end of the @for-th bad minute in a row,
-- a no_data minute breaks a run that has not fired but keeps a firing alert firing, and only a
-- good minute clears it. An incomplete minute changes nothing: it carries the state before it.
-- The window should start before the room does (the alert is not firing at its start).
--
-- Parameters: the input's (@space @from @to and its own: see each file; @from a whole minute), and
--   @watermark  DateTime  ingest watermark (a far future one when every minute is complete)
--   @lateness   UInt32    seconds after a minute's end that its late events may still arrive
--   @for        UInt32    consecutive bad minutes that fire
-- Returns one row per minute in order: bucket DateTime('UTC'), value Nullable(Float64), a Int64,
-- b Int64, complete UInt8, state String, firing UInt8.
SELECT
    tupleElement(m, 1) AS bucket,
    tupleElement(m, 2) AS value,
    tupleElement(m, 3) AS a,
    tupleElement(m, 4) AS b,
    toUInt8(st != 3) AS complete,
    ['no_data', 'bad', 'good', 'incomplete'][st + 1] AS state,
    toUInt8(f > 0) AS firing
FROM
(
    SELECT
        arraySort(groupArray((bucket, value, a, b, measured, bad))) AS minutes,
        -- 0 no_data, 1 bad, 2 good, 3 incomplete
        arrayMap(m -> multiIf(
            tupleElement(m, 1) + 60 + @lateness > @watermark OR tupleElement(m, 1) + 60 > @to + 1, 3,
            tupleElement(m, 5) = 0, 0,
            tupleElement(m, 6) = 1, 1,
            2), minutes) AS states,
        -- bad minutes in a row ending at each minute: a sum that any other minute resets to 0
        arrayCumSumNonNegative(arrayMap(s -> toInt64(if(s = 1, 1, -1000000000)), states)) AS run,
        -- firing: +1 where a run reaches @for, reset by a good minute, carried by the others
        arrayCumSumNonNegative(arrayMap((s, r) -> toInt64(multiIf(s = 1 AND r >= @for, 1, s = 2, -1000000000, 0)),
                                        states, run)) AS fired
    FROM
    (
{{input}}
    )
)
ARRAY JOIN minutes AS m, states AS st, fired AS f
ORDER BY bucket
