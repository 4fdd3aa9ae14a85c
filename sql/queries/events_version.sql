-- events_version: what the events table's parts say about which rows may have changed, for caching
-- a figure computed from the raw rows of a time range (warehouse.EventsVersion; the Grafana
-- plugin's per-minute cache of user_failure_rate.sql). Reads system tables only (a few ms).
--
-- A MergeTree table's rows live in immutable parts. An INSERT makes a new part whose block number
-- (min_block = max_block) is taken from the table's counter in the same lock that makes the part
-- visible, so a part seen in a snapshot means every smaller block number was taken before; a merge
-- makes one part of adjacent ones of a partition, with their block range [min_block, max_block],
-- the union of their time ranges [min_time, max_time] (the minmax index of ts, the partition key's
-- column) and their rows, less the copies it folds; a mutation (ALTER UPDATE/DELETE) rewrites a
-- part under the same block range with data_version = the mutation's number. warehouse.EventsVersion
-- turns that into a test of whether the rows of a time range may have changed since a snapshot
-- (sql/README.md, "Per-user figures while live").
--
-- One row: the table's identity (engine, partition key, metadata time, the server and its start,
-- the mutations), horizon (the highest block number or data version of any active part: the
-- counter has passed it), and every active part
-- with rows of the month partitions from @from to @to, a column an array (a mutation that deletes
-- every row of a part leaves it empty, with no time range: no row to count).
--
-- Parameters:
--   @from  DateTime  first second of the window (inclusive)
--   @to    DateTime  last second of the window (inclusive)
-- Returns: engine String, partition_key String, created UInt32, host String, started Int64,
-- pending UInt64, mutations UInt64, horizon Int64, partitions Array(String), min_blocks,
-- max_blocks, versions, part_rows Array(Int64), min_times, max_times Array(UInt32).
SELECT
    (SELECT any(engine) FROM system.tables WHERE database = currentDatabase() AND name = 'events') AS engine,
    (SELECT any(partition_key) FROM system.tables WHERE database = currentDatabase() AND name = 'events') AS partition_key,
    (SELECT toUInt32(any(metadata_modification_time)) FROM system.tables WHERE database = currentDatabase() AND name = 'events') AS created,
    hostName() AS host,
    toInt64(toUInt32(now())) - toInt64(uptime()) AS started,
    (SELECT toUInt64(count()) FROM system.mutations WHERE database = currentDatabase() AND table = 'events' AND NOT is_done) AS pending,
    (SELECT cityHash64(arrayStringConcat(arraySort(groupArray(mutation_id)), ',')) FROM system.mutations
     WHERE database = currentDatabase() AND table = 'events') AS mutations,
    (SELECT toInt64(max(greatest(max_block_number, toInt64(data_version)))) FROM system.parts
     WHERE database = currentDatabase() AND table = 'events' AND active) AS horizon,
    groupArray(partition_id) AS partitions,
    groupArray(toInt64(min_block_number)) AS min_blocks,
    groupArray(toInt64(max_block_number)) AS max_blocks,
    groupArray(toInt64(data_version)) AS versions,
    groupArray(toInt64(rows)) AS part_rows,
    groupArray(toUInt32(min_time)) AS min_times,
    groupArray(toUInt32(max_time)) AS max_times
FROM system.parts
WHERE database = currentDatabase() AND table = 'events' AND active AND rows > 0
  AND partition_id >= toString(toYYYYMM(@from)) AND partition_id <= toString(toYYYYMM(@to))
