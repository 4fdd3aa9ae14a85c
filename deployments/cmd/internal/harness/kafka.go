// Package harness is what spacepulse-demo and spacepulse-bench share: an
// embedded Kafka cluster (franz-go's kfake) with the offset look-ups that
// tell when a consumer group has committed everything, and scratch
// ClickHouse databases that are dropped and recreated on every run.
package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka is an in-process, in-memory Kafka cluster of one broker listening on
// a random loopback port. Its data lives until Close.
type Kafka struct {
	// Addr is the broker's host:port, for -kafka-brokers.
	Addr string
	// Partitions is the partition count of every seeded topic.
	Partitions int32

	cluster *kfake.Cluster
	admin   *kgo.Client
}

// StartKafka starts a one-broker kfake cluster on 127.0.0.1 with topics, each
// of the given number of partitions. With dataDir "" the log is kept in this
// process's memory; otherwise in segment files under dataDir (the OS page
// cache then holds it, not this process), which Close does not remove.
func StartKafka(partitions int32, dataDir string, topics ...string) (*Kafka, error) {
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...)}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	addr := c.ListenAddrs()[0]
	admin, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("connect to embedded kafka %s: %w", addr, err)
	}
	return &Kafka{Addr: addr, Partitions: partitions, cluster: c, admin: admin}, nil
}

// ConnectKafka uses a real Kafka cluster instead of an embedded one: it
// creates topics (each with the given partitions, replication factor 1 or the
// broker default) and fails if one exists already, so that a run starts from
// empty topics.
func ConnectKafka(ctx context.Context, brokers []string, partitions int32, topics ...string) (*Kafka, error) {
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, fmt.Errorf("connect to kafka %v: %w", brokers, err)
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	for _, t := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = t, partitions, -1
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, admin)
	if err != nil {
		admin.Close()
		return nil, fmt.Errorf("create topics %v on %v: %w", topics, brokers, err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			admin.Close()
			return nil, fmt.Errorf("create topic %s on %v: %w (choose a new topic name)", t.Topic, brokers, err)
		}
	}
	if err := waitTopics(ctx, admin, partitions, topics); err != nil {
		admin.Close()
		return nil, err
	}
	return &Kafka{Addr: brokers[0], Partitions: partitions, admin: admin}, nil
}

// waitTopics waits until the broker's metadata has every topic with its partitions led: a
// producer that starts before that gets "Unknown Topic Or Partition" (CreateTopics returns once
// the controller has the topic, the broker's metadata follows a moment later).
func waitTopics(ctx context.Context, admin *kgo.Client, partitions int32, topics []string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req := kmsg.NewPtrMetadataRequest()
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
		resp, err := req.RequestWith(ctx, admin)
		ready := err == nil && len(resp.Topics) == len(topics)
		if ready {
			for _, t := range resp.Topics {
				led := 0
				for _, p := range t.Partitions {
					if p.ErrorCode == 0 && p.Leader >= 0 {
						led++
					}
				}
				if t.ErrorCode != 0 || (partitions > 0 && int32(led) < partitions) || led == 0 {
					ready = false
				}
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topics %v created but not in the broker's metadata after 30 s (last error: %v)", topics, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close stops the cluster (if embedded) and drops its data.
func (k *Kafka) Close() {
	k.admin.Close()
	if k.cluster != nil {
		k.cluster.Close()
	}
}

// Offsets are per-partition offsets of one topic, indexed by partition.
type Offsets []int64

// Sum adds up the offsets, treating "none" (-1) as 0.
func (o Offsets) Sum() int64 {
	var n int64
	for _, v := range o {
		n += max(v, 0)
	}
	return n
}

// Reached reports whether every partition of o is at or past want's.
func (o Offsets) Reached(want Offsets) bool {
	if len(o) != len(want) {
		return false
	}
	for p := range want {
		if o[p] < want[p] {
			return false
		}
	}
	return true
}

// EndOffsets returns the high watermark of every partition of topic: the
// offset the next message will get, so the count of messages written.
func (k *Kafka) EndOffsets(ctx context.Context, topic string) (Offsets, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	t := kmsg.NewListOffsetsRequestTopic()
	t.Topic = topic
	for p := range k.Partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.Timestamp = -1 // latest
		t.Partitions = append(t.Partitions, rp)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, k.admin)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	out := k.none()
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				return nil, fmt.Errorf("list end offset of %s/%d: %w", topic, rp.Partition, err)
			}
			if rp.Partition >= 0 && rp.Partition < k.Partitions {
				out[rp.Partition] = rp.Offset
			}
		}
	}
	return out, nil
}

// Committed returns the offsets group has committed on topic: the next
// offset it will read, -1 for a partition without a commit.
func (k *Kafka) Committed(ctx context.Context, group, topic string) (Offsets, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	t := kmsg.NewOffsetFetchRequestTopic()
	t.Topic = topic
	for p := range k.Partitions {
		t.Partitions = append(t.Partitions, p)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, k.admin)
	if err != nil {
		return nil, fmt.Errorf("fetch offsets of group %s: %w", group, err)
	}
	out := k.none()
	set := func(p int32, offset int64, code int16) error {
		if err := kerr.ErrorForCode(code); err != nil {
			return fmt.Errorf("fetch offset of group %s on %s/%d: %w", group, topic, p, err)
		}
		if p >= 0 && p < k.Partitions {
			out[p] = offset
		}
		return nil
	}
	// kgo answers in the batched (v8+) form or the classic one, depending
	// on what the broker speaks.
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("fetch offsets of group %s: %w", group, err)
	}
	for _, g := range resp.Groups {
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			return nil, fmt.Errorf("fetch offsets of group %s: %w", group, err)
		}
		for _, rt := range g.Topics {
			for _, rp := range rt.Partitions {
				if err := set(rp.Partition, rp.Offset, rp.ErrorCode); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if err := set(rp.Partition, rp.Offset, rp.ErrorCode); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (k *Kafka) none() Offsets {
	out := make(Offsets, k.Partitions)
	for i := range out {
		out[i] = -1
	}
	return out
}

// ErrGaveUp is returned by WaitCommitted when its context ends first.
var ErrGaveUp = errors.New("gave up waiting for the consumer group")

// WaitCommitted polls group's committed offsets on topic every interval until
// they reach end (every partition), calling progress (if not nil) with each
// reading. It returns when they do, or when ctx or stop ends: an error
// wrapping ErrGaveUp that says how far the group got.
func (k *Kafka) WaitCommitted(ctx context.Context, stop <-chan struct{}, group, topic string, end Offsets,
	interval time.Duration, progress func(Offsets)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last Offsets
	for {
		got, err := k.Committed(ctx, group, topic)
		if err == nil {
			last = got
			if progress != nil {
				progress(got)
			}
			if got.Reached(end) {
				return nil
			}
		}
		select {
		case <-t.C:
		case <-stop:
			return fmt.Errorf("group %s committed %d of %d messages before the consumer stopped: %w",
				group, last.Sum(), end.Sum(), ErrGaveUp)
		case <-ctx.Done():
			return fmt.Errorf("group %s committed %d of %d messages (%v): %w", group, last.Sum(), end.Sum(), ctx.Err(), ErrGaveUp)
		}
	}
}

// Admin is the cluster's own kgo client, for one-off requests and reads.
func (k *Kafka) Admin() *kgo.Client { return k.admin }
