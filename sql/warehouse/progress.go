package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// PartitionProgress is what a consumer has landed from one partition (a row of ingest_progress,
// migration 0006): the last offset it committed after ClickHouse had the rows, the partition's
// high watermark when that message was fetched, and the newest event time among the valid events
// it has committed from the partition.
type PartitionProgress struct {
	Partition       int32
	CommittedOffset int64
	HighWatermark   int64
	MaxEventTS      time.Time // zero: no valid event yet (only dead letters)
}

// Heartbeat identifies a consumer process and says whether it stopped cleanly (everything it
// fetched committed).
type Heartbeat struct {
	Group, Topic, Consumer string
	Stopped                bool
}

// RecordProgress writes a consumer's partition rows and its heartbeat, the records the ingest
// watermark is read from (IngestWatermark). Rows may be empty: a heartbeat alone says the
// consumer is alive. The server stamps the rows with its own clock.
func RecordProgress(ctx context.Context, conn driver.Conn, hb Heartbeat, parts []PartitionProgress) error {
	seq := uint64(time.Now().UnixNano())
	if len(parts) > 0 {
		b, err := conn.PrepareBatch(ctx, "INSERT INTO ingest_progress (consumer_group, topic, partition, consumer, committed_offset, high_watermark, max_event_ts, seq)")
		if err != nil {
			return fmt.Errorf("record ingest progress: %w", err)
		}
		for _, p := range parts {
			ts := p.MaxEventTS.UTC()
			if ts.Before(time.Unix(0, 0)) {
				ts = time.Unix(0, 0).UTC()
			}
			if err := b.Append(hb.Group, hb.Topic, p.Partition, hb.Consumer, p.CommittedOffset, p.HighWatermark, ts, seq); err != nil {
				_ = b.Abort()
				return fmt.Errorf("record ingest progress: %w", err)
			}
		}
		if err := b.Send(); err != nil {
			return fmt.Errorf("record ingest progress: %w", err)
		}
	}
	b, err := conn.PrepareBatch(ctx, "INSERT INTO ingest_heartbeat (consumer_group, topic, consumer, stopped, seq)")
	if err != nil {
		return fmt.Errorf("record consumer heartbeat: %w", err)
	}
	stopped := uint8(0)
	if hb.Stopped {
		stopped = 1
	}
	if err := b.Append(hb.Group, hb.Topic, hb.Consumer, stopped, seq); err != nil {
		_ = b.Abort()
		return fmt.Errorf("record consumer heartbeat: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("record consumer heartbeat: %w", err)
	}
	return nil
}
