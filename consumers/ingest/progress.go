package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// ProgressStore receives what the pipeline has landed, for the ingest watermark
// (warehouse.IngestWatermark): a heartbeat and the partitions whose commits moved since the last
// call. ProgressTo makes one from a ClickHouse connection.
type ProgressStore interface {
	RecordProgress(ctx context.Context, hb warehouse.Heartbeat, parts []warehouse.PartitionProgress) error
}

// ProgressTo records progress in the ClickHouse database of conn (migration 0006's tables).
func ProgressTo(conn driver.Conn) ProgressStore { return connProgress{conn} }

type connProgress struct{ conn driver.Conn }

func (c connProgress) RecordProgress(ctx context.Context, hb warehouse.Heartbeat, parts []warehouse.PartitionProgress) error {
	return warehouse.RecordProgress(ctx, c.conn, hb, parts)
}

// DefaultProgressInterval is how often a consumer reports its progress and heartbeat; well under
// warehouse.IdleAfter and warehouse.StaleAfter, which read them.
const DefaultProgressInterval = 2 * time.Second

// NewConsumerID names a consumer process in its heartbeats: host, pid and a random suffix, so
// that a restarted process is a new consumer.
func NewConsumerID() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8])
}

// mark is where a batch leaves one partition: its last message and the newest valid event time
// in it (0: none).
type mark struct {
	partition     int
	offset, hwm   int64
	maxEventMilli int64
}

// progress is the partitions' committed state, shared by the writer (after each commit) and the
// reporter goroutine.
type progress struct {
	mu    sync.Mutex
	parts map[int]*partProgress
}

type partProgress struct {
	warehouse.PartitionProgress
	fetchedEnd int64 // past the highest message fetched (cut into a batch), or its high watermark if higher
	dirty      bool
}

// part returns partition's state, made on first use; p.mu is held.
func (p *progress) part(partition int) *partProgress {
	if p.parts == nil {
		p.parts = make(map[int]*partProgress)
	}
	pp, ok := p.parts[partition]
	if !ok {
		pp = &partProgress{PartitionProgress: warehouse.PartitionProgress{Partition: int32(partition), CommittedOffset: -1}}
		p.parts[partition] = pp
	}
	return pp
}

// fetched records marks of a batch just cut, before it is written: until it is committed, its
// messages count as waiting (the report's high watermark covers them), so that a consumer stuck
// on a batch it fetched from a caught-up partition still holds the watermark back.
func (p *progress) fetched(marks []mark) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range marks {
		pp := p.part(m.partition)
		if end := max(m.hwm, m.offset+1); end > pp.fetchedEnd {
			pp.fetchedEnd, pp.dirty = end, true
		}
	}
}

// committed records marks whose offsets were just committed.
func (p *progress) committed(marks []mark) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range marks {
		pp := p.part(m.partition)
		pp.CommittedOffset, pp.HighWatermark, pp.dirty = m.offset, m.hwm, true
		if m.maxEventMilli > 0 {
			if t := time.UnixMilli(m.maxEventMilli).UTC(); t.After(pp.MaxEventTS) {
				pp.MaxEventTS = t
			}
		}
	}
}

// take returns the partitions committed since the last take and marks them reported.
func (p *progress) take() []warehouse.PartitionProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []warehouse.PartitionProgress
	for _, pp := range p.parts {
		if pp.dirty { // CommittedOffset -1: fetched, nothing committed yet (holds the watermark at the epoch)
			r := pp.PartitionProgress
			r.HighWatermark = max(r.HighWatermark, pp.fetchedEnd)
			out = append(out, r)
			pp.dirty = false
		}
	}
	return out
}

// untake marks parts to be reported again (their report failed): the next report sends the
// latest state of each, whatever committed since.
func (p *progress) untake(parts []warehouse.PartitionProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range parts {
		if pp := p.parts[int(r.Partition)]; pp != nil {
			pp.dirty = true
		}
	}
}

// report sends one heartbeat with the partitions committed since the last report; on failure
// they are kept for the next.
func (p *Pipeline) report(ctx context.Context, stopped bool) error {
	parts := p.progress.take()
	hb := warehouse.Heartbeat{Group: p.cfg.Group, Topic: p.cfg.Topic, Consumer: p.cfg.ConsumerID, Stopped: stopped}
	if err := p.cfg.Progress.RecordProgress(ctx, hb, parts); err != nil {
		p.progress.untake(parts)
		return err
	}
	return nil
}

// reportLoop reports every ProgressInterval until ctx ends. A failed report (ClickHouse down) is
// logged and retried at the next tick: the watermark then holds, which is what it should do.
func (p *Pipeline) reportLoop(ctx context.Context) {
	t := time.NewTicker(p.cfg.ProgressInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, p.cfg.ProgressInterval*2)
		err := p.report(rctx, false)
		cancel()
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			p.cfg.Logger.Warn("cannot record ingest progress (the ingest watermark holds until it can)", slog.Any("err", err))
			failing = true
		case err == nil && failing:
			p.cfg.Logger.Info("recording ingest progress again")
			failing = false
		}
	}
}
