-- spaces_in_window: the spaces with events in [@from, @to], and their first and last second with
-- an event inside it, from the space_second_counts rollup; bounded by @limit (room pickers and
-- "every room" queries).
--
-- Parameters:
--   @from   DateTime  first second of the window (inclusive)
--   @to     DateTime  last second of the window (inclusive)
--   @limit  UInt32    most spaces returned
-- Returns, ordered by space_id: space_id String, first_second DateTime('UTC'),
-- last_second DateTime('UTC').
SELECT
    space_id,
    min(second) AS first_second,
    max(second) AS last_second
FROM space_second_counts
WHERE second >= @from AND second <= @to
GROUP BY space_id
ORDER BY space_id
LIMIT @limit
