-- dimension_values: the values one dimension took in a window, most events first, for dashboard
-- variables and pickers; from the space_minute rollup (minute resolution: every minute
-- overlapping [@from, @to] counts whole).
--
-- Parameters:
--   @space      String    the space id, or '' for every space
--   @from       DateTime  first second of the window
--   @to         DateTime  last second of the window
--   @dimension  String    one of: code, client, app_version, region, country
--   @limit      UInt32    most values returned
-- Returns, most events first then by value: value String, events UInt64 (an upper bound: the
-- sum of per-minute distinct counts, exact unless an event was stored in two cells).
SELECT
    value,
    sum(cell_events) AS events
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
        uniqExactMerge(event_ids) AS cell_events
    FROM space_minute
    WHERE (@space = '' OR space_id = @space) AND minute >= toStartOfMinute(@from) AND minute <= @to
    GROUP BY space_id, minute, value
)
WHERE value != ''
GROUP BY value
ORDER BY events DESC, value
LIMIT @limit
