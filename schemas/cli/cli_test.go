package cli

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/schemas/endpoint"
)

type settings struct {
	k     endpoint.Kafka
	rows  int
	age   time.Duration
	token string
}

func newSet(s *settings) *FlagSet {
	fs := New("prog")
	fs.Kafka(&s.k, "127.0.0.1:9092")
	fs.IntVar(&s.rows, "batch-rows", 10, "cut a batch at this many events")
	fs.DurationVar(&s.age, "batch-age", time.Second, "cut a batch this long after its first event")
	fs.Secret(&s.token, "api-token", "a token")
	return fs
}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// f parses args under env and checks the error mentions want ("" = no error); check then
	// looks at the settings.
	f := func(args []string, env map[string]string, want string, check func(s settings) bool) {
		t.Helper()
		for k, v := range env {
			t.Setenv(k, v)
		}
		var s settings
		err := newSet(&s).Parse(args)
		for k := range env {
			os.Unsetenv(k)
		}
		switch {
		case want == "" && err != nil:
			t.Fatalf("%q %v: %v", args, env, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Fatalf("%q %v: got %v, want an error mentioning %q", args, env, err, want)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Fatalf("%q: error of several lines: %q", args, err)
		case check != nil && !check(s):
			t.Fatalf("%q %v: settings %+v", args, env, s)
		}
	}
	f(nil, nil, "", func(s settings) bool { return s.k.Brokers[0] == "127.0.0.1:9092" && s.rows == 10 && s.token == "" })
	f(nil, map[string]string{"SPACEPULSE_KAFKA_BROKERS": "a:1, b:2"}, "", func(s settings) bool { return len(s.k.Brokers) == 2 && s.k.Brokers[1] == "b:2" })
	f([]string{"-batch-rows", "7"}, map[string]string{"SPACEPULSE_BATCH_ROWS": "9"}, "", func(s settings) bool { return s.rows == 7 })
	f(nil, map[string]string{"SPACEPULSE_BATCH_ROWS": "9"}, "", func(s settings) bool { return s.rows == 9 })
	f(nil, map[string]string{"SPACEPULSE_BATCH_ROWS": "many"}, `SPACEPULSE_BATCH_ROWS="many" (-batch-rows): want a whole number`, nil)
	f([]string{"-batch-rows", "x"}, nil, `-batch-rows "x": want a whole number (cut a batch at this many events; SPACEPULSE_BATCH_ROWS)`, nil)
	f([]string{"-batch-age", "5"}, nil, "want a duration such as 500ms", nil)
	f([]string{"-batch-age"}, nil, "-batch-age needs a value", nil)
	f([]string{"-bacth-rows", "1"}, nil, "-bacth-rows is not a flag of prog: did you mean -batch-rows?", nil)
	f([]string{"-zzz"}, nil, "-zzz is not a flag of prog (-h lists the flags)", nil)
	f([]string{"send"}, nil, `unexpected argument "send": prog takes flags only`, nil)
	f([]string{"-kafka-brokers", "nope"}, nil, `"nope" is not host:port`, nil)
	f([]string{"-api-token-file", secret}, nil, "", func(s settings) bool { return s.token == "s3cret" })
	f(nil, map[string]string{"SPACEPULSE_API_TOKEN_FILE": secret}, "", func(s settings) bool { return s.token == "s3cret" })
	f([]string{"-api-token", "x", "-api-token-file", secret}, nil, "both set", nil)
	f([]string{"-api-token-file", empty}, nil, "is empty", nil)
	f([]string{"-api-token-file", filepath.Join(dir, "none")}, nil, "SPACEPULSE_API_TOKEN_FILE", nil)
	f([]string{"-kafka-sasl-password-file", secret, "-kafka-sasl-mechanism", "SCRAM-SHA-256", "-kafka-sasl-user", "u"}, nil, "",
		func(s settings) bool { return s.k.SASL.Password == "s3cret" && s.k.SASL.User == "u" })
	f([]string{"-kafka-sasl-user", "u"}, nil, "-kafka-sasl-mechanism is not", nil)

	var s settings
	if err := newSet(&s).Parse([]string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
}

func TestNearest(t *testing.T) {
	commands := []string{"send", "load", "replay"}
	f := func(word, want string) {
		t.Helper()
		if got := Nearest(word, commands); got != want {
			t.Fatalf("Nearest(%q) = %q, want %q", word, got, want)
		}
	}
	f("sned", "send")
	f("lod", "load")
	f("replya", "replay")
	f("xyz", "")
	f("migrate", "")
}

func TestEnv(t *testing.T) {
	f := func(name, want string) {
		t.Helper()
		if got := Env(name); got != want {
			t.Fatalf("Env(%q) = %q, want %q", name, got, want)
		}
	}
	f("kafka-brokers", "SPACEPULSE_KAFKA_BROKERS")
	f("clickhouse-password-file", "SPACEPULSE_CLICKHOUSE_PASSWORD_FILE")
}

// TestParseUsage reads back what PrintUsage writes: every flag, and the defaults it prints.
func TestParseUsage(t *testing.T) {
	var s settings
	fs := newSet(&s)
	var topic string
	fs.StringVar(&topic, "kafka-topic", "spaces.events", "topic to read\n(several lines of usage)")
	var out strings.Builder
	fs.PrintUsage(&out, "usage: prog")
	got := ParseUsage([]byte(out.String()))
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		if _, ok := got[f.Name]; !ok {
			t.Errorf("flag -%s missing from %v", f.Name, got)
		}
	})
	if len(got) != n {
		t.Errorf("read %d flags, the set has %d: %v", len(got), n, got)
	}
	for name, want := range map[string]string{
		"batch-rows": "10", "batch-age": "1s", "kafka-topic": "spaces.events",
		"kafka-brokers": "127.0.0.1:9092", "api-token": "",
	} {
		if got[name] != want {
			t.Errorf("default of -%s: %q, want %q", name, got[name], want)
		}
	}
}
