-- ingest_watermark: the event time up to which the consumers have landed everything they will
-- be sent, from what they record (migration 0006, consumers/ingest). A minute is complete, so
-- final enough to page on, when its end plus the lateness allowance is at or before it.
--
-- Each partition of the consumed topic(s) holds the watermark at the newest event time its
-- consumer has committed, when more may come from it soon:
--   - messages were waiting behind the last commit (high_watermark > committed_offset + 1), or
--   - its owner is alive and committed within the last @idle_after seconds (a busy partition), or
--   - its owner stopped reporting without a clean stop (killed, or cut off from ClickHouse) for
--     more than @stale_after seconds: what is in Kafka behind it is unknown.
-- A partition that has carried no valid event yet (only dead letters) holds nothing back unless
-- messages wait behind it. Otherwise it is caught up and idle, and holds nothing back up to now (a live owner) or up to
-- the owner's clean stop. The watermark is the least over the partitions. A consumer reports a
-- partition as soon as it has fetched from it (committed_offset -1 until its first commit), so a
-- consumer stuck on its first batch holds the watermark at the epoch, as does one that has sent
-- heartbeats but fetched nothing yet. NULL only when no consumer has recorded anything here (data
-- loaded another way): callers then take every minute as complete and say so.
--
-- Parameters:
--   @stale_after  UInt32  seconds without a heartbeat after which an owner counts as gone
--   @idle_after   UInt32  seconds without a commit after which a caught-up partition is idle
-- Returns one row: watermark Nullable(DateTime('UTC')), partitions UInt64 (known partitions),
-- holding UInt64 (partitions holding the watermark at their newest event).
SELECT
    if(count() = 0,
       if((SELECT count() FROM ingest_heartbeat) = 0, NULL, toDateTime(0, 'UTC')),
       min(w)) AS watermark,
    count() AS partitions,
    countIf(holds) AS holding
FROM
(
    SELECT
        high_watermark > committed_offset + 1
            OR (max_ts > toDateTime(0, 'UTC') AND stopped = 0
                AND (beat_at < now() - @stale_after OR reported_at >= now() - @idle_after)) AS holds,
        if(holds, max_ts, greatest(max_ts, if(stopped = 1, beat_at, now()))) AS w
    FROM
    (
        SELECT
            consumer_group, topic, partition,
            argMax(consumer, seq) AS consumer,
            argMax(committed_offset, seq) AS committed_offset,
            argMax(high_watermark, seq) AS high_watermark,
            max(max_event_ts) AS max_ts,
            argMax(reported_at, seq) AS reported_at
        FROM ingest_progress
        GROUP BY consumer_group, topic, partition
    ) AS parts
    ANY LEFT JOIN
    (
        SELECT consumer, argMax(stopped, seq) AS stopped, max(beat_at) AS beat_at
        FROM ingest_heartbeat
        GROUP BY consumer
    ) AS consumers USING consumer
)
