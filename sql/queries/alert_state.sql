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
-- The alert is firing after minute i when the last run of @for consecutive bad minutes up to i
-- ends after the last good minute up to i: it fires at the end of the @for-th bad minute in a row,
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
    tupleElement(minutes[i], 1) AS bucket,
    tupleElement(minutes[i], 2) AS value,
    tupleElement(minutes[i], 3) AS a,
    tupleElement(minutes[i], 4) AS b,
    toUInt8(states[i] != 3) AS complete,
    ['no_data', 'bad', 'good', 'incomplete'][states[i] + 1] AS state,
    toUInt8(last_run_end[i] > last_good[i]) AS firing
FROM
(
    SELECT
        arraySort(groupArray((bucket, value, a, b, measured, bad))) AS minutes,
        arrayMap(m -> multiIf(
            tupleElement(m, 1) + 60 + @lateness > @watermark OR tupleElement(m, 1) + 60 > @to + 1, 3,
            tupleElement(m, 5) = 0, 0,
            tupleElement(m, 6) = 1, 1,
            2), minutes) AS states,
        arrayEnumerate(states) AS idx,
        -- run[j]: bad minutes in a row ending at j (j minus the last minute <= j that is not bad)
        arrayFilter((j, s) -> s != 1, idx, states) AS not_bad_at,
        arrayCumSum(arrayMap(s -> toUInt32(s != 1), states)) AS not_bad_so_far,
        arrayMap(j -> j - not_bad_at[not_bad_so_far[j]], idx) AS run,
        -- the last minute <= j where a run reached @for, and the last good one (0: none)
        arrayFilter(j -> run[j] >= @for, idx) AS run_ends,
        arrayCumSum(arrayMap(j -> toUInt32(run[j] >= @for), idx)) AS run_ends_so_far,
        arrayMap(j -> run_ends[run_ends_so_far[j]], idx) AS last_run_end,
        arrayFilter((j, s) -> s = 2, idx, states) AS good_at,
        arrayCumSum(arrayMap(s -> toUInt32(s = 2), states)) AS good_so_far,
        arrayMap(j -> good_at[good_so_far[j]], idx) AS last_good
    FROM
    (
{{input}}
    )
)
ARRAY JOIN idx AS i
ORDER BY bucket
