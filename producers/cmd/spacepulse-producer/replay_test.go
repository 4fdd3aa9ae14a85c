package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"

	"github.com/spacepulse/spacepulse/producers/scenario"
)

func TestReplayFlags(t *testing.T) {
	f := func(args, wantErr string) {
		t.Helper()
		_, err := parse("replay", strings.Fields(args))
		switch {
		case wantErr == "" && err != nil:
			t.Fatalf("%q: %v", args, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Fatalf("%q: error %v, want one containing %q", args, err, wantErr)
		}
	}
	f("-scenario trump-musk-2024", "")
	f("-scenario desantis-2023 -scale 0.01 -seed 3 -speed 60 -no-jitter -truth t.json", "")
	f("", "-scenario is empty")
	f("-scenario nope", "unknown scenario")
	f("-scenario stress-8m -scale 0", "-scale 0")
	f("-scenario stress-8m -speed -1", "-speed -1")
	f("-scenario stress-8m -progress fancy", "-progress")
	f("-scenario stress-8m -encoding xml", "-encoding")
}

// TestReplayThroughKafka replays 0.1 % of the DeSantis night into an
// embedded broker and checks that Kafka holds exactly what the truth file
// says was delivered: every event, duplicates included.
func TestReplayThroughKafka(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "spaces.events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	truthFile := filepath.Join(t.TempDir(), "truth.json")
	args := []string{"-scenario", "desantis-2023", "-scale", "0.001", "-seed", "5", "-truth", truthFile,
		"-progress", "lines", "-kafka-brokers", cluster.ListenAddrs()[0]}
	cfg, err := parse("replay", args)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := run(ctx, "replay", cfg, logger); err != nil {
		t.Fatalf("replay: %v", err)
	}
	fh, err := os.Open(truthFile)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	truth, err := scenario.ReadTruth(fh)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()[0]), kgo.ConsumeTopics("spaces.events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var n int64
	ids := map[string]bool{}
	for n < truth.Delivered {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d messages: %v", n, truth.Delivered, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			ids[string(fastjson.GetBytes(r.Value, "event_id"))] = true
			if string(r.Key) != fastjson.GetString(r.Value, "session_id") {
				t.Fatalf("key %q is not the session_id of %s", r.Key, r.Value)
			}
		})
	}
	if n != truth.Delivered || int64(len(ids)) != truth.Events.Total || truth.Duplicates == 0 {
		t.Fatalf("kafka holds %d messages, %d distinct events; truth says %d delivered, %d events (%d duplicates)",
			n, len(ids), truth.Delivered, truth.Events.Total, truth.Duplicates)
	}
}
