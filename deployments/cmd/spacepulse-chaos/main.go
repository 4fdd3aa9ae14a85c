// Command spacepulse-chaos replays a night through a real Kafka broker into a real ClickHouse
// while it injects faults, then checks that nothing was lost or counted twice: it starts a
// ClickHouse and a Kafka of its own (deployments/local/clickhouse.sh and kafka.sh with the run
// dir -run-dir and ports of their own; the shared servers on 9000 and 9092 are never touched),
// runs spacepulse-migrate once and real spacepulse-consumer processes in one group, replays the
// scenario through the producer library at a pace that spreads it over the profile's load time,
// and meanwhile SIGKILLs consumers at random moments (each restarted 1-5 s later), stops
// ClickHouse for a minute, restarts the broker and scales the group 1 -> 3 -> 1. The faults come
// from a seeded plan (Plan): the seed is printed and -seed replays it. When the group has
// committed everything and the copy sweep has had its time, it compares every event id, every
// figure and every second of the concurrency curve with the ground truth of the generated
// events, prints
//
//	lost N, double-counted N, wrong seconds N
//
// and the faults it injected, stops everything it started (on failure and interrupt too) and
// exits 1 if anything differs. make chaos runs -profile full (about 7 minutes), make
// chaos-short -profile short (under 3).
//
// -profile cluster (make test-cluster) runs on the loopback cluster of
// deployments/local/cluster-up.sh instead (run dir .run/cluster: ZooKeeper, ClickHouse as 2
// shards x 2 replicas, 3 KRaft brokers), migrated with spacepulse-migrate -cluster, with three
// consumers (-cluster) in the group from start to end, each reaching the cluster through another
// server first; it SIGKILLs one of those ClickHouse servers (started again 15 s later), one
// broker (5-10 s) and two consumers, the first for 20 s, long enough for the group to hand its
// partitions to the others, which the run checks (every partition's committed offset moves while
// it is dead). Besides the verdict it prints the end-to-end throughput and checks that both
// replicas of each shard hold the same rows. -profile cluster-bench replays a tenth of the night
// as fast as it goes, without faults, for the cluster's events/s.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spacepulse/spacepulse/consumers/ingest"
	"github.com/spacepulse/spacepulse/schemas/cli"
)

type config struct {
	Profile    Profile
	Seed       uint64
	Scenario   string
	Partitions int
	RunDir     string // the servers' run dir, the binaries and the consumers' logs
	Ports      ports
	Database   string
	// Commit bounds the wait for the group to commit everything after the load.
	Commit time.Duration
	// Sweep is how long to wait after that for the copy sweep (consumers/ingest/doc.go).
	Sweep time.Duration
}

