-- alert_state: the paging rule on one room, minute by minute: the page of sql/README.md (Metric
-- definitions), evaluated only on minutes the consumers have finished.
--
-- Each whole UTC minute of the window is, from failure_rate.sql's per-minute counts:
--   incomplete  its end + @lateness is after @watermark (ingest_watermark.sql: its events may
--               still be in Kafka) or after @to: not judged yet; only the last minutes can be
--   no_data     complete, fewer than @min_attempts attempts
--   bad         complete, technical_failures / attempts > @threshold
--   good        complete, otherwise
-- The alert is firing after minute i when the last run of @for consecutive bad minutes up to i
-- ends after the last good minute up to i: it fires at the end of the @for-th bad minute in a row,
-- a no_data minute breaks a run that has not fired but keeps a firing alert firing, and only a
-- good minute clears it. An incomplete minute changes nothing: it carries the state before it.
-- The window should start before the room does (the alert is not firing at its start).
--
-- Parameters: those of failure_rate.sql (@space @from @to @min_attempts; @step must be 60, and
-- @from a whole minute), and
--   @watermark  DateTime  ingest watermark (a far future one when every minute is complete)
--   @lateness   UInt32    seconds after a minute's end that its late events may still arrive
--   @threshold  Float64   failure rate a minute must exceed to be bad (0.05)
--   @for        UInt32    consecutive bad minutes that fire (2)
-- Returns one row per minute in order: bucket DateTime('UTC'), attempts Int64,
-- technical_failures Int64, rate Nullable(Float64), complete UInt8, state String, firing UInt8.
SELECT
    tupleElement(minutes[i], 1) AS bucket,
    tupleElement(minutes[i], 2) AS attempts,
    tupleElement(minutes[i], 3) AS technical_failures,
    tupleElement(minutes[i], 4) AS rate,
    toUInt8(states[i] != 3) AS complete,
    ['no_data', 'bad', 'good', 'incomplete'][states[i] + 1] AS state,
    toUInt8(last_run_end[i] > last_good[i]) AS firing
FROM
(
    SELECT
        arraySort(groupArray((bucket, attempts, technical_failures, rate))) AS minutes,
        arrayMap(m -> multiIf(
            tupleElement(m, 1) + 60 + @lateness > @watermark OR tupleElement(m, 1) + 60 > @to + 1, 3,
            isNull(tupleElement(m, 4)), 0,
            ifNull(tupleElement(m, 4), 0) > @threshold, 1,
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
{{query failure_rate}}
    )
)
ARRAY JOIN idx AS i
ORDER BY bucket
