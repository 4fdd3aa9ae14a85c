package ingest

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/producers/producer"
	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/schemas/endpoint"
)

// The SASL_SSL listener of the local broker (deployments/local/kafka.sh): these names are the
// tests', not a binary's flags.
const (
	envSASLBrokers  = "SPACEPULSE_TEST_KAFKA_SASL_BROKERS"       // 127.0.0.1:9094
	envSASLCA       = "SPACEPULSE_TEST_KAFKA_CA"                 // the CA that signed its certificate
	envSASLOtherCA  = "SPACEPULSE_TEST_KAFKA_OTHER_CA"           // a CA that did not
	envSASLUser     = "SPACEPULSE_TEST_KAFKA_SASL_USER"          // spacepulse
	envSASLPassword = "SPACEPULSE_TEST_KAFKA_SASL_PASSWORD_FILE" // its password
)

// saslServer returns the SASL_SSL listener's settings (mechanism SCRAM-SHA-512) and the CA that
// did not sign its certificate, skipping or failing t per the gate when it does not answer.
func saslServer(t *testing.T) (k endpoint.Kafka, otherCA string) {
	t.Helper()
	servers(t) // the plain listener and ClickHouse: topics and databases are made through them
	addr := envOr(envSASLBrokers, "127.0.0.1:9094")
	run := envOr("SPACEPULSE_RUN_DIR", filepath.Join("..", "..", ".run"))
	ca := envOr(envSASLCA, filepath.Join(run, "kafka", "tls", "ca.pem"))
	otherCA = envOr(envSASLOtherCA, filepath.Join(run, "kafka", "tls", "other-ca.pem"))
	pw, err := os.ReadFile(envOr(envSASLPassword, filepath.Join(run, "kafka", "sasl.password")))
	c, derr := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil || derr != nil {
		msg := "Kafka SASL_SSL listener at " + addr + ": password file: " + errString(err) + ", dial: " + errString(derr) +
			" (deployments/local/kafka.sh start serves it; " + envSASLBrokers + " and " + envSASLPassword + " name it)"
		if os.Getenv("SPACEPULSE_INTEGRATION") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	c.Close()
	return endpoint.Kafka{
		Brokers: []string{addr},
		TLS:     endpoint.TLS{CAFile: ca},
		SASL:    endpoint.SASL{Mechanism: endpoint.ScramSHA512, User: envOr(envSASLUser, "spacepulse"), Password: strings.TrimSpace(string(pw))},
	}, otherCA
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// newSASLProducer is the producer library over k's TLS and SASL.
func newSASLProducer(t *testing.T, k endpoint.Kafka, topic string) *producer.Producer {
	t.Helper()
	tlsCfg, err := k.TLS.Config("kafka")
	if err != nil {
		t.Fatal(err)
	}
	mech, err := k.SASL.KafkaGoSASL()
	if err != nil {
		t.Fatal(err)
	}
	p, err := producer.New(producer.Config{Brokers: k.Brokers, Topic: topic, TLS: tlsCfg, SASL: mech, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// For each mechanism, over TLS: the producer library sends a load, the consumer (RunConsumer,
// as spacepulse-consumer runs it) lands every valid event once and dead-letters the invalid
// ones through its dead-letter writer, all on the SASL_SSL listener.
func TestKafkaOverSASLAndTLS(t *testing.T) {
	k, _ := saslServer(t)
	brokers, ch := servers(t)
	for _, mech := range []string{endpoint.Plain, endpoint.ScramSHA256, endpoint.ScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			k := k
			k.SASL.Mechanism = mech
			topic := newTopic(t, brokers, randomName("sasl-"), 3)
			dlq := newTopic(t, brokers, topic+".dlq", 1)
			ch, conn := newDatabase(t, ch)
			load := makeLoad(600, time.Now().UTC().Add(-time.Hour).Truncate(time.Second), 11)

			p := newSASLProducer(t, k, topic)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := p.Ping(ctx); err != nil {
				t.Fatalf("producer ping over %s: %v", mech, err)
			}
			for _, m := range load.msgs {
				if err := p.ProduceMessage(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.Close(); err != nil {
				t.Fatalf("producer over %s: %v", mech, err)
			}

			cfg := ConsumerConfig{Kafka: k, Group: randomName("sasl-group-"), ClickHouse: ch,
				Pipeline: Config{Topic: topic, DLQTopic: dlq, BatchAge: 200 * time.Millisecond}}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- RunConsumer(runCtx, cfg, testLogger(t)) }()
			want := uint64(len(distinct(load.events)))
			waitFor(t, "every event landed over "+mech, func() (bool, string) {
				n := count(t, conn, "SELECT count() FROM events")
				return n == want, describe("%d of %d events", n, want)
			})
			stop()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Fatalf("RunConsumer over %s: %v", mech, err)
			}
			if got := count(t, conn, "SELECT count() FROM events"); got != want {
				t.Fatalf("%d events after the stop, want %d (once each)", got, want)
			}
			dead := readDLQ(t, brokers, dlq, len(load.invalid))
			if len(dead) != len(load.invalid) {
				t.Fatalf("%d dead letters, want %d", len(dead), len(load.invalid))
			}
		})
	}
}

// distinct is evs without repeated event ids.
func distinct(evs []schemas.Event) map[[16]byte]bool {
	ids := make(map[[16]byte]bool, len(evs))
	for _, e := range evs {
		ids[e.EventID] = true
	}
	return ids
}

// Settings the broker refuses end at once with endpoint.ErrRefused and the flag to change, in
// the consumer's group client (franz-go), the producer library (kafka-go) and the consumer
// binary, which exits 2 with one line.
func TestKafkaRefusals(t *testing.T) {
	k, otherCA := saslServer(t)
	_, ch := servers(t)
	ch, _ = newDatabase(t, ch) // at the current schema: the consumer checks it before Kafka
	wrongPassword := k
	wrongPassword.SASL.Password = "not-the-password"
	untrusted := k
	untrusted.TLS.CAFile = otherCA
	plainPort := k
	plainPort.Brokers = []string{envOr("SPACEPULSE_KAFKA_BROKERS", "127.0.0.1:9092")}
	plainToTLS := k
	plainToTLS.TLS = endpoint.TLS{}
	plainToTLS.SASL = endpoint.SASL{}
	// f requires both clients to refuse k with an error mentioning want (the producer library
	// only when producerToo: kafka-go reports TLS spoken to a plain listener as a bare EOF).
	f := func(name string, k endpoint.Kafka, want string, producerToo bool) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		opts, err := KafkaOpts(k)
		if err != nil {
			t.Fatal(err)
		}
		r, err := NewGroupReader(k.Brokers, randomName("refused-"), "spaces.events", testLogger(t), opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		err = waitForKafka(ctx, k, r.Ping, testLogger(t))
		if !errors.Is(err, endpoint.ErrRefused) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: group client: %v; want a refusal mentioning %q", name, err, want)
		}
		if !producerToo {
			return
		}
		p := newSASLProducer(t, k, "spaces.events")
		defer p.Close()
		err = k.Refused(p.Ping(ctx))
		if !errors.Is(err, endpoint.ErrRefused) || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: producer: %v; want a refusal mentioning %q", name, err, want)
		}
	}
	f("wrong password", wrongPassword, "-kafka-sasl-password", true)
	f("untrusted certificate", untrusted, "-kafka-tls-ca-file", true)
	f("TLS to the plain listener", plainPort, "drop -kafka-tls", false)
	f("plain TCP to the TLS listener", plainToTLS, "set -kafka-tls", true)

	// The binaries: exit 2, one line that names the flag.
	dir := t.TempDir()
	bin, producerBin := filepath.Join(dir, "spacepulse-consumer"), filepath.Join(dir, "spacepulse-producer")
	if out, err := exec.Command("go", "build", "-o", dir, "../cmd/spacepulse-consumer", "../../producers/cmd/spacepulse-producer").CombinedOutput(); err != nil {
		t.Fatalf("build the binaries: %v: %s", err, out)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(env []string, want string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if args == nil {
			args = []string{bin, "-log-level", "error"}
		}
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = append(os.Environ(), append([]string{"SPACEPULSE_KAFKA_BROKERS=" + k.Brokers[0],
			"SPACEPULSE_KAFKA_SASL_MECHANISM=SCRAM-SHA-256", "SPACEPULSE_KAFKA_SASL_USER=" + k.SASL.User,
			"SPACEPULSE_CLICKHOUSE_ADDR=" + ch.Addr, "SPACEPULSE_CLICKHOUSE_DATABASE=" + ch.Database}, env...)...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), want) ||
			strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
			t.Fatalf("consumer %v: %v, output %q; want exit 2 and one line mentioning %q", env, err, out, want)
		}
	}
	run([]string{"SPACEPULSE_KAFKA_TLS_CA_FILE=" + k.TLS.CAFile, "SPACEPULSE_KAFKA_SASL_PASSWORD_FILE=" + pwFile}, "check -kafka-sasl-user")
	run([]string{"SPACEPULSE_KAFKA_TLS_CA_FILE=" + otherCA, "SPACEPULSE_KAFKA_SASL_PASSWORD=" + k.SASL.Password}, "set -kafka-tls-ca-file")
	run([]string{"SPACEPULSE_KAFKA_TLS_CA_FILE=" + k.TLS.CAFile, "SPACEPULSE_KAFKA_SASL_PASSWORD_FILE=" + pwFile}, "check -kafka-sasl-user",
		producerBin, "load", "-events", "10")
}
