package ingest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// gate holds every block whose newest event is after its limit: a consumer held behind the
// producer, with the messages it has not landed waiting in Kafka.
type gate struct {
	next  blockWriter
	mu    sync.Mutex
	cond  *sync.Cond
	limit int64 // unix ms
}

func newGate(next blockWriter) *gate {
	g := &gate{next: next}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) set(limit time.Time) {
	g.mu.Lock()
	g.limit = limit.UnixMilli()
	g.mu.Unlock()
	g.cond.Broadcast()
}

func (g *gate) WriteBlock(ctx context.Context, rec arrow.RecordBatch, again bool) error {
	ts := rec.Column(schemas.ColTS).(*array.Timestamp)
	newest := int64(0)
	for i := range ts.Len() {
		newest = max(newest, int64(ts.Value(i)))
	}
	stop := context.AfterFunc(ctx, g.cond.Broadcast)
	defer stop()
	g.mu.Lock()
	for newest > g.limit && ctx.Err() == nil {
		g.cond.Wait()
	}
	g.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return g.next.WriteBlock(ctx, rec, again)
}

// lagNight is one room, a minute per character: B bad (20 % technical failures), g good (1 %),
// . quiet (10 attempts, all failing: no data), x the room ended (space_ended only).
const lagNight = "ggBBBg..BBggBBB.ggxx"

// lagEvents builds lagNight's join attempts from start, 120 a minute (10 for '.'), each with its
// arrival time: 95 % within 2 s, 5 % 5 to 50 s late (within the rule's lateness).
func lagEvents(start time.Time) (evs []schemas.Event, arrival []time.Time) {
	rng := rand.New(rand.NewPCG(3, 4))
	for m, c := range lagNight {
		n, failing, code := 120, 1, "timeout"
		switch c {
		case 'B':
			failing = 24
		case '.':
			n, failing = 10, 10
		case 'x':
			failing, code = 120, "space_ended"
		}
		for i := range n {
			ts := start.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Minute/time.Duration(n))
			e := schemas.Event{EventID: uuid.New(), Kind: schemas.KindJoin, TS: ts.UnixMilli(), SpaceID: "lag-room",
				SessionID: uuid.New(), UserID: fmt.Sprintf("u%d-%d", m, i), Role: schemas.RoleListener, JoinMS: 300,
				Client: "ios", AppVersion: "10.53.0", Region: "us-east-1", Country: "US"}
			if (i*7)%n < failing {
				e.Kind, e.Phase, e.Code, e.JoinMS = schemas.KindError, schemas.PhaseJoin, code, -1
			}
			d := time.Duration(rng.IntN(2000)) * time.Millisecond
			if rng.IntN(20) == 0 {
				d = 5*time.Second + time.Duration(rng.IntN(45_000))*time.Millisecond
			}
			evs = append(evs, e)
			arrival = append(arrival, ts.Add(d))
		}
	}
	return evs, arrival
}

