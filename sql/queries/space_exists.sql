-- space_exists: whether one space has any event, from the space_second_counts rollup; reads at most one
-- granule of the primary key range, whatever the space's size (a room check before a query,
-- where space_bounds.sql would scan every second of a long-running space).
--
-- Parameters:
--   @space  String  the space id
-- Returns one row: has_events UInt8 (1 or 0).
SELECT toUInt8(count() > 0) AS has_events
FROM
(
    SELECT 1
    FROM space_second_counts
    WHERE space_id = @space
    LIMIT 1
)
