package warehouse_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// eventColumns is a block of events as columns, the way the consumer inserts them.
type eventColumns struct {
	ID, Session                                 []uuid.UUID
	Kind, Space, User, Role, Client, AppVersion []string
	Region, Country, Reason, Phase, Code        []string
	Ts                                          []time.Time
	TsMs, JoinMs, Offset                        []int64
	Attempt, HTTPStatus                         []uint16
	Partition                                   []int32
}

// stressColumns makes n events of one room like the stress-8m scenario: ~13k joins a second
// with their leaves and ~10 % join errors, spread over n/20000 seconds.
func stressColumns(n int) *eventColumns {
	r := rand.New(rand.NewPCG(42, 42))
	c := &eventColumns{}
	start := t0.UnixMilli()
	perSecond := 20_000
	for i := range n {
		ts := start + int64(i/perSecond)*1000 + r.Int64N(1000)
		kind, phase, code, reason, joinMs := "join", "", "", "", int64(r.IntN(3000))
		switch x := r.IntN(20); {
		case x < 2:
			kind, phase, code, joinMs = "error", "join", technicalCodes[r.IntN(len(technicalCodes))], -1
		case x < 9:
			kind, reason, joinMs = "leave", "user", -1
		}
		c.ID = append(c.ID, uuid.New())
		c.Session = append(c.Session, uuid.New())
		c.Kind = append(c.Kind, kind)
		c.Space = append(c.Space, "stress-8m")
		c.User = append(c.User, fmt.Sprintf("u%08d", r.IntN(8_000_000)))
		c.Role = append(c.Role, "listener")
		c.Client = append(c.Client, clients[r.IntN(3)])
		c.AppVersion = append(c.AppVersion, "10.53.0")
		c.Region = append(c.Region, regions[r.IntN(2)])
		c.Country = append(c.Country, countries[r.IntN(3)])
		c.Reason = append(c.Reason, reason)
		c.Phase = append(c.Phase, phase)
		c.Code = append(c.Code, code)
		c.Ts = append(c.Ts, time.Unix(ts/1000, 0).UTC())
		c.TsMs = append(c.TsMs, ts)
		c.JoinMs = append(c.JoinMs, joinMs)
		c.Offset = append(c.Offset, int64(i))
		c.Attempt = append(c.Attempt, 0)
		c.HTTPStatus = append(c.HTTPStatus, 0)
		c.Partition = append(c.Partition, int32(i%8))
	}
	return c
}

// insertColumnar sends c as one columnar batch.
func insertColumnar(ctx context.Context, conn driver.Conn, c *eventColumns) error {
	batch, err := conn.PrepareBatch(ctx, warehouse.InsertEvents)
	if err != nil {
		return err
	}
	cols := []any{c.ID, c.Kind, c.Ts, c.TsMs, c.Space, c.Session, c.User, c.Role, c.Client, c.AppVersion,
		c.Region, c.Country, c.JoinMs, c.Attempt, c.Reason, c.Phase, c.Code, c.HTTPStatus, c.Partition, c.Offset}
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return batch.Send()
}

// BenchmarkInsertEvents inserts 1M events in blocks of 100k into the events table with every
// materialized view, with some of them, and with none, on the server of the integration tests.
// Merges happen in the background and are not in the figure.
func BenchmarkInsertEvents(b *testing.B) {
	const total, block = 1_000_000, 100_000
	data := stressColumns(total)
	blocks := make([]*eventColumns, 0, total/block)
	for lo := 0; lo < total; lo += block {
		blocks = append(blocks, slice(data, lo, lo+block))
	}
	f := func(name string, drop ...string) {
		b.Run(name, func(b *testing.B) {
			conn, _ := newTestDB(b)
			ctx := context.Background()
			for _, mv := range drop {
				if err := conn.Exec(ctx, "DROP TABLE "+mv); err != nil {
					b.Fatalf("drop %s: %v", mv, err)
				}
			}
			b.ReportAllocs()
			b.SetBytes(total * 150) // about a row's size in the table, before compression
			for b.Loop() {
				for _, c := range blocks {
					if err := insertColumnar(ctx, conn, c); err != nil {
						b.Fatalf("insert: %v", err)
					}
				}
			}
			b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
	const sec, min, lat = "space_second_counts_mv", "space_minute_counts_mv", "join_latency_minute_counts_mv"
	f("mvs=all")
	f("mvs=counts", lat) // without the join-latency rollup of migration 0007
	f("mvs=second", min, lat)
	f("mvs=none", sec, min, lat)
}

func slice(c *eventColumns, lo, hi int) *eventColumns {
	return &eventColumns{
		ID: c.ID[lo:hi], Session: c.Session[lo:hi], Kind: c.Kind[lo:hi], Space: c.Space[lo:hi],
		User: c.User[lo:hi], Role: c.Role[lo:hi], Client: c.Client[lo:hi], AppVersion: c.AppVersion[lo:hi],
		Region: c.Region[lo:hi], Country: c.Country[lo:hi], Reason: c.Reason[lo:hi], Phase: c.Phase[lo:hi],
		Code: c.Code[lo:hi], Ts: c.Ts[lo:hi], TsMs: c.TsMs[lo:hi], JoinMs: c.JoinMs[lo:hi],
		Offset: c.Offset[lo:hi], Attempt: c.Attempt[lo:hi], HTTPStatus: c.HTTPStatus[lo:hi],
		Partition: c.Partition[lo:hi],
	}
}
