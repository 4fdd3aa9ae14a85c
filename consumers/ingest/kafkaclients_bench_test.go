package ingest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkKafkaClients measures the CPU a consumer process spends per message in the Kafka
// client alone: kafka-go's Reader in a consumer group (what the pipeline uses) against franz-go's
// kgo consumer group, over the same 8-partition topic of 316-byte LZ4 messages on the real broker
// of deployments/local (SPACEPULSE_KAFKA_BROKERS). Each iteration reads the topic from the start
// in a new group. It is the figure behind the next step of the consumer's CPU target:
//
//	SPACEPULSE_INTEGRATION=1 go test -run '^$' -bench KafkaClients -benchtime 3x ./consumers/ingest/
func BenchmarkKafkaClients(b *testing.B) {
	broker := envOr("SPACEPULSE_KAFKA_BROKERS", "127.0.0.1:9092")
	if c, err := net.DialTimeout("tcp", broker, 2*time.Second); err != nil {
		if os.Getenv("SPACEPULSE_INTEGRATION") == "1" {
			b.Fatalf("Kafka at %s does not answer: %v", broker, err)
		}
		b.Skipf("Kafka at %s does not answer", broker)
	} else {
		c.Close()
	}
	brokers := strings.Split(broker, ",")
	const n = 1_000_000
	topic := randomName("clientbench-")
	ctx := context.Background()
	conn, err := kafka.Dial("tcp", brokers[0])
	if err != nil {
		b.Fatal(err)
	}
	err = conn.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: 8, ReplicationFactor: 1})
	conn.Close()
	if err != nil {
		b.Fatal(err)
	}
	p, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	val := []byte(`{"event_id":"0b6a2c1e-8f7d-4c3a-9e21-5d4f3b2a1c0e","kind":"join","ts":"2024-08-13T00:00:00.123Z",` +
		`"space_id":"1YqJDqWLyEMGV","session_id":"7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","user_id":"u1234567","role":"listener",` +
		`"client":"ios","app_version":"10.53.0","region":"us-east-1","country":"US","join_ms":734,"attempt":1}`)
	for i := range n {
		p.Produce(ctx, &kgo.Record{Key: fmt.Append(nil, i%1000), Value: val}, nil)
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	p.Close()

	measure := func(b *testing.B, consume func(group string)) {
		var used time.Duration
		runs := 0
		for b.Loop() {
			c0 := processCPU()
			consume(randomName("clientbench-group-"))
			used += processCPU() - c0
			runs++
		}
		b.ReportMetric(float64(used.Nanoseconds())/1000/float64(n*runs), "µs-cpu/msg")
	}
	b.Run("kafka-go", func(b *testing.B) {
		measure(b, func(group string) {
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, GroupID: group,
				StartOffset: kafka.FirstOffset, MaxBytes: 4 << 20, MaxWait: 100 * time.Millisecond})
			defer r.Close()
			for range n {
				if _, err := r.FetchMessage(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("franz-go", func(b *testing.B) {
		measure(b, func(group string) {
			c, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.FetchMaxPartitionBytes(4<<20))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			for got := 0; got < n; {
				f := c.PollFetches(ctx)
				if errs := f.Errors(); len(errs) > 0 {
					b.Fatal(errs[0].Err)
				}
				got += f.NumRecords()
			}
		})
	})
}

// processCPU is the user and system CPU this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
