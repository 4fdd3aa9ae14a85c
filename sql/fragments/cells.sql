-- cells: the distinct events of each space_second cell (second, class) of space @space with
-- {lo} <= second <= {hi} and class IN ({classes}), each event_id once: one row per cell with
-- events, columns second DateTime('UTC'), class, cell_events UInt64.
--
-- A query file includes it with a line `{cells: lo = <expr>; hi = <expr>; classes = <list>}`
-- (warehouse and sql/tests expand it the same way; see sql/README.md).
--
-- A cell's count comes from one of two places, and both are exact:
-- - sealed: space_second_sealed holds the count a sealing pass (maintenance/seal_cells.sql)
--   computed from the cell's uniqExact states together with stored_rows, the number of event rows
--   the cell's states held then (their count states, read in the same snapshot). Rows are only
--   ever added to a cell, and merges keep the sum of count states, so a cell whose count states
--   still add up to the sealed stored_rows has exactly the events that were counted: its sealed
--   count is used and its uniqExact states are not read at all.
-- - merged: every other cell (never sealed, or rows added since: a late event, a duplicate, the
--   live tail) merges its uniqExact states as before. PREWHERE keeps their event_ids from being
--   read for the clean cells. GLOBAL NOT IN, on a local table, builds the set of clean cells
--   once, when the query runs: ClickHouse 18.16 builds a plain IN set while analysing the query,
--   once more for every subquery level above it (measured: 29 ms at the top, 60 ms one level
--   down, 100 ms two levels down, for a 3-hour window over 10M events; see sql/README.md).
-- So a figure never depends on the sealing pass having run; only the speed does.
    SELECT second, class, sealed_events AS cell_events
    FROM
    (
        SELECT second, class, sum(stored) AS stored_rows, max(sealed) AS sealed_rows, argMax(events, sealed) AS sealed_events
        FROM
        (
            SELECT second, class, finalizeAggregation(rows) AS stored, toUInt64(0) AS sealed, toUInt64(0) AS events
            FROM space_second
            PREWHERE space_id = @space AND second >= {lo} AND second <= {hi} AND class IN ({classes})
            UNION ALL
            SELECT second, class, toUInt64(0) AS stored, stored_rows AS sealed, events
            FROM space_second_sealed
            PREWHERE space_id = @space AND second >= {lo} AND second <= {hi} AND class IN ({classes})
        )
        GROUP BY second, class
    )
    WHERE stored_rows = sealed_rows AND sealed_rows > 0
    UNION ALL
    SELECT second, class, uniqExactMerge(event_ids) AS cell_events
    FROM space_second
    PREWHERE space_id = @space AND second >= {lo} AND second <= {hi} AND class IN ({classes})
      AND (second, class) GLOBAL NOT IN
      (
        SELECT second, class
        FROM
        (
            SELECT second, class, finalizeAggregation(rows) AS stored, toUInt64(0) AS sealed
            FROM space_second
            PREWHERE space_id = @space AND second >= {lo} AND second <= {hi} AND class IN ({classes})
            UNION ALL
            SELECT second, class, toUInt64(0) AS stored, stored_rows AS sealed
            FROM space_second_sealed
            PREWHERE space_id = @space AND second >= {lo} AND second <= {hi} AND class IN ({classes})
        )
        GROUP BY second, class
        HAVING sum(stored) = max(sealed) AND max(sealed) > 0
      )
    GROUP BY second, class
