// Command spacepulse-report prints the figures of one space from the ClickHouse warehouse.
//
//	spacepulse-report --space ID [--from T --to T] [--json]
//
// T is RFC 3339 (2024-08-13T00:42:17Z) or unix seconds; by default the window runs from the
// space's first to its last event second. --json prints one JSON document with every figure
// and the per-second concurrency curve. The -clickhouse-* flags (and their environment
// variables, see -h) say which server to read. Exit status: 0 done, 1 failed, 2 bad flags.
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
	"time"

	"github.com/spacepulse/spacepulse/sql/report"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("spacepulse-report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg      warehouse.Config
		opts     report.Options
		from, to string
		asJSON   bool
	)
	cfg.BindFlags(fs)
	fs.StringVar(&opts.Space, "space", "", "space id (required)")
	fs.StringVar(&from, "from", "", "window start, RFC 3339 or unix seconds (default: the space's first event)")
	fs.StringVar(&to, "to", "", "window end, inclusive, RFC 3339 or unix seconds (default: the space's last event)")
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "spacepulse-report: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if opts.Space == "" {
		return bad("--space: want a space id")
	}
	for _, b := range []struct {
		flag, text string
		dst        *time.Time
	}{{"--from", from, &opts.From}, {"--to", to, &opts.To}} {
		if b.text == "" {
			continue
		}
		t, err := report.ParseTime(b.text)
		if err != nil {
			return bad("%s: %v", b.flag, err)
		}
		*b.dst = t
	}
	if !opts.From.IsZero() && !opts.To.IsZero() && opts.To.Before(opts.From) {
		return bad("--to %s is before --from %s", to, from)
	}
	if err := cfg.Validate(); err != nil {
		return bad("%v", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	conn, err := warehouse.Open(ctx, cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "spacepulse-report: %v\n", err)
		return 1
	}
	defer conn.Close()
	r, err := report.Build(ctx, conn, opts)
	if err != nil {
		fmt.Fprintf(stderr, "spacepulse-report: %v\n", err)
		return 1
	}
	if asJSON {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "spacepulse-report: %v\n", err)
		return 1
	}
	return 0
}
