// Package endpoint says how to reach the servers spacepulse talks to: Kafka brokers with TLS and
// SASL, and the TLS settings a ClickHouse connection shares. The types are plain structs that the
// producer library, the consumer and the warehouse take as they are; package schemas/cli binds
// them to flags and SPACEPULSE_* variables in each binary's main. Nothing here reads a flag or
// the environment.
//
// A connection refused for its settings (a certificate nobody configured trust for, a wrong
// password) is an ErrRefused error with a hint that names the flag to change: retrying cannot help,
// so binaries stop at once with exit status 2 instead of waiting for the server.
package endpoint

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// TLS says whether and how to use TLS. The zero value is plain TCP.
type TLS struct {
	// Enable turns TLS on; the other fields imply it.
	Enable bool
	// CAFile is a PEM file of the CAs to trust (default: the system's roots).
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for servers that require
	// one (mutual TLS); both or neither.
	CertFile, KeyFile string
	// ServerName is the name the server's certificate must carry (default: the host dialled).
	ServerName string
	// InsecureSkipVerify accepts any certificate: for a test server only, never in production.
	InsecureSkipVerify bool
}

// On reports whether TLS is used: Enable, or any setting that only makes sense with TLS.
func (t TLS) On() bool {
	return t.Enable || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.InsecureSkipVerify
}

// Config builds the crypto/tls configuration: nil when TLS is off. prefix names the flags in
// errors ("kafka" for -kafka-tls-ca-file).
func (t TLS) Config(prefix string) (*tls.Config, error) {
	if !t.On() {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // an explicit, documented opt-in
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("-%s-tls-ca-file: %w", prefix, err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-%s-tls-ca-file %s: no PEM certificate in it: give the CA's certificate (-----BEGIN CERTIFICATE-----)", prefix, t.CAFile)
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, fmt.Errorf("-%s-tls-cert-file and -%s-tls-key-file: give both (a client certificate and its key) or neither", prefix, prefix)
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("-%s-tls-cert-file %s, -%s-tls-key-file %s: %w", prefix, t.CertFile, prefix, t.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// SASL mechanisms Kafka offers that spacepulse speaks.
const (
	Plain       = "PLAIN"
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// SASL says how to authenticate to Kafka. The zero value is no authentication.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (case-insensitive); empty: none.
	Mechanism string
	// User and Password are the credentials.
	User, Password string
}

// mechanism returns Mechanism in upper case, or an error naming the ones there are.
func (s SASL) mechanism() (string, error) {
	switch m := strings.ToUpper(strings.TrimSpace(s.Mechanism)); m {
	case "", Plain, ScramSHA256, ScramSHA512:
		return m, nil
	}
	return "", fmt.Errorf("-kafka-sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, or empty for none (SPACEPULSE_KAFKA_SASL_MECHANISM)", s.Mechanism)
}

// Kafka is how to reach a Kafka cluster.
type Kafka struct {
	// Brokers are the bootstrap brokers, host:port.
	Brokers []string
	TLS     TLS
	SASL    SASL
}

// ParseBrokers splits a comma-separated host:port list, checking each.
func ParseBrokers(s string) ([]string, error) {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b == "" {
			continue
		}
		if err := checkHostPort(b); err != nil {
			return nil, fmt.Errorf("-kafka-brokers %q: %q %v (SPACEPULSE_KAFKA_BROKERS)", s, b, err)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("-kafka-brokers is empty: give host:port of at least one broker, such as 127.0.0.1:9092 (SPACEPULSE_KAFKA_BROKERS)")
	}
	return out, nil
}

// checkHostPort accepts host:port with a port 1-65535.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return errors.New("is not host:port")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return errors.New("wants a port 1-65535")
	}
	return nil
}

// Validate reports the first setting that cannot work, in one line naming the flag.
func (k Kafka) Validate() error {
	if len(k.Brokers) == 0 {
		return errors.New("-kafka-brokers is empty: give host:port of at least one broker, such as 127.0.0.1:9092 (SPACEPULSE_KAFKA_BROKERS)")
	}
	for _, b := range k.Brokers {
		if err := checkHostPort(b); err != nil {
			return fmt.Errorf("-kafka-brokers: %q %v (SPACEPULSE_KAFKA_BROKERS)", b, err)
		}
	}
	m, err := k.SASL.mechanism()
	if err != nil {
		return err
	}
	if m != "" && k.SASL.User == "" {
		return fmt.Errorf("-kafka-sasl-user is empty: %s needs a user name (SPACEPULSE_KAFKA_SASL_USER)", m)
	}
	if m == "" && k.SASL.User != "" {
		return errors.New("-kafka-sasl-user is set but -kafka-sasl-mechanism is not: choose PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SPACEPULSE_KAFKA_SASL_MECHANISM)")
	}
	_, err = k.TLS.Config("kafka")
	return err
}
