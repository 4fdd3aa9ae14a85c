package ingest

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// TestCopiesAcrossMembers is the one case the landed-event index cannot see: two consumer
// processes in one group, and copies of landed events re-sent through every partition (a client
// that partitions differently), so that some reach the member that did not land the original
// and whose index loaded before it landed. That member inserts the copy and the rollups count it
// twice until the copy sweep repairs them. The test measures how long the figures stay wrong
// after the copies were sent (the bound the docs give), and fails above 60 s or if the figures
// are not exact afterwards.
func TestCopiesAcrossMembers(t *testing.T) {
	brokers, ch := servers(t)
	topic := newTopic(t, brokers, randomName("events-"), 4)
	dlq := newTopic(t, brokers, topic+".dlq", 1)
	ch, conn := newDatabase(t, ch)
	group := randomName("group-")
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)

	g := synth.NewGenerator(synth.Load{Events: 20_000, Spaces: 1, Seed: 21, Start: start, Duration: 4 * time.Minute, JoinErrorRate: 0.2})
	var evs []schemas.Event
	var ev schemas.Event
	for g.Next(&ev) {
		evs = append(evs, ev.Clone())
	}
	space := evs[0].SpaceID
	msg := func(e *schemas.Event, partition int) kafka.Message {
		var enc schemas.JSONEncoder
		key, _ := e.SessionID.MarshalText()
		hs := []kafka.Header{{Key: "content-type", Value: []byte(schemas.ContentTypeJSON)}}
		if partition >= 0 {
			hs = append(hs, kafka.Header{Key: "x-partition", Value: []byte(strconv.Itoa(partition))})
		}
		return kafka.Message{Key: key, Value: enc.AppendJSON(nil, e), Headers: hs}
	}
	member := func(c *Config) {
		c.Progress, c.Group, c.Sweep = ProgressTo(conn), group, SweepFrom(conn)
	}
	a := startPipeline(t, brokers, topic, dlq, group, ch, conn, nil, member)
	b := startPipeline(t, brokers, topic, dlq, group, ch, conn, nil, member)
	landed := func() int64 { return a.p.Stats().Events.Load() + b.p.Stats().Events.Load() }
	handled := func() int64 {
		return landed() + a.p.Stats().Duplicates.Load() + b.p.Stats().Duplicates.Load()
	}

	// Both members must hold partitions before the room is sent: probe until each landed some.
	var probes []schemas.Event
	for i := 0; a.p.Stats().Events.Load() == 0 || b.p.Stats().Events.Load() == 0; i++ {
		if i == 600 {
			t.Fatalf("the two members did not share the partitions within 60s: %d and %d events",
				a.p.Stats().Events.Load(), b.p.Stats().Events.Load())
		}
		e := evs[i%len(evs)] // a probe is a real event of the room, sent by key
		if i < len(evs) {
			probes = append(probes, e)
			produce(t, brokers, topic, []kafka.Message{msg(&e, -1)})
		}
		time.Sleep(100 * time.Millisecond)
	}
	var first []kafka.Message
	for i := len(probes); i < len(evs); i++ {
		first = append(first, msg(&evs[i], -1))
	}
	produce(t, brokers, topic, first)
	// A message can be handled twice here: the rebalance that gave b its partitions redelivers
	// what a had fetched and not committed (b drops it, or lands it too when a's insert was still
	// in flight: a copy across members like those below, which the sweep repairs as well).
	waitFor(t, "the room landed", func() (bool, string) {
		n := count(t, conn, "SELECT uniqExact(event_id) FROM events")
		return handled() >= int64(len(evs)) && n == uint64(len(evs)), describe("%d handled, %d distinct events stored, of %d", handled(), n, len(evs))
	})
	if landed() < int64(len(evs)) {
		t.Fatalf("%d events landed of %d sent", landed(), len(evs))
	}

	// Copies of 2,000 landed events through every partition: a quarter of each event's copies
	// reach its own partition (kept out by the index), the others partitions that either member
	// may own.
	r := rand.New(rand.NewPCG(7, 8))
	var copies []kafka.Message
	for range 2_000 {
		e := &evs[r.IntN(len(evs))]
		for p := range 4 {
			copies = append(copies, msg(e, p))
		}
	}
	// Let a redelivery still in flight finish before counting what the copies do.
	for last, still := handled(), 0; still < 4; still++ {
		time.Sleep(500 * time.Millisecond)
		if n := handled(); n != last {
			last, still = n, -1
		}
	}
	before, handledBefore := landed(), handled()
	sentAt := time.Now() // no copy can land before: the bound is measured from here
	produce(t, brokers, topic, copies)
	waitFor(t, "every copy handled", func() (bool, string) {
		n := handled() - handledBefore
		return n == int64(len(copies)), describe("%d of %d", n, len(copies))
	})
	through := landed() - before
	if through == 0 {
		t.Fatal("no copy got past the index: the test did not exercise the case the sweep is for")
	}

	from, to := start.Add(-time.Minute), start.Add(5*time.Minute)
	want := curveOf(evs, from, to)
	wantAtt, wantTech := attemptsOf(evs, from, to)
	exact := func() (bool, string) {
		curve, err := warehouse.Concurrency(context.Background(), conn, space, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(curve) != len(want) {
			t.Fatalf("curve of %d seconds, want %d", len(curve), len(want))
		}
		for i, p := range curve {
			if p.Listeners != want[i] {
				return false, describe("CCL(%s) = %d, brute force %d", p.Time.Format(time.TimeOnly), p.Listeners, want[i])
			}
		}
		rates, err := warehouse.FailureRate(context.Background(), conn, space, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(rates) != len(wantAtt) {
			t.Fatalf("failure rate of %d minutes, want %d", len(rates), len(wantAtt))
		}
		for i, m := range rates {
			if m.Attempts != wantAtt[i] || m.TechnicalFailures != wantTech[i] {
				return false, describe("minute %s: %d attempts, %d technical; brute force %d, %d",
					m.Start.Format(time.TimeOnly), m.Attempts, m.TechnicalFailures, wantAtt[i], wantTech[i])
			}
		}
		return true, ""
	}
	deadline := sentAt.Add(60 * time.Second)
	for {
		ok, state := exact()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("figures still wrong 60s after the copies were sent (%d copies got past the index): %s", through, state)
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(sentAt)
	// The figures stay exact: a later sweep (the rechecks) must not over-correct.
	time.Sleep(DefaultSweepInterval * 2)
	if ok, state := exact(); !ok {
		t.Fatalf("figures wrong again after the rechecks: %s", state)
	}
	repairs := a.p.Stats().SweepRepairs.Load() + b.p.Stats().SweepRepairs.Load()
	sweeps := a.p.Stats().Sweeps.Load() + b.p.Stats().Sweeps.Load()
	if repairs == 0 {
		t.Fatalf("figures exact but no sweep repaired anything, with %d copies past the index", through)
	}
	if n := count(t, conn, "SELECT count() FROM events FINAL"); n != uint64(len(evs)) {
		t.Fatalf("events FINAL holds %d events, want %d", n, len(evs))
	}
	t.Logf("%d of %d copies got past the index of the member that did not land the original; figures exact %.1fs after the copies were sent (sweep every %s); %d sweeps, %d rollup rows corrected; events holds %d rows before merges fold the copies",
		through, len(copies), took.Seconds(), DefaultSweepInterval, sweeps, repairs, count(t, conn, "SELECT count() FROM events"))
}

// TestRedeliveryRepairsShortRollups: a consumer and the ClickHouse server killed together during
// an insert can leave the events stored and (18.16 writing the views' parts after the table's)
// their rollup rows missing, with nobody left to retry the insert and reconcile it. The new owner
// of the partition gets those messages again, finds them all landed, and must not trust the
// rollups: it has the copy sweep check their minutes even though it is alone in its group. The
// state is made by hand: the events inserted, then the rollups of the first two minutes cancelled.
func TestRedeliveryRepairsShortRollups(t *testing.T) {
	brokers, ch := servers(t)
	topic := newTopic(t, brokers, randomName("events-"), 2)
	dlq := newTopic(t, brokers, topic+".dlq", 1)
	ch, conn := newDatabase(t, ch)
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	g := synth.NewGenerator(synth.Load{Events: 5_000, Spaces: 1, Seed: 33, Start: start, Duration: 4 * time.Minute})
	var evs []schemas.Event
	var ev schemas.Event
	for g.Next(&ev) {
		evs = append(evs, ev.Clone())
	}
	app := schemas.NewAppender(memory.DefaultAllocator)
	defer app.Release()
	var msgs []kafka.Message
	for i := range evs {
		app.Append(&evs[i], 0, int64(i))
		var enc schemas.JSONEncoder
		key, _ := evs[i].SessionID.MarshalText()
		msgs = append(msgs, kafka.Message{Key: key, Value: enc.AppendJSON(nil, &evs[i])})
	}
	rec := app.NewRecord()
	defer rec.Release()
	ctx := context.Background()
	if err := NewSink(conn, ch.Database).WriteBlock(ctx, rec, false); err != nil {
		t.Fatal(err)
	}
	cut := start.Add(2 * time.Minute)
	for _, q := range []string{
		`INSERT INTO space_second_counts SELECT space_id, second, class, -toInt64(sum(events)) FROM space_second_counts WHERE second < @cut GROUP BY space_id, second, class`,
		`INSERT INTO space_minute_counts SELECT space_id, minute, ` + reconcileMinuteCols + `, -toInt64(sum(events)) FROM space_minute_counts WHERE minute < @cut GROUP BY space_id, minute, ` + reconcileMinuteCols,
	} {
		if err := conn.Exec(ctx, q, clickhouse.DateNamed("cut", cut, clickhouse.Seconds)); err != nil {
			t.Fatal(err)
		}
	}
	space := evs[0].SpaceID
	from, to := start.Add(-time.Minute), start.Add(5*time.Minute)
	want := curveOf(evs, from, to)
	exact := func() (bool, string) {
		curve, err := warehouse.Concurrency(ctx, conn, space, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(curve) != len(want) {
			t.Fatalf("curve of %d seconds, want %d", len(curve), len(want))
		}
		for i, p := range curve {
			if p.Listeners != want[i] {
				return false, describe("CCL(%s) = %d, brute force %d", p.Time.Format(time.TimeOnly), p.Listeners, want[i])
			}
		}
		return true, ""
	}
	if ok, _ := exact(); ok {
		t.Fatal("the rollups were not made short: the test would prove nothing")
	}

	produce(t, brokers, topic, msgs) // the uncommitted tail the new owner gets
	group := randomName("group-")
	run := startPipeline(t, brokers, topic, dlq, group, ch, conn, nil, func(c *Config) {
		c.Progress, c.Group, c.Sweep = ProgressTo(conn), group, SweepFrom(conn)
	})
	waitFor(t, "every message handled", func() (bool, string) {
		n := run.p.Stats().Duplicates.Load()
		return n == int64(len(evs)), describe("%d of %d duplicates", n, len(evs))
	})
	if n := run.p.Stats().Events.Load(); n != 0 {
		t.Fatalf("%d events inserted again", n)
	}
	waitFor(t, "the rollups repaired", exact)
	// The curve is the per-second rollup; the sweep repairs the minute rollup after it. Wait for
	// every rollup to agree (a read), and stop the consumer before reconciling here: two
	// Reconcile calls at once (the sweep's and this one) could both correct a cell.
	waitFor(t, "every rollup repaired", func() (bool, string) {
		raw, rolled, err := warehouse.CountsAgree(ctx, conn, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return raw == rolled, describe("a rollup counts %d events of %d", rolled, raw)
	})
	if err := run.stop(t); err != nil {
		t.Fatal(err)
	}
	rep, err := warehouse.Reconcile(ctx, conn, from, to, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Seconds != 0 || rep.Minutes != 0 {
		t.Fatalf("Reconcile still finds %+v to correct", rep)
	}
	t.Logf("%d redelivered events all landed already; the sweep corrected %d rollup rows", len(evs), run.p.Stats().SweepRepairs.Load())
}

// reconcileMinuteCols are space_minute_counts' key columns after space_id and minute.
const reconcileMinuteCols = "kind, phase, technical, code, reason, client, app_version, region, country"
