package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spacepulse/spacepulse/deployments/cmd/internal/groundtruth"
	"github.com/spacepulse/spacepulse/deployments/cmd/internal/harness"
	"github.com/spacepulse/spacepulse/producers/scenario"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// run does the whole chaos run and prints it to out. ok is false when the verdict is not
// 0 / 0 / 0 or a figure differs; err is a run that could not be carried out.
func run(ctx context.Context, cfg config, out io.Writer) (ok bool, err error) {
	began := time.Now()
	p := cfg.Profile
	sc, err := scenario.Load(cfg.Scenario)
	if err != nil {
		return false, err
	}
	plan := Plan(p, cfg.Seed)
	if p.Cluster {
		plan = PlanCluster(p, cfg.Seed)
	}
	fmt.Fprintf(out, "spacepulse chaos: %s at scale %g, profile %s, seed %d (-seed %d replays this plan)\n",
		sc.Name, p.Scale, p.Name, cfg.Seed, cfg.Seed)
	fmt.Fprintf(out, "  plan        %s, over %.0f s of load:\n", Summary(plan), p.Load.Seconds())
	for _, f := range plan {
		fmt.Fprintf(out, "              %s\n", f)
	}

	repo, err := harness.ModuleRoot(ctx)
	if err != nil {
		return false, err
	}
	var (
		fl  fleet
		srv *servers
		cl  *cluster
	)
	if p.Cluster {
		cl, err = newCluster(repo, cfg.RunDir)
		fl = cl
	} else {
		srv, err = newServers(repo, cfg.RunDir, cfg.Ports)
		fl = srv
	}
	if err != nil {
		return false, err
	}
	bin := filepath.Join(fl.dir(), "bin")
	if _, err := harness.Build(ctx, repo, bin, "./consumers/cmd/spacepulse-consumer", "./sql/cmd/spacepulse-migrate"); err != nil {
		return false, err
	}
	// Everything started from here on is stopped on the way out, whatever happens.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		if serr := fl.stop(sctx); serr != nil {
			fmt.Fprintf(out, "  servers     could not stop them: %v\n", serr)
			if err == nil {
				err = serr
			}
		}
	}()
	if err := fl.start(ctx); err != nil {
		return false, err
	}
	brokers := fl.kafkaBrokers()
	ch := warehouse.NewConfig()
	ch.Addr, ch.Database = strings.Join(fl.clickhouseAddrs(), ","), cfg.Database
	if cl != nil {
		ch.Cluster = cl.name
		fmt.Fprintf(out, "  servers     ClickHouse cluster %s (2 shards x 2 replicas) %s, Kafka %s (3 KRaft brokers, RF 3, min ISR 2), ZooKeeper, run dir %s (logs: servers.log there)\n",
			cl.name, ch.Addr, strings.Join(brokers, ","), fl.dir())
	} else {
		fmt.Fprintf(out, "  servers     ClickHouse %s and Kafka %s of run dir %s (logs: servers.log there)\n",
			ch.Addr, brokers[0], fl.dir())
	}

	if err := recreate(ctx, ch, bin); err != nil {
		return false, err
	}
	topic := fmt.Sprintf("spaces.events.chaos-%d", time.Now().Unix())
	dlq, group := topic+".dlq", "spacepulse-chaos-"+topic
	k, err := harness.ConnectKafka(ctx, brokers, int32(cfg.Partitions), topic, dlq)
	if err != nil {
		return false, err
	}
	defer k.Close()

	logDir := filepath.Join(fl.dir(), "logs", time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return false, fmt.Errorf("cannot create the consumers' log dir: %w", err)
	}
	g := newGroup(filepath.Join(bin, "spacepulse-consumer"), []string{
		"-kafka-brokers", strings.Join(brokers, ","), "-kafka-topic", topic, "-dlq-topic", dlq, "-kafka-group", group,
		"-clickhouse-database", ch.Database, "-batch-age", "250ms", "-log-level", "info",
	}, logDir)
	g.slotArgs = func(int) []string { return []string{"-clickhouse-addr", ch.Addr} }
	members := []int{1}
	if cl != nil {
		// Each member reaches the cluster through another server first (the Distributed
		// table's initiator), failing over to the others in turn.
		addrs := fl.clickhouseAddrs()
		g.slotArgs = func(slot int) []string {
			first := []int{0, 2, 1}[(slot-1)%3] // servers 1, 3 and 2: both shards, both replicas of shard 1
			rot := append(slices.Clone(addrs[first:]), addrs[:first]...)
			return []string{"-clickhouse-addr", strings.Join(rot, ","), "-cluster", ch.Cluster}
		}
		members = []int{1, 2, 3}
	}
	defer func() {
		if gerr := g.stop(time.Minute); gerr != nil {
			fmt.Fprintf(out, "  consumers   %v\n", gerr)
		}
	}()
	startMembers := func() error {
		for _, m := range members {
			if _, err := g.start(m); err != nil {
				return err
			}
		}
		return nil
	}
	// A bench run (no faults) replays first and starts the consumers after it, so that its
	// throughput is the group's alone: Kafka to ClickHouse, without the producer on the same cores.
	if !p.NoFaults {
		if err := startMembers(); err != nil {
			return false, err
		}
	}
	fmt.Fprintf(out, "  kafka       topic %s (%d partitions), group %s; consumer logs in %s\n", topic, cfg.Partitions, group, logDir)

	// The load, paced over p.Load, with the faults injected meanwhile.
	l, err := newLoad(brokers, topic, slog.New(slog.DiscardHandler))
	if err != nil {
		return false, err
	}
	gen := scenario.NewGenerator(sc, scenario.Options{Seed: cfg.Seed, Scale: p.Scale})
	speed := float64(gen.Duration()) / float64(p.Load)
	fmt.Fprintf(out, "  replay      %s of event time at %.0fx: faults as they come\n", gen.Duration(), speed)
	in := &injector{out: out, t0: time.Now(), srv: srv, cl: cl, g: g, term: time.Minute, k: k, group: group, topic: topic}
	faultsDone := make(chan struct{})
	fctx, stopFaults := context.WithCancel(ctx)
	go func() {
		defer close(faultsDone)
		in.run(fctx, plan)
	}()
	// A fault under way (ClickHouse being started again) ends before the servers are stopped.
	defer func() {
		stopFaults()
		<-faultsDone
	}()
	sent, err := scenario.Replay(ctx, gen, l, scenario.ReplayConfig{Speed: speed, Every: 30 * time.Second,
		Progress: func(pr scenario.Progress) {
			in.say("replay: %d events sent, event time %s", pr.Sent, sc.ClockTime(pr.EventTime.Sub(sc.T0)))
		}})
	if err == nil {
		dctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		err = l.finish(dctx)
		cancel()
	}
	if err != nil {
		return false, fmt.Errorf("replay %s: %w", sc.Name, err)
	}
	replayed := time.Now()
	since := in.t0 // what the throughput is measured from
	if p.NoFaults {
		if err := startMembers(); err != nil {
			return false, err
		}
		since = time.Now()
	}
	truth := gen.Truth()
	in.say("replay done: %d events + %d duplicate deliveries + %d sent again after a failed delivery",
		truth.Events.Total, truth.Duplicates, l.Resent())
	<-faultsDone
	if err := fctx.Err(); err != nil {
		return false, err
	}

	// Lag 0 from the broker's committed offsets, then the copy sweep's time.
	end, err := k.EndOffsets(ctx, topic)
	if err != nil {
		return false, err
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.Commit)
	err = k.WaitCommitted(wctx, nil, group, topic, end, 200*time.Millisecond, nil)
	cancel()
	if err != nil {
		return false, fmt.Errorf("%w; %s (consumer logs: %s)", err, behind(ctx, k, group, topic, end), logDir)
	}
	in.say("committed: all %d messages, lag 0 (%.1f s after the replay ended); waiting %s for the copy sweep",
		end.Sum(), time.Since(replayed).Seconds(), cfg.Sweep)
	took := time.Since(since)
	who := "the group"
	if cl != nil {
		who = fmt.Sprintf("%d consumers", len(members))
	}
	throughput := fmt.Sprintf("%d messages committed by %s %.1f s after the load began: %.0f messages/s end to end",
		end.Sum(), who, took.Seconds(), float64(end.Sum())/took.Seconds())
	if p.NoFaults {
		throughput = fmt.Sprintf("%d messages waiting in Kafka committed by %s %.1f s after they started: %.0f messages/s (Kafka -> ClickHouse, every rollup)",
			end.Sum(), who, took.Seconds(), float64(end.Sum())/took.Seconds())
	}
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-time.After(cfg.Sweep):
	}
	if err := g.stop(in.term); errors.Is(err, errHung) {
		in.hung = append(in.hung, err.Error())
	} else if err != nil {
		return false, err
	}

	c := &groundtruth.Checker{}
	v, err := check(ctx, ch, k, dlq, l, truth, sent, end, c)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(out, "\n  checked     %d event ids and %d figures and seconds of the curve against the ground truth\n", len(l.ids), v.Compared)
	fmt.Fprintf(out, "  events      %d rows beyond one per event, %d ids never generated; figures above the truth by %d\n",
		v.ExtraRows, v.Foreign, v.Excess)
	fmt.Fprintf(out, "  throughput  %s\n", throughput)
	if n := countInLogs(logDir, `msg=retrying step="insert into clickhouse"`); n > 0 || cl != nil {
		fmt.Fprintf(out, "  retries     %d failed inserts retried by the consumers (consumer logs)\n", n)
	}
	replicasOK := true
	if cl != nil {
		line, agree, err := replicas(ctx, ch)
		if err != nil {
			return false, err
		}
		replicasOK = agree
		fmt.Fprintf(out, "  replicas    %s\n", line)
	}
	if !c.OK() {
		fmt.Fprintf(out, "  MISMATCHES  %d of %d:\n", len(c.Mismatches), c.Compared)
		printMismatches(out, c, 20)
	}
	injected := in.Injected()
	for _, u := range g.Unexpected {
		fmt.Fprintf(out, "  exited      %s\n", u)
	}
	for _, h := range in.hung {
		fmt.Fprintf(out, "  HUNG        %s\n", h)
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, v.Line())
	fmt.Fprintf(out, "faults: %s; %d consumer exits nobody asked for, %d consumers killed after SIGTERM did not stop them in %s\n",
		Summary(injected), len(g.Unexpected), len(in.hung), in.term)
	fmt.Fprintf(out, "chaos took %.1f s (seed %d)\n", time.Since(began).Seconds(), cfg.Seed)
	if len(in.errors) > 0 {
		return false, fmt.Errorf("faults that could not be injected: %v", in.errors)
	}
	if n := Counts(injected); n != Counts(plan) {
		return false, fmt.Errorf("injected %v of each kind, planned %v", n, Counts(plan))
	}
	return v.OK() && replicasOK, nil
}

