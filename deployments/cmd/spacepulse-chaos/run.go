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
	srv, err := newServers(repo, cfg.RunDir, cfg.Ports)
	if err != nil {
		return false, err
	}
	bin := filepath.Join(srv.runDir, "bin")
	if _, err := harness.Build(ctx, repo, bin, "./consumers/cmd/spacepulse-consumer", "./sql/cmd/spacepulse-migrate"); err != nil {
		return false, err
	}
	// Everything started from here on is stopped on the way out, whatever happens.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		defer cancel()
		if serr := srv.stop(sctx); serr != nil {
			fmt.Fprintf(out, "  servers     could not stop them: %v\n", serr)
			if err == nil {
				err = serr
			}
		}
	}()
	if err := srv.start(ctx); err != nil {
		return false, err
	}
	fmt.Fprintf(out, "  servers     ClickHouse %s and Kafka %s of run dir %s (logs: servers.log there)\n",
		cfg.Ports.clickhouseAddr(), cfg.Ports.kafkaAddr(), srv.runDir)

	ch := warehouse.NewConfig()
	ch.Addr, ch.Database = cfg.Ports.clickhouseAddr(), cfg.Database
	if err := recreate(ctx, ch, bin); err != nil {
		return false, err
	}
	topic := fmt.Sprintf("spaces.events.chaos-%d", time.Now().Unix())
	dlq, group := topic+".dlq", "spacepulse-chaos-"+topic
	k, err := harness.ConnectKafka(ctx, []string{cfg.Ports.kafkaAddr()}, int32(cfg.Partitions), topic, dlq)
	if err != nil {
		return false, err
	}
	defer k.Close()

	logDir := filepath.Join(srv.runDir, "logs", time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return false, fmt.Errorf("cannot create the consumers' log dir: %w", err)
	}
	g := newGroup(filepath.Join(bin, "spacepulse-consumer"), []string{
		"-kafka-brokers", cfg.Ports.kafkaAddr(), "-kafka-topic", topic, "-dlq-topic", dlq, "-kafka-group", group,
		"-clickhouse-addr", ch.Addr, "-clickhouse-database", ch.Database, "-batch-age", "250ms", "-log-level", "info",
	}, logDir)
	defer func() {
		if gerr := g.stop(time.Minute); gerr != nil {
			fmt.Fprintf(out, "  consumers   %v\n", gerr)
		}
	}()
	if _, err := g.start(1); err != nil {
		return false, err
	}
	fmt.Fprintf(out, "  kafka       topic %s (%d partitions), group %s; consumer logs in %s\n", topic, cfg.Partitions, group, logDir)

	// The load, paced over p.Load, with the faults injected meanwhile.
	l, err := newLoad([]string{cfg.Ports.kafkaAddr()}, topic, slog.New(slog.DiscardHandler))
	if err != nil {
		return false, err
	}
	gen := scenario.NewGenerator(sc, scenario.Options{Seed: cfg.Seed, Scale: p.Scale})
	speed := float64(gen.Duration()) / float64(p.Load)
	fmt.Fprintf(out, "  replay      %s of event time at %.0fx: faults as they come\n", gen.Duration(), speed)
	in := &injector{out: out, t0: time.Now(), srv: srv, g: g, term: time.Minute}
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
	return v.OK(), nil
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
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "spacepulse-migrate"), "-clickhouse-addr", ch.Addr, "-clickhouse-database", ch.Database)
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