func main() {
	cfg, fs, err := parse(os.Args[1:])
	if err != nil {
		fs.Exit(err, "usage: spacepulse-chaos [-profile full|short] [-seed N] [flags]; flags only, no SPACEPULSE_* variables")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "spacepulse-chaos:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

// parse reads the flags (and no SPACEPULSE_* variable: the run has servers of its own, and the
// scripts' SPACEPULSE_*_PORT variables must not aim it at the shared ones).
func parse(args []string) (config, *cli.FlagSet, error) {
	var c config
	fs := cli.New("spacepulse-chaos")
	fs.NoEnv = true
	profile := fs.String("profile", "full", "full (make chaos: 300 s of load, 6 kills), short (make chaos-short: 100 s, 2 kills), cluster (make test-cluster: the loopback cluster, 90 s, 3 consumers, 2 consumer kills, a ClickHouse replica and a broker killed) or cluster-bench (the cluster, no faults, as fast as it goes)")
	fs.Uint64Var(&c.Seed, "seed", 0, "seed of the fault plan and of the scenario (0: a new one from the clock, printed)")
	scale := fs.Float64("scale", 0, "share of the scenario's listeners to replay (0: the profile's, full 0.1, short 0.03)")
	load := fs.Duration("load", 0, "wall time of the paced replay, during which every fault starts (0: the profile's)")
	kills := fs.Int("kills", -1, "consumers to SIGKILL during the load (-1: the profile's, full 6, short 2)")
	outage := fs.Duration("clickhouse-outage", 0, "how long ClickHouse stays stopped (0: the profile's, 60s)")
	fs.StringVar(&c.Scenario, "scenario", "trump-musk-2024", "night to replay: a scenario name or YAML file (producers/scenario)")
	fs.IntVar(&c.Partitions, "partitions", 8, "partitions of the run's topic (at least 3, for three members)")
	fs.StringVar(&c.RunDir, "run-dir", "", "the run's own servers (SPACEPULSE_RUN_DIR of the scripts; SPACEPULSE_CLUSTER_RUN_DIR for the cluster profiles), binaries and consumer logs (default .run/chaos, .run/cluster for the cluster profiles)")
	fs.IntVar(&c.Ports.ClickHouse, "clickhouse-port", 9170, "native port of the run's ClickHouse")
	fs.IntVar(&c.Ports.ClickHouseHTTP, "clickhouse-http-port", 8170, "HTTP port of the run's ClickHouse")
	fs.IntVar(&c.Ports.ClickHouseTLS, "clickhouse-tls-port", 9470, "TLS port of the run's ClickHouse")
	fs.IntVar(&c.Ports.Kafka, "kafka-port", 19170, "port of the run's Kafka broker")
	fs.IntVar(&c.Ports.KafkaController, "kafka-controller-port", 19171, "KRaft controller port of the run's Kafka")
	fs.IntVar(&c.Ports.KafkaSASL, "kafka-sasl-port", 19172, "SASL_SSL port of the run's Kafka (unused by the run, but the script opens it)")
	fs.StringVar(&c.Database, "clickhouse-database", "spacepulse_chaos", "database of the run (dropped and recreated on the run's ClickHouse)")
	fs.DurationVar(&c.Commit, "commit-timeout", 3*time.Minute, "give up if the group has not committed everything this long after the load")
	fs.DurationVar(&c.Sweep, "sweep-wait", ingest.DefaultSweepInterval+5*time.Second,
		"wait this long after the last commit before checking: a copy two members landed is counted twice until a sweep repairs it (about the sweep interval + 3 s)")
	if err := fs.Parse(args); err != nil {
		return c, fs, err
	}
	c, err := c.check(*profile, *scale, *load, *kills, *outage)
	return c, fs, err
}

// check applies the profile and the overrides given, and reports the first setting that
// cannot work.
func (c config) check(profile string, scale float64, load time.Duration, kills int, outage time.Duration) (config, error) {
	switch profile {
	case "full":
		c.Profile = Full
	case "short":
		c.Profile = Short
	case "cluster":
		c.Profile = ClusterProfile
	case "cluster-bench":
		c.Profile = ClusterBench
	default:
		return c, fmt.Errorf("-profile %q: want full, short, cluster or cluster-bench", profile)
	}
	if c.RunDir == "" {
		c.RunDir = ".run/chaos"
		if c.Profile.Cluster {
			c.RunDir = ".run/cluster"
		}
	}
	if scale != 0 {
		c.Profile.Scale = scale
	}
	if load != 0 {
		c.Profile.Load = load
	}
	if kills >= 0 {
		c.Profile.Kills = kills
	}
	if outage != 0 {
		c.Profile.Outage = outage
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano()%1_000_000) + 1
	}
	p := c.Profile
	switch {
	case p.Scale <= 0 || p.Scale > 1:
		return c, fmt.Errorf("-scale %g: want a share of the listeners, above 0 and at most 1", p.Scale)
	case p.Load < 30*time.Second:
		return c, fmt.Errorf("-load %s: want at least 30s, for the faults to fall into it", p.Load)
	case p.Kills < 0 || p.Kills > 100:
		return c, fmt.Errorf("-kills %d: want 0 to 100", p.Kills)
	case p.Outage < time.Second:
		return c, fmt.Errorf("-clickhouse-outage %s: want at least 1s", p.Outage)
	case c.Partitions < 3 || c.Partitions > 256:
		return c, fmt.Errorf("-partitions %d: want 3 to 256 (three members share them)", c.Partitions)
	case c.Ports.ClickHouse == 9000 || c.Ports.Kafka == 9092 || c.Ports.KafkaSASL == 9094:
		return c, errors.New("-clickhouse-port 9000, -kafka-port 9092 and -kafka-sasl-port 9094 are the shared servers' ports, which a chaos run must never stop: choose others")
	case c.Commit <= 0 || c.Sweep < 0:
		return c, errors.New("-commit-timeout must be positive and -sweep-wait not negative")
	}
	return c, nil
}
