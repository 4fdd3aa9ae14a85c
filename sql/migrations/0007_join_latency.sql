-- 0007: join latency rolled up as plain counts, so that the latency panel and the summary (the
-- report, the rooms table) no longer sort a night's raw joins.
--
-- join_latency_minute_counts: one row per (space, minute, join_ms) and insert block until merges
-- sum them: how many joins of that minute took exactly join_ms milliseconds (joins without a
-- latency, join_ms < 0, are left out as in every latency figure). A percentile over any whole
-- minutes is exact from these counts: quantilesExactWeighted(…)(join_ms, joins) is the
-- nearest-rank percentile, the ceil(level * n)-th smallest latency, the same figure as
-- quantilesExactWeighted(…)(join_ms, 1) over the raw joins (queries/join_latency.sql).
-- Why counts per value and not a sketch: latencies are whole milliseconds, and a minute of a
-- room holds a few thousand distinct values however many joins it has, so the table is small,
-- exact and summed like the other rollups (a correction is a row with negative joins).
--
-- Latency by client, app version, region or country is read from events, not rolled up: a
-- per-dimension rollup (each join counted under each of the four) cost the demo's pipeline about
-- a third of its throughput (2.7M events at scale 0.3: committed in 41.6-45.8 s against
-- 29.5-34.5 s without it, 27.5-37.3 s with this table alone), for panels that are not on the
-- "Space live" dashboard.
--
-- Upgrading a warehouse that has data: as 0005, the views count rows with inserted_at >=
-- {cutover} and the backfill the rows before it (events holds each event once since 0005).
--
-- {db} is the target database, {cutover} a DateTime expression (see warehouse.Migrate).
DROP TABLE IF EXISTS {db}.join_latency_minute_counts_mv
;
DROP TABLE IF EXISTS {db}.join_latency_minute_counts
;
CREATE TABLE IF NOT EXISTS {db}.join_latency_minute_counts
(
    space_id String,
    minute   DateTime('UTC'),
    join_ms  Int64,
    joins    Int64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(minute)
ORDER BY (space_id, minute, join_ms)
;
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.join_latency_minute_counts_mv TO {db}.join_latency_minute_counts
AS SELECT
    space_id,
    toStartOfMinute(ts) AS minute,
    join_ms,
    toInt64(count()) AS joins
FROM {db}.events
WHERE kind = 'join' AND join_ms >= 0 AND inserted_at >= {cutover}
GROUP BY space_id, minute, join_ms
;
INSERT INTO {db}.join_latency_minute_counts (space_id, minute, join_ms, joins)
SELECT
    space_id,
    toStartOfMinute(ts) AS minute,
    join_ms,
    toInt64(count()) AS joins
FROM {db}.events FINAL
WHERE kind = 'join' AND join_ms >= 0 AND inserted_at < {cutover}
GROUP BY space_id, minute, join_ms
