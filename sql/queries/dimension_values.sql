-- dimension_values: the values one dimension took in a window, most events first, for dashboard
-- variables and pickers; from the space_minute_counts rollup (minute resolution: every minute
-- overlapping [@from, @to] counts whole).
--
-- Parameters:
--   @space      String    the space id, or '' for every space
--   @from       DateTime  first second of the window
--   @to         DateTime  last second of the window
--   @dimension  String    one of: code, client, app_version, region, country
--   @limit      UInt32    most values returned
-- Returns, most events first then by value: value String, events UInt64.
SELECT
    value,
    toUInt64(sum(events)) AS events
FROM
(
    SELECT
        multiIf(
            @dimension = 'code', code,
            @dimension = 'client', client,
            @dimension = 'app_version', app_version,
            @dimension = 'region', region,
            @dimension = 'country', country,
            '') AS value,
        events
    FROM space_minute_counts
    WHERE (@space = '' OR space_id = @space) AND minute >= toStartOfMinute(@from) AND minute <= @to
)
WHERE value != ''
GROUP BY value
ORDER BY events DESC, value
LIMIT @limit
