-- errors_by_code: join-phase errors of one space per bucket of @step seconds (a multiple of 60)
-- and code, from the space_minute_counts rollup.
--
-- Minute resolution: every minute overlapping [@from, @to] counts whole, as in failures_by.sql.
--   technical  1 for a technical code, 0 for a business code (space_ended, auth, geo_blocked)
--   errors     join-phase errors with this code in the bucket
-- With @technical_only = 1 business codes are left out. Sparse: only (bucket, code) with errors.
--
-- Parameters:
--   @space           String    the space id
--   @from            DateTime  first second of the window (its minute counts whole)
--   @to              DateTime  last second of the window (its minute counts whole)
--   @step            UInt32    bucket length in seconds, a multiple of 60
--   @technical_only  UInt8     1: technical codes only; 0: all codes
-- Returns, ordered by bucket then code: bucket DateTime('UTC'), code String, technical UInt8,
-- errors Int64.
SELECT
    toDateTime(intDiv(toUInt32(minute), @step) * @step, 'UTC') AS bucket,
    code,
    technical,
    toInt64(sum(events)) AS errors
FROM space_minute_counts
WHERE space_id = @space AND minute >= toStartOfMinute(@from) AND minute <= @to
  AND kind = 'error' AND phase = 'join' AND (@technical_only = 0 OR technical = 1)
GROUP BY bucket, code, technical
ORDER BY bucket, code
