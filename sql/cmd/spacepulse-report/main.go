// Command spacepulse-report prints the figures of one space from the ClickHouse warehouse.
//
//	spacepulse-report --space ID [--from T --to T] [--json]
//	        [--png FILE] [--svg FILE] [--size 1600x1000] [--tz ZONE] [--phases FILE]
//
// T is RFC 3339 (2024-08-13T00:42:17Z) or unix seconds; by default the window runs from the
// space's first to its last event second. --json prints one JSON document with every figure
// and the per-second concurrency curve. The report (text or JSON) includes when the paging rule
// (technical join failures over 5 % for 2 minutes, >= 25 attempts a minute) fired and cleared.
//
// --png and --svg also draw the night to FILE: the concurrency curve over the per-minute
// technical join-failure rate, with the alert threshold and the minutes the alert was firing;
// --tz names the time zone of the time axis (America/New_York; default UTC) and --phases a JSON
// file of phases to mark, [{"name": "herd", "start": RFC 3339, "end": RFC 3339}, ...].
//
// The -clickhouse-* flags say which server to read. Every flag also reads SPACEPULSE_<FLAG>
// (see -h), the password also a file (-clickhouse-password-file). Exit status: 0 done, 1 failed,
// 2 a wrong flag or settings the server refused (a certificate, a password).
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // --tz works without the system's zone files

	"github.com/spacepulse/spacepulse/schemas/cli"
	"github.com/spacepulse/spacepulse/schemas/endpoint"
	"github.com/spacepulse/spacepulse/sql/report"
	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/whflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usageLine = "usage: spacepulse-report -space ID [-from T -to T] [-json] [-png FILE] [-svg FILE] [-clickhouse-* flags]"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.New("spacepulse-report")
	var (
		cfg      warehouse.Config
		opts     report.Options
		from, to string
		asJSON   bool

		pngFile, svgFile, size, tz, phasesFile string
	)
	whflag.Bind(fs, &cfg)
	fs.StringVar(&opts.Space, "space", "", "space id (required)")
	fs.StringVar(&from, "from", "", "window start, RFC 3339 or unix seconds (default: the space's first event)")
	fs.StringVar(&to, "to", "", "window end, inclusive, RFC 3339 or unix seconds (default: the space's last event)")
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	fs.StringVar(&pngFile, "png", "", "also draw the night to this PNG file")
	fs.StringVar(&svgFile, "svg", "", "also draw the night to this SVG file")
	fs.StringVar(&size, "size", "1600x1000", "size of the drawing in pixels, WIDTHxHEIGHT")
	fs.StringVar(&tz, "tz", "UTC", "time zone of the drawing's time axis, e.g. America/New_York")
	fs.StringVar(&phasesFile, "phases", "", `JSON file of phases to mark on the drawing: [{"name", "start", "end"}] in RFC 3339`)
	if err := fs.Parse(args); err != nil {
		return fs.Report(err, usageLine, stdout, stderr)
	}
	bad := func(format string, a ...any) int {
		return fs.Report(fmt.Errorf(format, a...), usageLine, stdout, stderr)
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
	var plotOpts report.PlotOptions
	if pngFile != "" || svgFile != "" {
		var err error
		if plotOpts.Width, plotOpts.Height, err = parseSize(size); err != nil {
			return bad("--size: %v", err)
		}
		if plotOpts.Location, err = time.LoadLocation(tz); err != nil {
			return bad("--tz: %v", err)
		}
		if phasesFile != "" {
			if plotOpts.Phases, err = readPhases(phasesFile); err != nil {
				return bad("--phases: %v", err)
			}
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	conn, err := warehouse.Open(ctx, cfg, logger)
	if errors.Is(err, endpoint.ErrRefused) {
		return fs.Report(err, usageLine, stdout, stderr) // a setting to change: 2
	}
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
	for _, out := range []struct{ file, format string }{{pngFile, report.FormatPNG}, {svgFile, report.FormatSVG}} {
		if out.file == "" {
			continue
		}
		opts := plotOpts
		opts.Format = out.format
		if err := writePlot(r, out.file, opts); err != nil {
			fmt.Fprintf(stderr, "spacepulse-report: %v\n", err)
			return 1
		}
	}
	return 0
}

// parseSize reads WIDTHxHEIGHT in pixels.
func parseSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(s, "x")
	w, werr := strconv.Atoi(ws)
	h, herr := strconv.Atoi(hs)
	if !ok || werr != nil || herr != nil || w < 300 || h < 200 || w > 10000 || h > 10000 {
		return 0, 0, fmt.Errorf("%q: want WIDTHxHEIGHT in pixels, 300x200 to 10000x10000 (1600x1000)", s)
	}
	return w, h, nil
}

func readPhases(name string) ([]report.Phase, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return report.ReadPhases(f)
}

// writePlot draws r to file, which it replaces only when the drawing succeeded.
func writePlot(r *report.Report, file string, opts report.PlotOptions) error {
	var buf bytes.Buffer
	if err := r.Plot(&buf, opts); err != nil {
		return err
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s plot: %w", opts.Format, err)
	}
	return nil
}
