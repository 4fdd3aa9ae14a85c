package ingest

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A fetch of two partitions becomes messages in order, each with its own headers (one backing
// array, capped per message) and its partition's high watermark; a revoked partition is
// forgotten.
func TestGroupReaderMessages(t *testing.T) {
	r := newGroupReader(slog.New(slog.DiscardHandler), 0)
	at := time.UnixMilli(1723509737123)
	rec := func(p int32, off int64, hs ...string) *kgo.Record {
		rec := &kgo.Record{Topic: "t", Partition: p, Offset: off, Key: []byte("k"), Value: []byte("v"), Timestamp: at}
		for _, h := range hs {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h, Value: []byte(h + "-value")})
		}
		return rec
	}
	r.own(map[string][]int32{"t": {1, 3}})
	fs := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "t", Partitions: []kgo.FetchPartition{
		{Partition: 3, HighWatermark: 10, Records: []*kgo.Record{rec(3, 5, "content-type"), rec(3, 6)}},
		{Partition: 1, HighWatermark: 100, Records: []*kgo.Record{rec(1, 40, "a", "b")}},
	}}}}}
	ms := r.messages(fs, fs.NumRecords())
	f := func(i, partition int, offset, hwm int64, headers ...string) {
		t.Helper()
		m := ms[i]
		if m.Topic != "t" || m.Partition != partition || m.Offset != offset || m.HighWaterMark != hwm ||
			string(m.Key) != "k" || string(m.Value) != "v" || !m.Time.Equal(at) || len(m.Headers) != len(headers) {
			t.Fatalf("message %d = %+v, want partition %d offset %d hwm %d headers %v", i, m, partition, offset, hwm, headers)
		}
		for j, h := range headers {
			if m.Headers[j].Key != h || string(m.Headers[j].Value) != h+"-value" {
				t.Fatalf("message %d header %d = %s=%s, want %s", i, j, m.Headers[j].Key, m.Headers[j].Value, h)
			}
		}
	}
	if len(ms) != 3 {
		t.Fatalf("%d messages, want 3", len(ms))
	}
	f(0, 3, 5, 10, "content-type")
	f(1, 3, 6, 10)
	f(2, 1, 40, 100, "a", "b")
	// A header appended to one message (as a dead letter's are) does not overwrite the next's.
	ms[0].Headers = append(ms[0].Headers, kafka.Header{Key: "error"})
	f(2, 1, 40, 100, "a", "b")
	// The fetch positions of owned partitions; partition 1's are forgotten when it is revoked.
	if r.fetched[topicPartition{"t", 3}] != 7 || r.fetched[topicPartition{"t", 1}] != 41 {
		t.Fatalf("fetched = %v, want t/3 at 7 and t/1 at 41", r.fetched)
	}
	r.forget(map[string][]int32{"t": {1}})
	if r.Owns("t", 1) || !r.Owns("t", 3) || len(r.fetched) != 1 {
		t.Fatalf("after partition 1 was revoked: owns t/1 %v, t/3 %v, fetched %v; want false, true, t/3 only",
			r.Owns("t", 1), r.Owns("t", 3), r.fetched)
	}
}

// A fetch that keeps failing (here every fetch answers UNKNOWN_SERVER_ERROR for the partition)
// is logged and retried with a growing pause, not in a loop that spins on the answer.
func TestGroupReaderBacksOffOnFetchErrors(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	var fetches atomic.Int64
	cluster.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		fetches.Add(1)
		freq := req.(*kmsg.FetchRequest)
		resp := freq.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range freq.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.UnknownServerError.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	r, err := NewGroupReader(cluster.ListenAddrs(), "g", "t", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if ms, err := r.FetchMessages(ctx); err == nil || len(ms) != 0 {
		t.Fatalf("FetchMessages = %d messages, %v; want none and the context's error", len(ms), err)
	}
	// 3 s of pauses from 100 ms doubling: 100+200+400+800+1600 ms, so at most about 6 polls.
	if n := fetches.Load(); n == 0 || n > 12 {
		t.Fatalf("%d failed fetches in 3 s: want a few (backing off), and at least one", n)
	}
}