// recreate drops the run's database and runs spacepulse-migrate once to create it.
func recreate(ctx context.Context, ch warehouse.Config, bin string) error {
	s, err := harness.Connect(ctx, ch, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Drop(ctx, ch.Database); err != nil {
		return err
	}
	args := []string{"-clickhouse-addr", ch.Addr, "-clickhouse-database", ch.Database}
	if ch.Cluster != "" {
		args = append(args, "-cluster", ch.Cluster)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "spacepulse-migrate"), args...)
	cmd.Env = cleanEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("spacepulse-migrate: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// check compares the run's ClickHouse with the ground truth: the event ids, every figure of
// every space and every second of its curve, the messages on the topic and the dead letters.
func check(ctx context.Context, ch warehouse.Config, k *harness.Kafka, dlq string, l *load, truth *scenario.Truth,
	sent int64, end harness.Offsets, c *groundtruth.Checker) (Verdict, error) {
	conn, err := warehouse.Open(ctx, ch, nil)
	if err != nil {
		return Verdict{}, err
	}
	defer conn.Close()
	c.Eq("events generated (distinct ids)", int64(len(l.ids)), truth.Events.Total)
	c.Eq("messages replayed", sent, truth.Delivered)
	c.Eq("messages on the topic (at least those replayed)", end.Sum() >= truth.Delivered, true)
	dead, err := k.EndOffsets(ctx, dlq)
	if err != nil {
		return Verdict{}, err
	}
	c.Eq("dead letters", dead.Sum(), int64(0))
	for _, sp := range l.order {
		if _, err := groundtruth.CheckSpace(ctx, conn, sp, c); err != nil {
			return Verdict{}, err
		}
	}
	stored, err := storedIDs(ctx, conn)
	if err != nil {
		return Verdict{}, err
	}
	return judge(l.ids, stored, c), nil
}

// behind says which partitions the group has not committed to their end, for a failed wait.
func behind(ctx context.Context, k *harness.Kafka, group, topic string, end harness.Offsets) string {
	got, err := k.Committed(context.WithoutCancel(ctx), group, topic)
	if err != nil {
		return "committed offsets unknown: " + err.Error()
	}
	var parts []string
	for p := range end {
		if p < len(got) && got[p] < end[p] {
			parts = append(parts, fmt.Sprintf("%d at %d of %d", p, got[p], end[p]))
		}
	}
	return "partitions behind: " + strings.Join(parts, ", ")
}

// countInLogs counts the lines holding text in the consumer logs of dir.
func countInLogs(dir, text string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "consumer-*.log"))
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			n += strings.Count(string(b), text)
		}
	}
	return n
}
