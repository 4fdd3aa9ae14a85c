-- 0006: what the consumers have landed, so that a query can tell a complete minute from one whose
-- events may still be in Kafka (the ingest watermark, queries/ingest_watermark.sql).
--
-- ingest_progress: one row per partition and progress report (merges keep the newest): the last
-- offset the consumer group committed on it after ClickHouse had the rows, the partition's high
-- watermark when that message was fetched (so high_watermark - committed_offset - 1 messages
-- were waiting then), and the newest event time among the valid events committed from it so far
-- (a new owner of the partition starts again from its own events; readers take the max over the
-- partition's rows). reported_at is the server's clock when the row arrived (never a consumer's).
--
-- ingest_heartbeat: one row per consumer process and report: alive at beat_at, or stopped (1) by
-- a clean shutdown that had committed everything it fetched. A partition whose owner has not
-- reported for a while (killed, or cut off from ClickHouse) cannot be called caught up.
--
-- Consumers report every few seconds (consumers/ingest, Config.ProgressInterval); old rows are
-- folded by merges, so the tables stay one row per partition and one per consumer process.
CREATE TABLE IF NOT EXISTS {db}.ingest_progress
(
    consumer_group   String,
    topic            String,
    partition        Int32,
    consumer         String,
    committed_offset Int64,
    high_watermark   Int64,
    max_event_ts     DateTime('UTC'),
    reported_at      DateTime('UTC') DEFAULT now(),
    seq              UInt64
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (consumer_group, topic, partition)
;
CREATE TABLE IF NOT EXISTS {db}.ingest_heartbeat
(
    consumer_group String,
    topic          String,
    consumer       String,
    stopped        UInt8,
    beat_at        DateTime('UTC') DEFAULT now(),
    seq            UInt64
)
ENGINE = ReplacingMergeTree(seq)
ORDER BY (consumer_group, topic, consumer)
