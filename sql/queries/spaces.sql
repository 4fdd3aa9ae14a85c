-- spaces: every space with events, and the first and last second it had one, from the
-- space_second_counts rollup (for pickers and for "which spaces are there").
--
-- Parameters: none.
-- Returns, one row per space ordered by space_id: space_id String, first_second DateTime('UTC'),
-- last_second DateTime('UTC').
SELECT
    space_id,
    min(second) AS first_second,
    max(second) AS last_second
FROM space_second_counts
GROUP BY space_id
ORDER BY space_id
