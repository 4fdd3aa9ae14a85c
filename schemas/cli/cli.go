// Package cli is the one way every spacepulse binary reads its settings: a FlagSet whose Parse
// takes each -flag from the command line or else from SPACEPULSE_<FLAG> (the flag's name in upper
// case, - as _: -kafka-brokers is SPACEPULSE_KAFKA_BROKERS), reads secrets from files, and turns
// every mistake into one line that says what to type instead. Exit prints that line and exits 2.
//
// Library packages take plain structs (endpoint.Kafka, warehouse.Config, ingest.Config); only a
// binary's main binds them here. The binders of settings that several binaries share are in this
// package (Kafka, TLS, secrets) and, for ClickHouse, in sql/warehouse/whflag (the producer side
// never imports ClickHouse).
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/peterbourgon/ff/v3"
)

// EnvPrefix prefixes every flag's environment variable.
const EnvPrefix = "SPACEPULSE"

// FlagSet is a flag.FlagSet (ContinueOnError, silent: errors come back from Parse) with the
// environment and secret files of package cli.
type FlagSet struct {
	*flag.FlagSet
	prog  string
	after []func() error
	// Args, when not empty, lets Parse accept positional arguments; it is their usage, e.g.
	// "FILE...". Empty (the default): an argument is an error that says the binary takes flags.
	Args string
	// Hint follows the "unexpected argument" error, e.g. "migrations: spacepulse-migrate".
	Hint string
	// NoEnv reads the command line only, for a binary that must not pick up settings exported
	// for the others: the demo drops its database and runs its own broker, so an exported
	// SPACEPULSE_KAFKA_BROKERS or SPACEPULSE_CLICKHOUSE_DATABASE must not aim it at production.
	NoEnv bool
}

// New returns an empty FlagSet for the binary prog ("spacepulse-consumer").
func New(prog string) *FlagSet {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &FlagSet{FlagSet: fs, prog: prog}
}

// Env is the environment variable of the flag name.
func Env(name string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
}

