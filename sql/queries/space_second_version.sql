-- space_second_version: a fingerprint of the space_second_counts rollup up to @to's month, for caching
-- figures computed from it: any insert into those partitions raises max_block (block numbers only
-- grow), any merge changes parts, so an unchanged fingerprint means unchanged cells up to @to.
-- Partitions after @to's month are left out (inserts there cannot change a window ending at @to).
--
-- Parameters:
--   @to  DateTime  the last second a cached figure depends on
-- Returns one row: parts Int64, max_block Int64, stored_rows Int64.
SELECT
    toInt64(count()) AS parts,
    toInt64(max(max_block_number)) AS max_block,
    toInt64(sum(rows)) AS stored_rows
FROM system.parts
WHERE database = currentDatabase() AND table = 'space_second_counts' AND active
  AND partition_id <= toString(toYYYYMM(@to))
