package endpoint

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestKafkaRefused(t *testing.T) {
	k := Kafka{Brokers: []string{"b:9094"}, SASL: SASL{Mechanism: ScramSHA512, User: "u"}}
	tlsOn := k
	tlsOn.TLS.Enable = true
	f := func(k Kafka, err error, want string) {
		t.Helper()
		got := k.Refused(err)
		switch {
		case want == "" && got != nil:
			t.Fatalf("Refused(%v) = %v, want nil", err, got)
		case want != "" && (!errors.Is(got, ErrRefused) || !strings.Contains(got.Error(), want)):
			t.Fatalf("Refused(%v) = %v, want a refusal mentioning %q", err, got, want)
		case want != "" && !errors.Is(got, err):
			t.Fatalf("Refused(%v) does not wrap the client's error", err)
		}
	}
	f(k, nil, "")
	f(k, io.EOF, "")
	f(k, &net.OpError{Op: "dial", Err: errors.New("connection refused")}, "")
	f(k, fmt.Errorf("metadata: %w", kafka.SASLAuthenticationFailed), `refused user "u" with SCRAM-SHA-512`)
	f(k, kafka.UnsupportedSASLMechanism, "choose another -kafka-sasl-mechanism")
	f(k, kafka.IllegalSASLState, "drop -kafka-sasl-mechanism")
	f(Kafka{Brokers: k.Brokers}, fmt.Errorf("%w: broker appears to be expecting TLS", io.ErrUnexpectedEOF), "set -kafka-tls")
	f(tlsOn, tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "drop -kafka-tls")
}

// A TLS handshake with a server whose CA is not given is refused with the flag to set, and works
// with it.
func TestTLSConfig(t *testing.T) {
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pemOf(srv.Certificate().Raw), 0o600); err != nil {
		t.Fatal(err)
	}
	dial := func(c TLS) error {
		cfg, err := c.Config("kafka")
		if err != nil {
			return err
		}
		conn, err := tls.Dial("tcp", addr, cfg)
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := dial(TLS{CAFile: ca}); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	err := Refused("kafka "+addr, "kafka", dial(TLS{Enable: true}))
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "set -kafka-tls-ca-file") {
		t.Fatalf("without the CA: %v, want a refusal naming -kafka-tls-ca-file", err)
	}
	if err := dial(TLS{Enable: true, InsecureSkipVerify: true}); err != nil {
		t.Fatalf("skip-verify: %v", err)
	}
	f := func(c TLS, want string) {
		t.Helper()
		if _, err := c.Config("kafka"); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Config(%+v) = %v, want an error mentioning %q", c, err, want)
		}
	}
	f(TLS{CAFile: filepath.Join(dir, "none.pem")}, "-kafka-tls-ca-file")
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	f(TLS{CAFile: notPEM}, "no PEM certificate")
	f(TLS{CertFile: ca}, "give both")
	if c, err := (TLS{}).Config("kafka"); c != nil || err != nil {
		t.Fatalf("TLS off: %v, %v; want nil, nil", c, err)
	}
}

func pemOf(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
