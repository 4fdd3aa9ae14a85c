// Command spacepulse-migrate creates the spacepulse database in ClickHouse if it is missing and
// applies the migrations of package sql it lacks, then prints the versions it applied.
//
//	spacepulse-migrate [-clickhouse-addr host:port] [-clickhouse-database spacepulse] ...
//	spacepulse-migrate -cluster spacepulse -clickhouse-addr ch-1:9000,ch-2:9000
//	spacepulse-migrate -reconcile 2024-08-13T00:00:00Z,2024-08-13T04:00:00Z
//
// With -cluster NAME it creates the schema on that ClickHouse cluster instead: replicated local
// tables with Distributed tables in front, derived from the same migrations
// (warehouse.MigrateCluster).
//
// With -reconcile it then compares the rollups of that event-time window with the events table
// and corrects the cells that differ (warehouse.Reconcile: after a ClickHouse server crash).
//
// Every flag also reads an environment variable (see -h), the password also a file
// (-clickhouse-password-file). Exit status: 0 done, 1 failed, 2 a wrong flag or settings the
// server refused (a certificate, a password).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spacepulse/spacepulse/schemas/cli"
	"github.com/spacepulse/spacepulse/schemas/endpoint"
	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/whflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usageLine = "usage: spacepulse-migrate [-clickhouse-* flags] [-cluster NAME] [-reconcile FROM,TO]"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.New("spacepulse-migrate")
	var cfg warehouse.Config
	whflag.Bind(fs, &cfg)
	whflag.BindCluster(fs, &cfg)
	window := fs.String("reconcile", "", "after migrating, reconcile the rollups of this event-time window with the events table: FROM,TO in RFC 3339")
	if err := fs.Parse(args); err != nil {
		return fs.Report(err, usageLine, stdout, stderr)
	}
	var from, to time.Time
	if *window != "" {
		a, b, ok := strings.Cut(*window, ",")
		var errA, errB error
		from, errA = time.Parse(time.RFC3339, strings.TrimSpace(a))
		to, errB = time.Parse(time.RFC3339, strings.TrimSpace(b))
		if !ok || errA != nil || errB != nil || to.Before(from) {
			fmt.Fprintf(stderr, "spacepulse-migrate: -reconcile %q: want FROM,TO in RFC 3339 with FROM <= TO, such as 2024-08-13T00:00:00Z,2024-08-13T04:00:00Z\n", *window)
			return 2
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	conn, applied, err := warehouse.Setup(ctx, cfg, logger)
	if errors.Is(err, endpoint.ErrRefused) {
		return fs.Report(err, usageLine, stdout, stderr) // a setting to change: 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "spacepulse-migrate: %v\n", err)
		return 1
	}
	defer conn.Close()
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s: schema is current (version %d)\n", cfg.Database, warehouse.LatestVersion)
	}
	for _, v := range applied {
		fmt.Fprintf(stdout, "%s: applied migration %d\n", cfg.Database, v)
	}
	if *window != "" {
		rep, err := warehouse.Reconcile(ctx, conn, from, to, 2*time.Second)
		if err != nil {
			fmt.Fprintf(stderr, "spacepulse-migrate: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: reconciled %s..%s: %d per-second, %d per-minute and %d join-latency cells corrected (%d rows), %d differences left alone (inserts in flight: run again)\n",
			cfg.Database, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), rep.Seconds, rep.Minutes, rep.Latency, rep.Rows, rep.Unsettled)
	}
	return 0
}
