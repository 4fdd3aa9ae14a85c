// Package ingest moves events from a Kafka consumer group into ClickHouse:
// fetch, decode and validate (schemas), append to an Arrow record batch,
// insert the batch into ClickHouse columnar, then commit the Kafka offsets.
//
// # Delivery design: at-least-once into ClickHouse, exactly-once figures
//
// A batch goes through three steps, strictly in this order, each retried
// with backoff until it succeeds or the consumer is stopped:
//
//  1. its invalid events are written to the dead-letter topic (acks=all);
//  2. its valid events are inserted into ClickHouse as one columnar block;
//  3. the highest offset of every partition in the batch is committed.
//
// Offsets are committed only after ClickHouse (and the dead-letter topic)
// accepted everything before them, so a crash at any point — kill -9
// included — loses nothing: the uncommitted events are fetched again by
// whichever member gets their partition. The price is that a crash between
// steps 2 and 3 inserts those rows a second time, and producers that retry
// deliver the same event_id more than once, even to another partition.
//
// Duplicates are therefore made harmless where they land rather than
// prevented in flight: every row carries its event_id, the raw table is a
// ReplacingMergeTree keyed by it, and every rollup keeps the set of
// event_ids per bucket (uniqExact states), so each figure counts an event_id
// once however many times it was inserted (see sql/migrations). This needs
// no coordination between consumers, no transactions, and works on
// ClickHouse 18.16, which has no insert deduplication for non-replicated
// tables.
//
// # Sealing
//
// Counting distinct event ids means merging their sets at query time; for a
// long window that is most of the cost. The Sink tells a Sealer which minutes
// of event time each inserted block touched, and every
// ConsumerConfig.SealInterval the Sealer runs warehouse.Seal over them: the
// distinct count of each per-second cell is stored with the number of rows
// it was counted from, and queries read it while the cell has no more rows.
// Sealing is outside the delivery path: it never delays a commit, a failed
// pass only leaves queries slower until the next, and RunConsumer makes a
// last pass after the pipeline drained.
//
// # Flow and back-pressure
//
// Run starts three goroutines and waits for them: a fetcher (Kafka →
// bounded channel), a batcher (decode, validate, append; it cuts a batch on
// rows, bytes or age) and a writer (the three steps above). Channels are
// bounded, so a slow or unavailable ClickHouse stops the fetch instead of
// growing memory. When the context is cancelled the fetcher stops, the
// batcher cuts what it holds and the writer drains the queue on a context
// detached from the cancellation with Config.DrainTimeout; a batch that cannot
// be written by then is left uncommitted, to be fetched again.
package ingest
