package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// fleet is the run's servers: one ClickHouse and one broker (servers), or the loopback cluster
// (cluster).
type fleet interface {
	start(ctx context.Context) error
	stop(ctx context.Context) error
	clickhouseAddrs() []string
	kafkaBrokers() []string
	dir() string
}

var (
	_ fleet = (*servers)(nil)
	_ fleet = (*cluster)(nil)
)

func (s *servers) clickhouseAddrs() []string { return []string{s.ports.clickhouseAddr()} }
func (s *servers) kafkaBrokers() []string    { return []string{s.ports.kafkaAddr()} }
func (s *servers) dir() string               { return s.runDir }

// cluster is the loopback cluster of deployments/local/cluster-up.sh (ZooKeeper, ClickHouse as 2
// shards x 2 replicas, 3 KRaft brokers) in a run dir of its own, on the scripts' ports
// (cluster-lib.sh: ClickHouse 9201-9204, Kafka 19201-19203, ZooKeeper 12181), which are neither
// the shared servers' nor make chaos's.
type cluster struct {
	repo, runDir string
	name         string // the ClickHouse cluster (remote_servers)
	log          *os.File
}

const (
	clusterClickHouseBase = 9200
	clusterKafkaBase      = 19200
	clusterServers        = 4
	clusterBrokers        = 3
)

func newCluster(repo, runDir string) (*cluster, error) {
	abs, f, err := openRunDir(runDir)
	if err != nil {
		return nil, err
	}
	return &cluster{repo: repo, runDir: abs, name: "spacepulse", log: f}, nil
}

func (c *cluster) dir() string { return c.runDir }

func (c *cluster) clickhouseAddrs() []string {
	var out []string
	for i := 1; i <= clusterServers; i++ {
		out = append(out, "127.0.0.1:"+strconv.Itoa(clusterClickHouseBase+i))
	}
	return out
}

func (c *cluster) kafkaBrokers() []string {
	var out []string
	for j := 1; j <= clusterBrokers; j++ {
		out = append(out, "127.0.0.1:"+strconv.Itoa(clusterKafkaBase+j))
	}
	return out
}

// script runs deployments/local/NAME.sh ARGS with the cluster's run dir; output to servers.log
// and, when it fails, into the error.
func (c *cluster) script(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.repo, "deployments/local", name+".sh"), args...)
	cmd.Env = append(cleanEnv(), "SPACEPULSE_CLUSTER_RUN_DIR="+c.runDir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	fmt.Fprintf(c.log, "--- %s %s.sh %s\n%s", time.Now().Format(time.TimeOnly), name, strings.Join(args, " "), out.Bytes())
	if err != nil {
		return fmt.Errorf("%s.sh %s: %w\n%s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// start starts the whole cluster (cluster-up.sh) and checks that every server answering is
// one of its run dir.
func (c *cluster) start(ctx context.Context) error {
	if err := c.script(ctx, "cluster-up"); err != nil {
		return err
	}
	for i := 1; i <= clusterServers; i++ {
		if _, err := c.pid("clickhouse", i); err != nil {
			return err
		}
	}
	for j := 1; j <= clusterBrokers; j++ {
		if _, err := c.pid("kafka", j); err != nil {
			return err
		}
	}
	return nil
}

func (c *cluster) stop(ctx context.Context) error { return c.script(ctx, "cluster-down") }

// pid returns the live pid of ClickHouse server or Kafka broker n of the run dir: its pid file
// must name a process whose command line holds the node's config (never a process of another
// run dir).
func (c *cluster) pid(server string, n int) (int, error) {
	pidfile := filepath.Join(c.runDir, fmt.Sprintf("clickhouse-%d/clickhouse/clickhouse-server.pid", n))
	pattern := filepath.Join(c.runDir, fmt.Sprintf("clickhouse-%d/clickhouse/etc/config.xml", n))
	if server == "kafka" {
		pidfile = filepath.Join(c.runDir, fmt.Sprintf("kafka-%d/kafka/kafka.pid", n))
		pattern = filepath.Join(c.runDir, fmt.Sprintf("kafka-%d/kafka/server.properties", n))
	}
	b, err := os.ReadFile(pidfile)
	if err == nil {
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		cmdline, cerr := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		if perr == nil && cerr == nil && bytes.Contains(cmdline, []byte(pattern)) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("%s %d of the cluster is not a live process started from %s (pid file %s)", server, n, c.runDir, pidfile)
}

// kill SIGKILLs ClickHouse server or Kafka broker n and waits for it to be gone.
func (c *cluster) kill(server string, n int) (int, error) {
	pid, err := c.pid(server, n)
	if err != nil {
		return 0, err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return pid, fmt.Errorf("SIGKILL %s %d (pid %d): %w", server, n, pid, err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return pid, nil
		}
	}
	return pid, fmt.Errorf("%s %d (pid %d) still alive 10 s after SIGKILL", server, n, pid)
}

// restart starts ClickHouse server or Kafka broker n again (cluster-up.sh clickhouse N) and waits
// until it answers.
func (c *cluster) restart(ctx context.Context, server string, n int) error {
	return c.script(ctx, "cluster-up", server, strconv.Itoa(n))
}

// replicas checks that both replicas of every shard hold the same rows once each has fetched
// what it missed (SYSTEM SYNC REPLICA: a replica killed during the run must have caught up): the
// events and the per-second rollup, server by server. line says what each server holds.
func replicas(ctx context.Context, ch warehouse.Config) (line string, agree bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	type held struct{ events, second int64 }
	byShard := map[string][]held{}
	var parts []string
	for _, addr := range ch.Addrs() {
		c := ch
		c.Addr = addr
		conn, err := warehouse.Open(ctx, c, nil)
		if err != nil {
			return "", false, err
		}
		var shard, replica string
		var h held
		err = conn.QueryRow(ctx, "SELECT substitution FROM system.macros WHERE macro = 'shard'").Scan(&shard)
		if err == nil {
			err = conn.QueryRow(ctx, "SELECT substitution FROM system.macros WHERE macro = 'replica'").Scan(&replica)
		}
		for _, t := range []string{"events_local", "space_second_counts_local"} {
			if err == nil {
				err = conn.Exec(ctx, "SYSTEM SYNC REPLICA "+ch.Database+"."+t)
			}
		}
		if err == nil {
			err = conn.QueryRow(ctx, "SELECT toInt64(count()), toInt64((SELECT sum(events) FROM space_second_counts_local)) FROM events_local").Scan(&h.events, &h.second)
		}
		conn.Close()
		if err != nil {
			return "", false, fmt.Errorf("check the replicas of %s on %s: %w", ch.Database, addr, err)
		}
		byShard[shard] = append(byShard[shard], h)
		parts = append(parts, fmt.Sprintf("%s (shard %s, %s) %d events, %d in the second rollup", addr, shard, replica, h.events, h.second))
	}
	agree = len(byShard) == 2
	for _, hs := range byShard {
		agree = agree && len(hs) == 2 && hs[0] == hs[1] && hs[0].events > 0
	}
	verdict := "both replicas of each shard hold the same rows"
	if !agree {
		verdict = "REPLICAS DIFFER"
	}
	return verdict + ": " + strings.Join(parts, "; "), agree, nil
}
