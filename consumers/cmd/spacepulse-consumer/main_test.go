package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSaysWhatToChange(t *testing.T) {
	f := func(args []string, env map[string]string, want string) {
		t.Helper()
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			for k, v := range env {
				t.Setenv(k, v)
			}
			check(t, args, env, want)
		})
	}
	f(nil, nil, "")
	f([]string{"-kafka-brokers", "localhost"}, nil, "SPACEPULSE_KAFKA_BROKERS")
	f([]string{"-kafka-brokers", ""}, nil, "at least one broker")
	f([]string{"-batch-rows", "-1"}, nil, "batch limits must be positive")
	f([]string{"-kafka-topic", "x", "-dlq-topic", "x"}, nil, "dead-letter topic")
	f([]string{"-clickhouse-addr", "nope"}, nil, "clickhouse-addr")
	f([]string{"-no-such-flag"}, nil, "no-such-flag")
	f([]string{"-dedup-window", "10s"}, nil, "SPACEPULSE_DEDUP_WINDOW")
	f([]string{"-sweep-interval", "100ms"}, nil, "SPACEPULSE_SWEEP_INTERVAL")
	f([]string{"migrate"}, nil, `unexpected argument "migrate"`)
	f([]string{"-memory-limit", "lots"}, nil, "SPACEPULSE_MEMORY_LIMIT")
	f([]string{"-memory-limit", "1GiB"}, nil, "")
	f(nil, map[string]string{"SPACEPULSE_MEMORY_LIMIT": "0"}, "")
	f(nil, map[string]string{"SPACEPULSE_SWEEP_INTERVAL": "30s"}, "")
	f([]string{"-seal-interval", "10s"}, nil, "-seal-interval is not a flag of spacepulse-consumer")
	f(nil, map[string]string{"SPACEPULSE_SEAL_INTERVAL": "0"}, "")
	f(nil, map[string]string{"SPACEPULSE_BATCH_ROWS": "many"}, "SPACEPULSE_BATCH_ROWS")
	f([]string{"-batch-row", "5"}, nil, "did you mean -batch-rows?")
	f([]string{"-kafka-session-timeout", "2s"}, nil, "heartbeat interval 1s is more than a third of the session timeout 2s")
	f([]string{"-kafka-group-instance-id", "consumer-0", "-kafka-session-timeout", "30s"}, nil, "")
	f(nil, map[string]string{"SPACEPULSE_REVOKE_WAIT": "30s"}, "lower the revoke wait")
	f([]string{"-kafka-sasl-mechanism", "SCRAM-SHA-1"}, nil, "want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	f([]string{"-kafka-sasl-mechanism", "scram-sha-512"}, nil, "-kafka-sasl-user is empty")
	f([]string{"-kafka-sasl-mechanism", "PLAIN", "-kafka-sasl-user", "u", "-kafka-tls"}, nil, "")
	f([]string{"-kafka-tls-ca-file", "/no/such/ca.pem"}, nil, "-kafka-tls-ca-file")
	f([]string{"-clickhouse-tls-cert-file", "/c.pem"}, nil, "give both")
	f([]string{"-clickhouse-addr", "a:9440,b:x"}, nil, `"b:x": want a port`)
	f([]string{"-clickhouse-addr", "a:9440, b:9440"}, nil, "")
	f([]string{"-clickhouse-password-file", "/no/such/file"}, nil, "SPACEPULSE_CLICKHOUSE_PASSWORD_FILE")
	f([]string{"-kafka-group", "g2"}, map[string]string{"SPACEPULSE_KAFKA_TOPIC": "other"}, "")
	f([]string{"-batch-quiet", "-1s"}, nil, "or 0 to turn it off")
	f(nil, map[string]string{"SPACEPULSE_BATCH_QUIET": "soon"}, "SPACEPULSE_BATCH_QUIET")
	f(nil, map[string]string{"SPACEPULSE_BATCH_QUIET": "100ms"}, "")
}

// -batch-quiet: the default leaves the library's (250ms), 0 turns the quiet cut off (negative in
// the library's Config), a duration sets it.
func TestBatchQuiet(t *testing.T) {
	for _, c := range []struct {
		args []string
		want time.Duration
	}{{nil, 0}, {[]string{"-batch-quiet", "0"}, -1}, {[]string{"-batch-quiet", "100ms"}, 100 * time.Millisecond}} {
		got, err := parse(c.args)
		if err != nil || got.Consumer.Pipeline.QuietAfter != c.want {
			t.Errorf("parse %q: QuietAfter %s, %v; want %s", c.args, got.Consumer.Pipeline.QuietAfter, err, c.want)
		}
	}
}

func check(t *testing.T, args []string, env map[string]string, want string) {
	t.Helper()
	_, err := parse(args)
	if want == "" {
		if err != nil {
			t.Fatalf("parse %q: %v", args, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("parse %q %v: got %q, want one line mentioning %q", args, env, err, want)
	}
}

// The profile is a pprof file (gzip) once stopped; an unwritable path fails at start, naming the flag.
func TestCPUProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cons.prof")
	c, err := parse([]string{"-cpuprofile", path})
	if err != nil || c.CPUProfile != path {
		t.Fatalf("parse -cpuprofile: %q, %v", c.CPUProfile, err)
	}
	stop, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile of %d bytes is not gzip-compressed pprof", len(b))
	}
	if _, err := startCPUProfile(filepath.Join(t.TempDir(), "no", "such", "dir", "p")); err == nil ||
		!strings.Contains(err.Error(), "-cpuprofile") {
		t.Fatalf("unwritable path: %v, want an error naming -cpuprofile", err)
	}
	if stop, err := startCPUProfile(""); err != nil || stop() != nil {
		t.Fatalf("empty path: %v", err)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "256MiB": 256 << 20, "1GiB": 1 << 30, "300000000": 300_000_000, "10KiB": 10 << 10, "5B": 5} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Fatalf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1TB", "MiB", "1.5GiB"} {
		if _, err := parseBytes(in); err == nil {
			t.Fatalf("parseBytes(%q): no error", in)
		}
	}
}