// TestAlertWithLaggingConsumer replays lagNight minute by minute (event time; each step a moment
// of wall-clock time) into two pipelines: one keeping up, one held 2 minutes behind with the rest
// waiting in Kafka. After every step the page is read as the plugin and the report read it
// (warehouse.AlertState over warehouse.IngestWatermark). Every minute either judges must have
// every event of the minute landed; both page at the same minutes, those of the rule over all
// the events; and the wall clock instead of the watermark judges half-landed minutes of the
// lagging one.
func TestAlertWithLaggingConsumer(t *testing.T) {
	brokers, ch := servers(t)
	ctx := t.Context()
	start := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)
	evs, arrival := lagEvents(start)
	order := make([]int, len(evs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return arrival[order[a]].Before(arrival[order[b]]) })
	// Truth per minute: attempts and technical failures of every event.
	type counts struct{ attempts, technical int64 }
	truth := make([]counts, len(lagNight))
	for _, e := range evs {
		m := (e.TS - start.UnixMilli()) / 60_000
		truth[m].attempts++
		if e.Kind == schemas.KindError && !schemas.IsBusinessCode(e.Code) {
			truth[m].technical++
		}
	}

	type side struct {
		name string
		conn interface {
			warehouse.Querier
		}
		run     *running
		gate    *gate
		sent    int
		topic   string
		firedAt []time.Time // FiredAt of each firing, as first seen
	}
	var sides []*side
	for _, name := range []string{"keeping up", "2 min behind"} {
		cfg := ch
		cfg.Database = randomName("spacepulse_lag_")
		conn, _, err := warehouse.Setup(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database); conn.Close() })
		// The test reads through a connection of its own: the pipeline's progress reports, every
		// 100 ms with a short deadline, time out on a loaded machine, and clickhouse-go can close a
		// pooled connection when a deadline fires as its query ends (the pipeline retries; a
		// read of the test's would fail: CI saw "use of closed network connection" once).
		read, err := warehouse.Open(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { read.Close() })
		topic := newTopic(t, brokers, randomName("lag-"), 3)
		dlq := newTopic(t, brokers, topic+".dlq", 1)
		s := &side{name: name, conn: read, topic: topic}
		s.run = startPipeline(t, brokers, topic, dlq, randomName("group-"), cfg, conn, func(b blockWriter) blockWriter {
			if name == "keeping up" {
				return b
			}
			s.gate = newGate(b)
			return s.gate
		}, func(c *Config) {
			c.Progress, c.Group, c.ProgressInterval = ProgressTo(conn), "lag-test", 100*time.Millisecond
			c.BatchAge = 100 * time.Millisecond
		})
		sides = append(sides, s)
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
		BatchTimeout: 5 * time.Millisecond, Transport: &kafka.Transport{}}
	defer w.Close()
	var enc schemas.JSONEncoder
	rule := warehouse.PageRule
	wallClockWrong := 0
	next := 0
	for step := 1; step <= len(lagNight)+2; step++ {
		now := start.Add(time.Duration(step) * time.Minute) // the producers' clock
		var batch []int
		for next < len(order) && !arrival[order[next]].After(now) {
			batch = append(batch, order[next])
			next++
		}
		for _, s := range sides {
			if s.gate != nil {
				s.gate.set(now.Add(-2 * time.Minute))
			}
			msgs := make([]kafka.Message, len(batch))
			for i, j := range batch {
				key, _ := evs[j].SessionID.MarshalText()
				msgs[i] = kafka.Message{Topic: s.topic, Key: key, Value: enc.AppendJSON(nil, &evs[j])}
			}
			if len(msgs) > 0 {
				if err := w.WriteMessages(ctx, msgs...); err != nil {
					t.Fatal(err)
				}
			}
			s.sent += len(msgs)
		}
		// The one keeping up lands everything sent; the other all it may (its gate holds the rest).
		for _, s := range sides {
			if s.gate == nil {
				waitFor(t, s.name+" caught up", func() (bool, string) {
					n := s.run.p.Stats().Events.Load()
					return n >= int64(s.sent), describe("%d of %d events", n, s.sent)
				})
			} else {
				time.Sleep(500 * time.Millisecond)
			}
		}
		time.Sleep(300 * time.Millisecond) // a progress report or three
		for _, s := range sides {
			wm, err := warehouse.IngestWatermark(ctx, s.conn)
			if err != nil {
				t.Fatal(err)
			}
			ms, err := warehouse.AlertState(ctx, s.conn, "lag-room", start, now.Add(-time.Second), rule, wm)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range ms {
				if m.Complete && (m.Counts[0] != truth[i].attempts || m.Counts[1] != truth[i].technical) {
					t.Fatalf("step %d, %s (watermark %+v): minute %d judged with %d attempts, %d technical; all its events are %d, %d",
						step, s.name, wm, i, m.Counts[0], m.Counts[1], truth[i].attempts, truth[i].technical)
				}
			}
			for _, tr := range warehouse.Transitions(ms) {
				if !slices.ContainsFunc(s.firedAt, tr.FiredAt.Equal) {
					s.firedAt = append(s.firedAt, tr.FiredAt)
				}
			}
			if s.gate != nil {
				// The wall-clock rule: every minute that ended by now counts as complete.
				wall, err := warehouse.AlertState(ctx, s.conn, "lag-room", start, now.Add(-time.Second), rule, warehouse.Watermark{})
				if err != nil {
					t.Fatal(err)
				}
				for i, m := range wall {
					if i < len(truth) && m.Complete && m.Counts[0] != truth[i].attempts {
						wallClockWrong++
						break
					}
				}
			}
		}
	}
	// Release the held one, let both go idle, and read the whole night.
	sides[1].gate.set(start.Add(24 * time.Hour))
	var final []string
	for _, s := range sides {
		waitFor(t, s.name+" lands every event", func() (bool, string) {
			n := s.run.p.Stats().Events.Load()
			return n >= int64(len(evs)), describe("%d of %d events", n, len(evs))
		})
		var ms []warehouse.AlertMinute
		waitFor(t, s.name+": every minute judged", func() (bool, string) {
			wm, err := warehouse.IngestWatermark(ctx, s.conn)
			if err != nil {
				return false, err.Error()
			}
			ms, err = warehouse.AlertState(ctx, s.conn, "lag-room", start, start.Add(time.Duration(len(lagNight))*time.Minute-time.Second), rule, wm)
			if err != nil {
				return false, err.Error()
			}
			return !slices.ContainsFunc(ms, func(m warehouse.AlertMinute) bool { return !m.Complete }), describe("watermark %+v", wm)
		})
		final = append(final, timelineOf(start, warehouse.Transitions(ms)))
		t.Logf("%s: fired at %s; whole night %s", s.name, timesOf(start, s.firedAt), final[len(final)-1])
	}
	if want := "4-6 10-11 14-17"; final[0] != want || final[1] != want {
		t.Fatalf("firings (minutes from the start): keeping up %q, behind %q; want %q", final[0], final[1], want)
	}
	if a, b := timesOf(start, sides[0].firedAt), timesOf(start, sides[1].firedAt); a != b {
		t.Fatalf("paged at minutes %s keeping up, %s behind: want the same", a, b)
	}
	if wallClockWrong == 0 {
		t.Fatal("the wall-clock rule never judged a half-landed minute of the lagging consumer: the test does not lag")
	}
	t.Logf("the wall clock judged half-landed minutes in %d steps", wallClockWrong)
}

func timelineOf(start time.Time, ts []warehouse.AlertTransition) string {
	var out []string
	for _, a := range ts {
		s := fmt.Sprintf("%d-", int(a.FiredAt.Sub(start)/time.Minute))
		if !a.ClearedAt.IsZero() {
			s += fmt.Sprint(int(a.ClearedAt.Sub(start) / time.Minute))
		}
		out = append(out, s)
	}
	return fmt.Sprint(out)[1 : len(fmt.Sprint(out))-1]
}

func timesOf(start time.Time, ts []time.Time) string {
	var out []int
	for _, t := range ts {
		out = append(out, int(t.Sub(start)/time.Minute))
	}
	return fmt.Sprint(out)
}
