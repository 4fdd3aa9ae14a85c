-- seal_cells: store the distinct count of every space_second cell with @from <= second <= @to
-- whose sealed count is missing or stale (its count states no longer add up to the sealed
-- stored_rows), in space_second_sealed. Run by the consumer for the seconds it wrote
-- (warehouse.Seal); safe to run at any time, from several processes, as often as wanted: a
-- sealed row is the count and the stored rows of one snapshot of the cell, so it is either still
-- exact or recognised as stale by sql/fragments/cells.sql. Cells of every space.
--
-- Parameters:
--   @from  DateTime  first second to seal (inclusive)
--   @to    DateTime  last second to seal (inclusive)
INSERT INTO space_second_sealed (space_id, second, class, stored_rows, events)
SELECT space_id, second, class, countMerge(rows) AS stored_rows, uniqExactMerge(event_ids) AS events
FROM space_second
PREWHERE second >= @from AND second <= @to AND (space_id, second, class) IN
(
    SELECT space_id, second, class
    FROM
    (
        SELECT space_id, second, class, finalizeAggregation(rows) AS stored, toUInt64(0) AS sealed
        FROM space_second
        PREWHERE second >= @from AND second <= @to
        UNION ALL
        SELECT space_id, second, class, toUInt64(0) AS stored, stored_rows AS sealed
        FROM space_second_sealed
        PREWHERE second >= @from AND second <= @to
    )
    GROUP BY space_id, second, class
    HAVING sum(stored) != max(sealed) AND sum(stored) > 0
)
GROUP BY space_id, second, class
