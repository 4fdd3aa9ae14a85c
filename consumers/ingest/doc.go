// Package ingest moves events from a Kafka consumer group into ClickHouse:
// fetch, decode and validate (schemas), keep copies of landed events out,
// append to an Arrow record batch, insert the batch into ClickHouse
// columnar, then commit the Kafka offsets.
//
// # Delivery design: each event lands once
//
// A batch goes through three steps, strictly in this order, each retried
// with backoff until it succeeds or the consumer is stopped:
//
//  1. its invalid events are written to the dead-letter topic (acks=all);
//  2. its valid events that have not landed yet are inserted into ClickHouse
//     as one columnar block;
//  3. the highest offset of every partition in the batch is committed.
//
// "Until it succeeds" holds for transient errors (classify.go: the network, timeouts, a server
// overloaded or shutting down, and any error not known to be about the data). A block that
// ClickHouse refuses for its rows (a value it cannot parse or store, or a block too big for its
// memory) is split in halves down to the rows refused (refuse.go): the others land once, the
// refused ones go to the dead-letter topic as their original messages with the reason
// "clickhouse_rejected: <ClickHouse's message>", and leave the landed-event index. A dead letter
// the dead-letter topic refuses for its size is cut to 64 KiB with header spacepulse-truncated
// (dlq.go). Neither stops the pipeline.
//
// Offsets are committed only after ClickHouse (and the dead-letter topic)
// accepted everything before them, so a crash at any point (kill -9
// included) loses nothing: the uncommitted events are fetched again by
// whichever member gets their partition.
//
// Copies are kept out before the insert, so that the events table holds each
// event once and the rollups (sql/migrations/0005, 0007) are plain counts:
//
//   - The landed-event index (index) holds the ids of the events this
//     consumer has landed or holds to land, by second of event time (one set
//     per second, kept and given up by minute): a copy of an event has the
//     same ts, so it is looked for in one second's set, as the events table
//     keys an event by (space_id, ts in seconds, event_id). The set of the
//     second being filled stays in the CPU's cache (BenchmarkIndexCheck, 2M
//     ids: 42 ns an id, against 106 ns with one set per minute).
//     It covers the DedupWindow (default 15 minutes) of event time before the
//     newest event, bounded by DedupMaxIDs (default 2M ids, ~30 bytes each).
//     One index serves every partition of the process, so a copy that comes
//     through another partition (a client that keys differently) is caught
//     too.
//   - When a partition is seen for the first time or not where it left off
//     (it was assigned to this consumer, or reassigned after a rebalance),
//     the index loads from ClickHouse every event stored in its window
//     (warehouse.LandedSince), unless a load started after the partition was
//     assigned (the group reader counts its assignments; see Pipeline.fetch).
//     That is how a redelivery after another member crashed between its
//     insert and its commit, or a producer retry of what it landed, is
//     recognised. A load reads the ts and event_id columns of the month
//     partitions from the window on (events is sorted by space first): here
//     the server reads the whole night's 9M in 0.19 s (clickhouse-client,
//     FORMAT Null), and each load is logged with its ids and time; on a month
//     of billions of rows it takes seconds, once per rebalance.
//   - An event older than the index covers (later than DedupWindow, or
//     pushed out by DedupMaxIDs) is looked up by its primary key
//     (space_id, ts, event_id) in ClickHouse when its batch is cut
//     (warehouse.StoredEvents): exact at any lateness, at the price of one
//     granule read per such event.
//   - A retried insert (the first attempt failed, and may have landed
//     rows: a connection lost after the server took the block) first asks
//     ClickHouse which of the block's events are stored and inserts only the
//     others.
//
// The one bounded exception: with two or more consumer processes in a group,
// a copy that reaches a member other than the one that landed the original
// (through a partition the other member owns, since its index last loaded;
// or the in-flight batch of a revoked partition landing after the new owner
// loaded its index) is inserted by both. A member whose partitions are revoked
// waits up to GroupConfig.RevokeWait (3 s) for their batches in flight to land
// and commit before it gives them up, so the second case needs a batch slower
// than that (ClickHouse slow or down); such a batch is not committed by the old
// owner (GroupReader commits only the partitions it owns), and the new owner
// reads it again from the last committed offset. Within one consumer process there is
// no such case. The copy sweep (sweep.go) repairs the rollups within about
// SweepInterval (10 s) plus 3 s, while events holds the copy until a merge
// folds it (see sql/README.md).
//
// # Server crashes
//
// ClickHouse 18.16 writes an insert's events part before the parts of its
// materialized views, so a server killed during an insert can keep the events
// and lose rollup rows. After every retried insert the Sink reconciles the
// block's event-time range (warehouse.Reconcile: each rollup cell compared
// with a count of the raw rows, corrected by one more row). A reconcile that
// fails (the server killed again) fails the insert: the block is retried and
// reconciled again, and its offsets are committed only after a reconcile has
// succeeded.
//
// # Progress records (the ingest watermark)
//
// With Config.Progress set (RunConsumer sets it), the pipeline records what it
// has landed, so that the alert can tell a minute whose events are all in
// ClickHouse from one whose events may still be in Kafka
// (warehouse.IngestWatermark, sql/queries/ingest_watermark.sql): for each
// partition, the last offset committed, the partition's high watermark when
// that message was fetched (raised past a batch cut and not yet committed, so
// a consumer stuck on it holds the watermark back) and the newest event time
// committed; and a heartbeat per process, stopped=1 after a clean drain. A
// reporter goroutine writes the partitions that moved and the heartbeat every
// Config.ProgressInterval (2 s) in one insert each; a failed report (ClickHouse
// down) is kept for the next, and the watermark holds meanwhile.
//
// # Flow and back-pressure
//
// The Kafka side is GroupReader: franz-go's kgo client in the consumer group,
// auto-commit off, fetches of 256 KiB a partition and 2 MiB a request without
// fetch sessions, so that every partition advances at about the same pace in
// event time. That matters to the index: it covers the window before the
// newest event of any partition, so a partition left far behind would have its
// events looked up in ClickHouse one by one (see GroupReader).
//
// Run starts a fetcher (Kafka → one bounded channel per decoder, fed runs of a
// fetch's messages without copying), Config.Decoders batchers (decode,
// validate, keep copies out, append; each cuts its own batches on rows, bytes
// or age, or when the topic went quiet: a fetch that waited Config.QuietAfter,
// 250 ms, for nothing makes every batcher cut what it holds, so the end of a
// burst lands at once instead of up to BatchAge later, while a stream that
// keeps coming, however slowly, still fills batches for BatchAge; make bench
// went from 704k-758k to 781k-800k events/s with it, the last 0.6 s of its
// 6.9 s being the final batches waiting out their age) and a writer (the three
// steps above), plus the progress reporter and
// the copy sweep when configured. A batcher gets the messages of partition
// modulo Decoders, so each partition stays in order; decoding, the dearest
// step, runs in parallel, while every batcher checks the one landed-event index
// under its lock (a copy can come through any partition). Batches are queued
// for the writer in one sequence (sharedIndex.send), so "the writer landed
// batch n" means every batch before it landed too, which is what lets the index
// give up a minute. The writer takes the batches already queued when it takes
// one into the same insert, up to Config.InsertRows rows (Sink.WriteBlocks: one
// native block per batch, squashed by the server into one part of events and
// one of each rollup), then commits them one by one in order: ClickHouse's cost
// is largely per part, and batches cut by two decoders of 50,000 rows each
// would otherwise make twice the parts (make bench: 2.8-3.2 µs of server CPU an
// event without, 2.3-2.5 with a queue of 2, 1.7-2.0 with the default 3). If that insert fails, each batch is inserted on
// its own as after a failed attempt (its rows may have landed). A cluster sink
// (NewClusterSink) does not group: its retries resend the very block. Channels
// are bounded, so a slow or unavailable ClickHouse stops the fetch instead of
// growing memory. When the context is cancelled the
// fetcher stops, the batchers cut what they hold and the writer drains the
// queue on a context detached from the cancellation with Config.DrainTimeout; a
// batch that cannot be written by then is left uncommitted, to be fetched again,
// and Run returns ErrDrainIncomplete with the count. RunConsumer leaves the group
// only after that, and returns within 23 s of the stop by default (see RunConsumer).
//
// # Rebalances
//
// A member commits only the partitions it owns (GroupReader). When partitions are revoked it
// waits up to GroupConfig.RevokeWait (3 s) for their batches in flight to land and commit, and
// only then gives them up, so the new owner, which gets them after that, loads an index that
// holds them. A batch still waiting to land after that (ClickHouse down during the rebalance) is
// neither inserted nor committed for the partitions given up: before every insert attempt the
// writer drops their rows and forgets them in the index, so only the new owner lands them
// (givenup.go; TestPipelineLeavesGivenUpPartitionsToTheirNewOwner; make chaos found the old
// owner landing 14,690 such events a second time once ClickHouse came back). Partitions added to the
// topic are read within GroupConfig.MetadataMaxAge (15 s) plus a rebalance. A killed member holds
// its partitions for GroupConfig.SessionTimeout (6 s); a static member (GroupConfig.InstanceID)
// restarted within it takes them back without a rebalance. TestGroupScalesOneThreeOne,
// TestGroupReadsAddedPartitions and TestCrashLoopCommitRate show each.
//
// # Lag and health
//
// The lag is read from the broker by a LagPoller of its own (end and committed offsets every
// GroupConfig.LagInterval, 5 s), not from the fetch, which stops on back-pressure during a
// ClickHouse outage: per partition in messages and in seconds (the age of the oldest uncommitted
// message). With MetricsAddr set, RunConsumer serves /metrics, /healthz (alive) and /readyz
// (ClickHouse pings, the broker answers, the lag age is under GroupConfig.ReadyMaxLag; see Health).
package ingest
