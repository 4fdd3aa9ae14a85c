// Command spacepulse-migrate creates the spacepulse database in ClickHouse if it is missing and
// applies the migrations of package sql it lacks, then prints the versions it applied.
//
//	spacepulse-migrate [-clickhouse-addr host:port] [-clickhouse-database spacepulse] ...
//
// Every flag also reads an environment variable (see -h). Exit status: 0 done, 1 failed, 2 bad
// flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("spacepulse-migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg warehouse.Config
	cfg.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "spacepulse-migrate: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "spacepulse-migrate: %v\n", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	conn, applied, err := warehouse.Setup(ctx, cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "spacepulse-migrate: %v\n", err)
		return 1
	}
	defer conn.Close()
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s: schema is current (version %d)\n", cfg.Database, warehouse.LatestVersion)
		return 0
	}
	for _, v := range applied {
		fmt.Fprintf(stdout, "%s: applied migration %d\n", cfg.Database, v)
	}
	return 0
}
