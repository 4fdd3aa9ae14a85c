package ingest

import (
	"context"
	"maps"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"github.com/spacepulse/spacepulse/producers/synth"
	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

// curveOf is the brute-force CCL of evs (one space) for every second of [from, to].
func curveOf(evs []schemas.Event, from, to time.Time) []int64 {
	n := int(to.Sub(from)/time.Second) + 1
	delta := make([]int64, n)
	var base int64
	for _, e := range evs {
		d := int64(0)
		switch e.Kind {
		case schemas.KindJoin:
			d = 1
		case schemas.KindLeave:
			d = -1
		}
		i := int(floorDiv(e.TS, 1000) - from.Unix())
		switch {
		case i < 0:
			base += d
		case i < n:
			delta[i] += d
		}
	}
	out := make([]int64, n)
	for i := range out {
		base += delta[i]
		out[i] = base
	}
	return out
}

// usersOf is the brute-force per-user figures of evs per minute of [from, to] (the
// UserFailureRate buckets of 60 s), by the minute's unix second: users with an attempt, and of
// them those with no join in the minute.
func usersOf(evs []schemas.Event, from, to time.Time) map[int64][2]int64 {
	attempted, joined := map[int64]map[string]bool{}, map[int64]map[string]bool{}
	for _, e := range evs {
		sec := floorDiv(e.TS, 1000)
		if sec < from.Unix() || sec > to.Unix() || !(e.Kind == schemas.KindJoin || e.Kind == schemas.KindError && e.Phase == schemas.PhaseJoin) {
			continue
		}
		m := sec / 60 * 60
		if attempted[m] == nil {
			attempted[m], joined[m] = map[string]bool{}, map[string]bool{}
		}
		attempted[m][e.UserID] = true
		if e.Kind == schemas.KindJoin {
			joined[m][e.UserID] = true
		}
	}
	out := map[int64][2]int64{}
	for m, us := range attempted {
		out[m] = [2]int64{int64(len(us)), int64(len(us) - len(joined[m]))}
	}
	return out
}

// attemptsOf is the brute-force join attempts and technical failures of evs per minute of
// [from, to] (the FailureRate buckets).
func attemptsOf(evs []schemas.Event, from, to time.Time) (attempts, technical []int64) {
	first := from.Unix() / 60
	n := int(to.Unix()/60-first) + 1
	attempts, technical = make([]int64, n), make([]int64, n)
	for _, e := range evs {
		sec := floorDiv(e.TS, 1000)
		if sec < from.Unix() || sec > to.Unix() {
			continue
		}
		i := int(sec/60 - first)
		if e.Kind == schemas.KindJoin || e.Kind == schemas.KindError && e.Phase == schemas.PhaseJoin {
			attempts[i]++
		}
		if e.IsTechnicalJoinError() {
			technical[i]++
		}
	}
	return attempts, technical
}

// TestFiguresExactWhileLive is the point of landing each event once: while a consumer runs,
// copies of landed events keep arriving (through their own partition and through others), and
// late events of another room keep arriving (some older than the consumer's in-memory index,
// so it looks them up in ClickHouse), each of them also copied; meanwhile the concurrency curve
// the per-minute failure rates and the per-minute join latency are queried in a loop. Every answer for the landed room must
// equal the brute-force figures exactly, at every moment; the late room's curve may only grow
// towards its final brute-force curve (never above it: a copy counted twice would go above), and
// equals it once everything is in.
func TestFiguresExactWhileLive(t *testing.T) {
	brokers, ch := servers(t)
	ch, conn := newDatabase(t, ch)
	figuresExactWhileLive(t, brokers, ch, conn)
}

// TestClusterFiguresExactWhileLive is TestFiguresExactWhileLive on the loopback cluster
// (deployments/local/cluster-up.sh): the cluster schema, its three brokers and a -cluster sink,
// every answer read through the Distributed tables while blocks land on the shards.
func TestClusterFiguresExactWhileLive(t *testing.T) {
	conn, ch := warehousetest.NewClusterDatabase(t)
	brokers := strings.Split(envOr("SPACEPULSE_TEST_CLUSTER_KAFKA", "127.0.0.1:19201,127.0.0.1:19202,127.0.0.1:19203"), ",")
	figuresExactWhileLive(t, brokers, ch, conn)
}

func figuresExactWhileLive(t *testing.T, brokers []string, ch warehouse.Config, conn driver.Conn) {
	topic := newTopic(t, brokers, randomName("events-"), 4)
	dlq := newTopic(t, brokers, topic+".dlq", 1)
	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)

	// Room A: landed before the live part starts.
	g := synth.NewGenerator(synth.Load{Events: 30_000, Spaces: 1, Seed: 9, Start: start, Duration: 5 * time.Minute, JoinErrorRate: 0.3})
	var landed []schemas.Event
	var ev schemas.Event
	for g.Next(&ev) {
		landed = append(landed, ev.Clone())
	}
	spaceA := landed[0].SpaceID
	msg := func(e *schemas.Event, partition int) kafka.Message {
		var enc schemas.JSONEncoder
		key, _ := e.SessionID.MarshalText()
		hs := []kafka.Header{{Key: "content-type", Value: []byte(schemas.ContentTypeJSON)}}
		if partition >= 0 { // a copy sent by a client that keys (or partitions) differently
			hs = append(hs, kafka.Header{Key: "x-partition", Value: []byte(strconv.Itoa(partition))})
		}
		return kafka.Message{Key: key, Value: enc.AppendJSON(nil, e), Headers: hs}
	}
	var first []kafka.Message
	for i := range landed {
		first = append(first, msg(&landed[i], -1))
	}
	run := startPipeline(t, brokers, topic, dlq, randomName("group-"), ch, conn, nil)
	produce(t, brokers, topic, first)
	waitFor(t, "room A landed", func() (bool, string) {
		n := run.p.Stats().Events.Load()
		return n == int64(len(landed)), describe("%d of %d", n, len(landed))
	})

	// Room B: late joins and join errors, a third of them 2 hours older than room A (beyond the
	// index's 15-minute window, so looked up in ClickHouse), sent while the queries run.
	rng := rand.New(rand.NewPCG(3, 4))
	var late []schemas.Event
	for i := range 6_000 {
		e := schemas.Event{EventID: uuid.New(), SessionID: uuid.New(), SpaceID: "late-room", UserID: "u" + strconv.Itoa(i),
			Role: schemas.RoleListener, JoinMS: -1, Kind: schemas.KindJoin,
			TS: start.Add(time.Duration(rng.IntN(300_000)) * time.Millisecond).UnixMilli()}
		if i%3 == 0 {
			e.TS = start.Add(-2*time.Hour + time.Duration(rng.IntN(300_000))*time.Millisecond).UnixMilli()
		}
		if i%4 == 0 {
			e.Kind, e.Phase, e.Code = schemas.KindError, schemas.PhaseJoin, "timeout"
		}
		late = append(late, e)
	}
	fromA, toA := start.Add(-time.Minute), start.Add(6*time.Minute)
	wantCurveA := curveOf(landed, fromA, toA)
	wantAttA, wantTechA := attemptsOf(landed, fromA, toA)
	wantUsersA := usersOf(landed, fromA, toA)
	wantLatA := latencyByMinute(landed)
	fromB, toB := start.Add(-2*time.Hour-time.Minute), start.Add(6*time.Minute)
	finalB := curveOf(late, fromB, toB)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sent sync.WaitGroup
	var copies atomic.Int64
	var answered atomic.Int64 // answers checked so far: a burst waits for one after the last
	sent.Add(1)
	go func() { // copies of room A and the late room B with its own copies, in small bursts
		defer sent.Done()
		w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &partitionBalancer{},
			RequiredAcks: kafka.RequireAll, BatchSize: 500, BatchTimeout: 2 * time.Millisecond, Transport: &kafka.Transport{}}
		defer w.Close()
		r := rand.New(rand.NewPCG(5, 6))
		for i := 0; ctx.Err() == nil && i < 40; i++ {
			for answered.Load() < int64(i) && ctx.Err() == nil { // queries interleave with every burst
				time.Sleep(5 * time.Millisecond)
			}
			var burst []kafka.Message
			for range 300 { // copies of landed events: own partition or another
				e := &landed[r.IntN(len(landed))]
				burst = append(burst, msg(e, r.IntN(3)*2-1)) // -1: by key; 1, 3: another partition
			}
			for _, e := range late[i*len(late)/40 : (i+1)*len(late)/40] {
				burst = append(burst, msg(&e, -1))
			}
			for range 50 { // copies of late events already sent
				e := &late[r.IntN((i+1)*len(late)/40)]
				burst = append(burst, msg(e, r.IntN(4)))
			}
			if err := w.WriteMessages(ctx, burst...); err != nil {
				if ctx.Err() == nil {
					t.Errorf("produce burst %d: %v", i, err)
				}
				return
			}
			copies.Add(350)
			time.Sleep(150 * time.Millisecond)
		}
	}()
	done := make(chan struct{})
	go func() { sent.Wait(); close(done) }()

	answers := 0
	prevB := make([]int64, len(finalB))
	check := func(final bool) {
		t.Helper()
		curve, err := warehouse.Concurrency(ctx, conn, spaceA, fromA, toA)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range curve {
			if p.Listeners != wantCurveA[i] {
				t.Fatalf("answer %d: room A CCL(%s) = %d, brute force %d (copies sent so far: %d)",
					answers, p.Time.Format(time.TimeOnly), p.Listeners, wantCurveA[i], copies.Load())
			}
		}
		rates, err := warehouse.FailureRate(ctx, conn, spaceA, fromA, toA)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range rates {
			if b.Attempts != wantAttA[i] || b.TechnicalFailures != wantTechA[i] {
				t.Fatalf("answer %d: room A minute %s: %d attempts, %d technical; brute force %d, %d",
					answers, b.Start.Format(time.TimeOnly), b.Attempts, b.TechnicalFailures, wantAttA[i], wantTechA[i])
			}
		}
		users, err := warehouse.UserFailureRate(ctx, conn, spaceA, fromA, toA, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		gotUsers := map[int64][2]int64{}
		for i, tm := range users.Time {
			gotUsers[tm.Unix()] = [2]int64{users.Users[i], users.TechnicalFailures[i]}
		}
		if !maps.Equal(gotUsers, wantUsersA) {
			t.Fatalf("answer %d: room A users attempting and failed per minute differ from brute force (copies sent so far: %d):\n got %.300v\nwant %.300v",
				answers, copies.Load(), gotUsers, wantUsersA)
		}
		if got := latencyAnswer(t, conn, spaceA, fromA, toA); !maps.Equal(got, wantLatA) {
			t.Fatalf("answer %d: room A join latency per minute differs from brute force (copies sent so far: %d):\n got %.300v\nwant %.300v",
				answers, copies.Load(), got, wantLatA)
		}
		curveB, err := warehouse.Concurrency(ctx, conn, "late-room", fromB, toB)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range curveB {
			switch {
			case p.Listeners > finalB[i]:
				t.Fatalf("answer %d: late room CCL(%s) = %d, above its final brute force %d: an event counted twice",
					answers, p.Time.Format(time.DateTime), p.Listeners, finalB[i])
			case p.Listeners < prevB[i]:
				t.Fatalf("answer %d: late room CCL(%s) = %d, below an earlier answer %d: a landed event lost",
					answers, p.Time.Format(time.DateTime), p.Listeners, prevB[i])
			case final && p.Listeners != finalB[i]:
				t.Fatalf("late room CCL(%s) = %d once all landed, brute force %d", p.Time.Format(time.DateTime), p.Listeners, finalB[i])
			}
			prevB[i] = p.Listeners
		}
		answers++
		answered.Store(int64(answers))
	}
	for live := true; live; {
		select {
		case <-done:
			live = false
		default:
		}
		check(false)
	}
	if t.Failed() {
		return
	}
	waitFor(t, "every late event landed", func() (bool, string) {
		n := count(t, conn, "SELECT count() FROM events WHERE space_id = 'late-room'")
		return n == uint64(len(late)), describe("%d of %d", n, len(late))
	})
	// Everything sent is committed: no copy is still on its way.
	waitFor(t, "every message handled", func() (bool, string) {
		s := run.p.Stats()
		n := s.Events.Load() + s.Duplicates.Load()
		want := int64(len(landed)+len(late)) + copies.Load()
		return n == want, describe("%d of %d", n, want)
	})
	check(true)
	if n := count(t, conn, "SELECT count() FROM events"); n != uint64(len(landed)+len(late)) {
		t.Fatalf("events holds %d rows, want %d: each event once", n, len(landed)+len(late))
	}
	s := run.p.Stats()
	t.Logf("%d answers while live, all exact; %d copies dropped, %d late events looked up, %d index loads",
		answers, s.Duplicates.Load(), s.Lookups.Load(), s.Loads.Load())
	if answers < 40 || s.Lookups.Load() == 0 || s.Duplicates.Load() < copies.Load() {
		t.Fatalf("the test did not exercise the live path: %d answers, %d lookups, %d copies dropped of %d sent",
			answers, s.Lookups.Load(), s.Duplicates.Load(), copies.Load())
	}
}
