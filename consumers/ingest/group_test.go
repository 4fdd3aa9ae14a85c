package ingest

import (
	"log/slog"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A fetch of two partitions becomes messages in order, each with its own headers (one backing
// array, capped per message) and its partition's high watermark; the lag is per partition and
// forgotten when the partition is revoked.
func TestGroupReaderMessages(t *testing.T) {
	r := &GroupReader{logger: slog.New(slog.DiscardHandler), lag: map[topicPartition]int64{}}
	at := time.UnixMilli(1723509737123)
	rec := func(p int32, off int64, hs ...string) *kgo.Record {
		rec := &kgo.Record{Topic: "t", Partition: p, Offset: off, Key: []byte("k"), Value: []byte("v"), Timestamp: at}
		for _, h := range hs {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h, Value: []byte(h + "-value")})
		}
		return rec
	}
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
	// Lag: partition 3 has 10-7 = 3 messages after the fetch, partition 1 has 59.
	if got := r.Lag(); got != 3+59 {
		t.Fatalf("Lag() = %d, want 62", got)
	}
	r.forget(map[string][]int32{"t": {1}})
	if got := r.Lag(); got != 3 {
		t.Fatalf("Lag() after partition 1 was revoked = %d, want 3", got)
	}
}
