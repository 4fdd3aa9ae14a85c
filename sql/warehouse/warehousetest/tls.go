package warehousetest

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// The TLS server the tests use: the same ClickHouse as SPACEPULSE_CLICKHOUSE_ADDR on its secure
// native port (deployments/local/clickhouse.sh serves one, with a certificate for 127.0.0.1 and
// localhost signed by its own CA). These names are the tests', not a binary's flags.
const (
	// EnvTLSAddr is the secure native port, default 127.0.0.1:9440.
	EnvTLSAddr = "SPACEPULSE_CLICKHOUSE_TLS_ADDR"
	// EnvTLSCA is the PEM file of the CA that signed its certificate, default
	// $SPACEPULSE_RUN_DIR/clickhouse/tls/ca.pem, SPACEPULSE_RUN_DIR defaulting to <repo>/.run.
	EnvTLSCA = "SPACEPULSE_CLICKHOUSE_TLS_CA"
)

// TLSServer returns the TLS address and the CA's PEM file, skipping or failing t per the gate
// when the port gives no TLS handshake or the CA file is missing.
func TLSServer(t testing.TB) (addr, caFile string) {
	t.Helper()
	NeedServer(t) // the plain port: test databases are made through it
	addr = os.Getenv(EnvTLSAddr)
	if addr == "" {
		addr = "127.0.0.1:9440"
	}
	caFile = os.Getenv(EnvTLSCA)
	if caFile == "" {
		caFile = filepath.Join(RunDir(), "clickhouse", "tls", "ca.pem")
	}
	unavailable := func(format string, args ...any) {
		t.Helper()
		msg := "ClickHouse TLS: " + fmt.Sprintf(format, args...) + " (deployments/local/clickhouse.sh stop && start serves it; " +
			EnvTLSAddr + ", " + EnvTLSCA + " name it)"
		if os.Getenv(EnvGate) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; set " + EnvGate + "=1 to require it")
	}
	if _, err := os.Stat(caFile); err != nil {
		unavailable("cannot read the CA file: %v", err)
	}
	// A handshake rather than a bare TCP probe: 18.16 logs a connection that never starts TLS as an
	// SSL error with a stack trace. Verification is the tests' business, not the probe's.
	d := &net.Dialer{Timeout: 2 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a reachability probe
	if err != nil {
		unavailable("no TLS handshake at %s: %v", addr, err)
	}
	_ = conn.Close()
	return addr, caFile
}

// RunDir is where deployments/local keeps the servers' files: SPACEPULSE_RUN_DIR, default
// <repo>/.run.
func RunDir() string {
	if run := os.Getenv("SPACEPULSE_RUN_DIR"); run != "" {
		return run
	}
	_, file, _, _ := runtime.Caller(0) // <repo>/sql/warehouse/warehousetest/tls.go
	return filepath.Join(filepath.Dir(file), "..", "..", "..", ".run")
}

// GrafanaUser is the test server's read-only user with a password (deployments/local/clickhouse.sh
// makes it, with access to the databases spacepulse and spacepulse_grafana_test).
const GrafanaUser = "spacepulse_grafana"

// EnvGrafanaPasswordFile names the file with GrafanaUser's password, default
// $SPACEPULSE_RUN_DIR/clickhouse/grafana.password (made by clickhouse.sh start).
const EnvGrafanaPasswordFile = "SPACEPULSE_CLICKHOUSE_GRAFANA_PASSWORD_FILE"

// GrafanaPasswordFile returns the file holding GrafanaUser's password, skipping or failing t per
// the gate when it is missing.
func GrafanaPasswordFile(t testing.TB) string {
	t.Helper()
	NeedServer(t)
	path := os.Getenv(EnvGrafanaPasswordFile)
	if path == "" {
		path = filepath.Join(RunDir(), "clickhouse", "grafana.password")
	}
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("the password of %s: %v (deployments/local/clickhouse.sh start makes it; %s names it)", GrafanaUser, err, EnvGrafanaPasswordFile)
		if os.Getenv(EnvGate) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; set " + EnvGate + "=1 to require it")
	}
	return path
}
