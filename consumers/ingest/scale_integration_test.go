package ingest

import (
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// A group scaled 1 → 3 → 1 members while events arrive lands every event exactly once, and the
// rollups equal a brute-force count: partitions move to the members that join (their batches in
// flight committed by the old owner before it gives them up) and back when two members stop
// (cleanly: they drain and leave). The load has no producer duplicates, so any copy in events
// would be a redelivery across a rebalance.
func TestGroupScalesOneThreeOne(t *testing.T) {
	brokers, ch := servers(t)
	ch, conn := newDatabase(t, ch)
	topic := newTopic(t, brokers, randomName("scale-"), 6)
	group := randomName("scale-group-")
	load := makeLoad(50_000, time.Now().Add(-20*time.Minute), 61)
	var msgs []kafka.Message // without the duplicates makeLoad adds (they carry x-partition)
	for _, m := range load.msgs {
		dup := false
		for _, h := range m.Headers {
			dup = dup || h.Key == "x-partition"
		}
		if !dup {
			msgs = append(msgs, m)
		}
	}
	part := func(i int) []kafka.Message { return msgs[i*len(msgs)/5 : (i+1)*len(msgs)/5] }
	owned := func(r *running) int { return r.p.src.(*GroupReader).Owned() }
	landed := func() uint64 { return count(t, conn, "SELECT count() FROM events") }

	a := startPipeline(t, brokers, topic, topic+".dlq", group, ch, conn, nil)
	produce(t, brokers, topic, part(0))
	waitFor(t, "a to land events", func() (bool, string) { n := landed(); return n > 0, describe("%d landed", n) })
	b := startPipeline(t, brokers, topic, topic+".dlq", group, ch, conn, nil)
	c := startPipeline(t, brokers, topic, topic+".dlq", group, ch, conn, nil)
	produce(t, brokers, topic, part(1))
	waitFor(t, "the 3 members to share the 6 partitions", func() (bool, string) {
		return owned(a) > 0 && owned(b) > 0 && owned(c) > 0 && owned(a)+owned(b)+owned(c) == 6,
			describe("owned %d %d %d", owned(a), owned(b), owned(c))
	})
	produce(t, brokers, topic, part(2))
	before := landed()
	waitFor(t, "b and c to land events", func() (bool, string) {
		n := landed()
		return n > before && b.p.Stats().Events.Load() > 0 && c.p.Stats().Events.Load() > 0,
			describe("%d landed, b %d, c %d", n, b.p.Stats().Events.Load(), c.p.Stats().Events.Load())
	})
	produce(t, brokers, topic, part(3))
	if err := b.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := c.stop(t); err != nil {
		t.Fatal(err)
	}
	produce(t, brokers, topic, part(4))
	waitFor(t, "every event to land", func() (bool, string) {
		n := landed()
		return n >= uint64(len(load.events)), describe("%d of %d landed, a owns %d", n, len(load.events), owned(a))
	})
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	if n, distinct := landed(), count(t, conn, "SELECT uniqExact(event_id) FROM events"); n != uint64(len(load.events)) || distinct != n {
		t.Fatalf("events holds %d rows, %d distinct; want each of the %d events once", n, distinct, len(load.events))
	}
	// events is a ReplacingMergeTree, whose merges may have folded a copy already: the members'
	// own counts of the events they inserted must add up to each event once too.
	var inserted, dropped int64
	for _, r := range []*running{a, b, c} {
		inserted += r.p.Stats().Events.Load()
		dropped += r.p.src.(*GroupReader).DroppedCommits()
	}
	if inserted != int64(len(load.events)) {
		t.Fatalf("the members inserted %d events, want each of the %d once", inserted, len(load.events))
	}
	t.Logf("commits left out for revoked partitions: %d", dropped)
	checkFigures(t, conn, load.events)
}
