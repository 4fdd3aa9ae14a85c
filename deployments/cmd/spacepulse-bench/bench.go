package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spacepulse/spacepulse/consumers/ingest"
	"github.com/spacepulse/spacepulse/deployments/cmd/internal/harness"
	"github.com/spacepulse/spacepulse/producers/synth"
)

const (
	topic = ingest.DefaultTopic
	group = "spacepulse-bench"
)

// result is what one run measured.
type result struct {
	produced produced
	direct   inserted
	// ClickHouse server CPU during the direct insert, 0 if unknown
	directCHCPU time.Duration
	hwm         int64 // the consumer's VmHWM as last polled, a check on its rusage

	wall       time.Duration // consumer start to everything committed
	firstSeen  time.Duration // consumer start to the first commit seen
	atFirst    int64         // messages committed at the first commit seen
	use        usage
	chCPU      time.Duration // ClickHouse server during wall, 0 if unknown
	machineCPU time.Duration // every process on the machine during wall
	stealCPU   time.Duration // CPU time the hypervisor gave to other machines during wall
	selfCPU    time.Duration // this process (kfake) during wall
	rows       uint64
	selfMaxRSS int64
}

func run(ctx context.Context, cfg config, logger *slog.Logger, out io.Writer) error {
	began := time.Now()
	load := synth.Load{Events: cfg.Events, Seed: cfg.Seed, Start: began.UTC().Truncate(time.Second).Add(-10 * time.Minute), Duration: 10 * time.Minute}
	fmt.Fprintf(out, "spacepulse bench: %s JSON events, embedded Kafka (kfake, %d partitions) -> spacepulse-consumer -> ClickHouse\n\n",
		num(int64(cfg.Events)), cfg.Partitions)

	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	srv, err := harness.Connect(cctx, cfg.ClickHouse, nil)
	if err != nil {
		return err
	}
	defer srv.Close()
	defer func() {
		if cfg.Keep {
			fmt.Fprintf(out, "kept databases %s and %s\n", benchDatabase, directDatabase)
			return
		}
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for _, db := range []string{benchDatabase, directDatabase} {
			if err := srv.Drop(dctx, db); err != nil {
				logger.Warn("drop bench database", slog.String("database", db), slog.Any("err", err))
			}
		}
	}()

	dir, err := os.MkdirTemp("", "spacepulse-bench-")
	if err != nil {
		return fmt.Errorf("make a scratch directory: %w", err)
	}
	defer os.RemoveAll(dir)
	bin := cfg.ConsumerBin
	if bin == "" {
		fmt.Fprintf(out, "  building    ./consumers/cmd/spacepulse-consumer\n")
		if bin, err = buildConsumer(ctx, dir); err != nil {
			return err
		}
	}

	// The log goes to segment files: 5M events are over a gigabyte, which
	// the page cache can hold instead of this process.
	k, err := harness.StartKafka(int32(cfg.Partitions), filepath.Join(dir, "kafka"), topic, ingest.DefaultDLQTopic)
	if err != nil {
		return err
	}
	defer k.Close()

	// The consumer's launcher starts now, while this process is small: see
	// consumer for why its peak RSS depends on it.
	args := []string{
		"-kafka-brokers", k.Addr, "-kafka-topic", topic, "-kafka-group", group, "-dlq-topic", ingest.DefaultDLQTopic,
		"-batch-rows", strconv.Itoa(cfg.BatchRows),
		"-clickhouse-addr", cfg.ClickHouse.Addr, "-clickhouse-database", benchDatabase,
		"-migrate", // one consumer: it creates its scratch database
		"-log-level", "warn",
	}
	var logTo io.Writer
	if cfg.ConsumerLog != "" {
		f, err := os.Create(cfg.ConsumerLog)
		if err != nil {
			return fmt.Errorf("consumer log: %w", err)
		}
		defer f.Close()
		logTo = f
	}
	cons, err := prepareConsumer(bin, args, cfg.ConsumerEnv, logTo)
	if err != nil {
		return err
	}
	defer cons.abort()

	var r result
	fmt.Fprintf(out, "  producing   %s events into kfake at %s (untimed) ...", num(int64(cfg.Events)), k.Addr)
	if r.produced, err = preProduce(ctx, k.Addr, topic, load); err != nil {
		fmt.Fprintln(out)
		return err
	}
	fmt.Fprintf(out, " %.1f s, %s MB of JSON, %d bytes an event on average\n", r.produced.took.Seconds(),
		num(r.produced.bytes/1_000_000), r.produced.bytes/r.produced.events)
	end, err := k.EndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	if end.Sum() != r.produced.events {
		return fmt.Errorf("kfake holds %d messages, %d were produced", end.Sum(), r.produced.events)
	}

	// The ClickHouse server's pid, when it runs here, for its CPU time.
	chPID := 0
	if _, p, err := net.SplitHostPort(cfg.ClickHouse.Addr); err == nil {
		port, _ := strconv.Atoi(p)
		chPID = listeningPID(port)
	}
	if !cfg.SkipDirect {
		if err := measureDirect(ctx, out, cfg, srv, chPID, load, &r); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "  consuming   %sspacepulse-consumer %s\n", envPrefix(cfg.ConsumerEnv), strings.Join(args, " "))
	if err := measureConsumer(ctx, cfg, srv, k, cons, end, chPID, &r); err != nil {
		return err
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		r.selfMaxRSS = ru.Maxrss * 1024
	}
	report(out, cfg, srv.Version, &r)
	fmt.Fprintf(out, "\nbench took %.0f s\n", time.Since(began).Seconds())
	return nil
}

