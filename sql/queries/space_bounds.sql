-- space_bounds: the first and last second with an event in one space (any kind), from the
-- space_second_counts rollup; the report's default window. seconds_with_events = 0 for an unknown space
-- (first_second and last_second are then the epoch).
--
-- Parameters:
--   @space  String  the space id
-- Returns one row: seconds_with_events Int64, first_second DateTime('UTC'), last_second DateTime('UTC').
SELECT
    toInt64(uniqExact(second)) AS seconds_with_events,
    min(second) AS first_second,
    max(second) AS last_second
FROM space_second_counts
WHERE space_id = @space
