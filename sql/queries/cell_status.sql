-- cell_status: how the space_second cells (of every space) with @from <= second <= @to are read
-- (see fragments/cells.sql): sealed ones by their sealed count; unsealed ones (never sealed, or
-- rows added since) by merging their event ids; stale ones are the unsealed that were sealed once.
-- For tests, benchmarks and operators watching the consumer's sealing.
--
-- Parameters:
--   @from  DateTime  first second (inclusive)
--   @to    DateTime  last second (inclusive)
-- Returns one row: sealed_cells Int64, unsealed_cells Int64, stale_cells Int64.
SELECT
    toInt64(countIf(stored = sealed AND sealed > 0)) AS sealed_cells,
    toInt64(countIf(stored != sealed OR sealed = 0)) AS unsealed_cells,
    toInt64(countIf(stored != sealed AND sealed > 0)) AS stale_cells
FROM
(
    SELECT space_id, second, class, sum(stored) AS stored, max(sealed) AS sealed
    FROM
    (
        SELECT space_id, second, class, finalizeAggregation(rows) AS stored, toUInt64(0) AS sealed
        FROM space_second
        WHERE second >= @from AND second <= @to
        UNION ALL
        SELECT space_id, second, class, toUInt64(0) AS stored, stored_rows AS sealed
        FROM space_second_sealed
        WHERE second >= @from AND second <= @to
    )
    GROUP BY space_id, second, class
    HAVING stored > 0
)