// measureDirect inserts the load into directDatabase with ingest.Sink, then
// drops the database so that its background merges do not compete with
// what comes next.
func measureDirect(ctx context.Context, out io.Writer, cfg config, srv *harness.Server, chPID int, load synth.Load, r *result) error {
	fmt.Fprintf(out, "  direct      inserting the same rows into %s with ingest.Sink, %s-row inserts of %s-row blocks ...",
		directDatabase, num(int64(max(ingest.DefaultInsertRows, cfg.BatchRows))), num(int64(cfg.BatchRows)))
	defer fmt.Fprintln(out)
	conn, err := srv.Recreate(ctx, directDatabase, nil)
	if err != nil {
		return err
	}
	chBefore, chErr := processCPU(chPID)
	r.direct, err = directInsert(ctx, conn, directDatabase, load, cfg.BatchRows, ingest.DefaultInsertRows)
	if after, err := processCPU(chPID); err == nil && chErr == nil {
		r.directCHCPU = after - chBefore
	}
	conn.Close()
	if err != nil {
		return fmt.Errorf("direct insert into %s: %w", directDatabase, err)
	}
	fmt.Fprintf(out, " %.1f s in WriteBlocks", r.direct.took.Seconds())
	return srv.Drop(ctx, directDatabase)
}

// measureConsumer starts the prepared consumer on a fresh benchDatabase,
// waits until its group has committed end, stops it and reads its usage.
func measureConsumer(ctx context.Context, cfg config, srv *harness.Server, k *harness.Kafka, cons *consumer,
	end harness.Offsets, chPID int, r *result) error {
	conn, err := srv.Recreate(ctx, benchDatabase, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	chBefore, chErr := processCPU(chPID)
	selfBefore := selfCPU()
	machineBefore, stealBefore := machineCPU()

	start := time.Now()
	if err := cons.start(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	err = k.WaitCommitted(wctx, cons.exited, group, topic, end, 50*time.Millisecond, func(o harness.Offsets) {
		r.hwm = max(r.hwm, peakRSS(cons.cmd.Process.Pid))
		if r.firstSeen == 0 && o.Sum() > 0 {
			r.firstSeen, r.atFirst = time.Since(start), o.Sum()
		}
	})
	r.wall = time.Since(start)
	if after, err := processCPU(chPID); err == nil && chErr == nil {
		r.chCPU = after - chBefore
	}
	r.selfCPU = selfCPU() - selfBefore
	machineAfter, stealAfter := machineCPU()
	r.machineCPU, r.stealCPU = machineAfter-machineBefore, stealAfter-stealBefore
	stopErr := cons.stop(time.Minute)
	if err != nil {
		if stopErr != nil {
			return fmt.Errorf("%w\n%w", err, stopErr)
		}
		return fmt.Errorf("%w\nconsumer log:\n%s", err, tail(cons.log.String(), 20))
	}
	if stopErr != nil {
		return stopErr
	}
	r.use = cons.usage()
	if err := conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&r.rows); err != nil {
		return fmt.Errorf("count rows in %s.events: %w", benchDatabase, err)
	}
	return nil
}