// Parse reads args, then the SPACEPULSE_* variables of the flags args did not set, then the
// secret files. It returns flag.ErrHelp for -h, and otherwise errors of one line that name the
// flag, its variable and what it wants.
func (fs *FlagSet) Parse(args []string) error {
	var opts []ff.Option
	if !fs.NoEnv {
		opts = append(opts, ff.WithEnvVarPrefix(EnvPrefix))
	}
	if err := ff.Parse(fs.FlagSet, args, opts...); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fs.explain(err)
	}
	if fs.NArg() > 0 && fs.Args == "" {
		hint := fs.Hint
		if hint == "" {
			hint = "-h lists them"
		}
		return fmt.Errorf("unexpected argument %q: %s takes flags only (%s)", fs.Arg(0), fs.prog, hint)
	}
	for _, f := range fs.after {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

var (
	undefinedRe = regexp.MustCompile(`^flag provided but not defined: -+(\S+)$`)
	invalidRe   = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-+([^:\s]+): (.*)$`)
	envRe       = regexp.MustCompile(`^error setting flag "([^"]+)" from environment variable "([^"]+)": (.*)$`)
	needsArgRe  = regexp.MustCompile(`^flag needs an argument: -+(\S+)$`)
)

// explain rewrites the flag package's and ff's errors into one line that says what to type.
func (fs *FlagSet) explain(err error) error {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "error parsing commandline arguments: ")
	msg = strings.TrimPrefix(msg, "error parsing environment variables: ")
	if m := envRe.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("%s=%q (-%s): %s", m[2], os.Getenv(m[2]), m[1], fs.wants(m[1], m[3]))
	}
	if m := undefinedRe.FindStringSubmatch(msg); m != nil {
		if near := fs.nearest(m[1]); near != "" {
			return fmt.Errorf("-%s is not a flag of %s: did you mean -%s? (-h lists the flags)", m[1], fs.prog, near)
		}
		return fmt.Errorf("-%s is not a flag of %s (-h lists the flags)", m[1], fs.prog)
	}
	if m := invalidRe.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("-%s %q: %s", m[2], m[1], fs.wants(m[2], m[3]))
	}
	if m := needsArgRe.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("-%s needs a value: %s", m[1], fs.usage(m[1]))
	}
	return err
}

// wants says what flag name accepts, given the parser's complaint.
func (fs *FlagSet) wants(name, complaint string) string {
	f := fs.Lookup(name)
	if f == nil {
		return complaint
	}
	if complaint != "parse error" && complaint != "value out of range" {
		return fmt.Sprintf("%s (%s)", complaint, Env(name)) // a Func flag's own message says what it wants
	}
	var kind string
	switch fmt.Sprintf("%T", f.Value) {
	case "*flag.intValue", "*flag.int64Value", "*flag.uintValue", "*flag.uint64Value":
		kind = "a whole number"
	case "*flag.float64Value":
		kind = "a number"
	case "*flag.boolValue":
		kind = "true or false"
	case "*flag.durationValue":
		kind = "a duration such as 500ms, 30s or 5m"
	default:
		kind = "another value"
	}
	return fmt.Sprintf("want %s (%s; %s)", kind, f.Usage, Env(name))
}

func (fs *FlagSet) usage(name string) string {
	if f := fs.Lookup(name); f != nil {
		return f.Usage
	}
	return "see -h"
}

// nearest is the defined flag closest to name (Nearest), "" if none is close.
func (fs *FlagSet) nearest(name string) string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return Nearest(name, names)
}

// Nearest is the choice closest to word by edit distance (at most a third of its length, the
// first in sorted order on a tie), or else one that contains it; "" if none is close. For the
// "did you mean" of a flag or a command.
func Nearest(word string, choices []string) string {
	names := slices.Sorted(slices.Values(choices))
	best, bestD := "", len(word)/3+1
	for _, n := range names {
		if d := distance(word, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		for _, n := range names {
			if len(word) >= 4 && strings.Contains(n, word) {
				return n
			}
		}
	}
	return best
}

// distance is the edit distance of a and b, a swap of two neighbours counting one edit
// (optimal string alignment: "sned" is 1 from "send").
func distance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// PrintUsage writes line, the note on environment variables, and every flag with its default.
func (fs *FlagSet) PrintUsage(w io.Writer, line string) {
	fmt.Fprintln(w, line)
	fmt.Fprintf(w, "Each flag also reads %s_<FLAG> (e.g. -kafka-brokers: SPACEPULSE_KAFKA_BROKERS); a -*-password flag also reads its secret from the file named by -*-password-file.\n", EnvPrefix)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// Exit ends a binary whose flags did not parse, or whose settings a server refused: it exits
// with Report's status, writing to stdout and stderr.
func (fs *FlagSet) Exit(err error, usageLine string) {
	os.Exit(fs.Report(err, usageLine, os.Stdout, os.Stderr))
}

// Report writes err the way Exit does and returns the exit status: for -h (flag.ErrHelp) the
// usage on stdout and 0; otherwise "prog: err" on stderr as one line and 2.
func (fs *FlagSet) Report(err error, usageLine string, stdout, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		fs.PrintUsage(stdout, usageLine)
		return 0
	}
	fmt.Fprintf(stderr, "%s: %s\n", fs.prog, oneLine(err))
	return 2
}

// oneLine is err's message with line breaks folded into spaces.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

var (
	usageFlag    = regexp.MustCompile(`^  -([a-z0-9][a-z0-9.-]*)`)
	usageDefault = regexp.MustCompile(`\(default "?(.*?)"?\)$`)
)

// ParseUsage reads back what PrintUsage wrote: each flag's name and its default as printed ("" when
// it prints none). Deployment checks run a binary's -h with it, so that a setting they pass
// (SPACEPULSE_<FLAG>) is checked against the flags the binary really binds.
func ParseUsage(out []byte) map[string]string {
	flags := make(map[string]string)
	var cur string
	for _, line := range strings.Split(string(out), "\n") {
		if m := usageFlag.FindStringSubmatch(line); m != nil {
			cur = m[1]
			flags[cur] = ""
			continue
		}
		if m := usageDefault.FindStringSubmatch(strings.TrimSpace(line)); cur != "" && m != nil {
			flags[cur] = m[1]
		}
	}
	return flags
}
