package e2e

import (
	"net"
	"os"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/spacepulse/spacepulse/grafana/pkg/internal/testca"
	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

// tlsServer returns the test ClickHouse's TLS address and the PEM of the CA that signed its
// certificate (warehousetest.TLSServer), skipping or failing t per the gate.
func tlsServer(t *testing.T) (addr, caPEM string) {
	t.Helper()
	addr, caFile := warehousetest.TLSServer(t)
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	return addr, string(ca)
}

// tlsInstance is a datasource for cfg's database at addr with tls on, secureJsonData.tlsCACert
// caPEM (none when empty) and jsonData extra.
func tlsInstance(cfg warehouse.Config, addr, caPEM string, extra map[string]any) instance {
	js := map[string]any{"tls": true}
	for k, v := range extra {
		js[k] = v
	}
	in := newInstance(withAddr(cfg, addr), cfg.Password, js)
	if caPEM != "" {
		in.pc.DataSourceInstanceSettings.DecryptedSecureJSONData["tlsCACert"] = caPEM
	}
	return in
}

// TestCheckHealthTLS runs CheckHealth through the plugin binary against ClickHouse's secure port:
// verified with the CA from secureJsonData, or unverified on request; and each way it can be
// misconfigured fails with a message that names the setting to change.
func TestCheckHealthTLS(t *testing.T) {
	addr, ca := tlsServer(t)
	_, cfg, _ := newDB(t)
	c := launch(t)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s %q: %v", warehousetest.EnvTLSAddr, addr, err)
	}

	ok := func(name string, in instance) {
		t.Helper()
		got := c.checkHealth(t, in)
		if got.Status != backend.HealthStatusOk || !strings.Contains(got.Message, "schema version") {
			t.Errorf("%s: got %v %q, want OK", name, got.Status, got.Message)
		}
	}
	ok("the CA in tlsCACert", tlsInstance(cfg, addr, ca, nil))
	ok("tlsSkipVerify without a CA", tlsInstance(cfg, addr, "", map[string]any{"tlsSkipVerify": true}))
	ok("tlsSkipVerify and a CA of someone else", tlsInstance(cfg, addr, testca.PEM(t, "not the spacepulse CA"), map[string]any{"tlsSkipVerify": true}))
	if host == "127.0.0.1" {
		// The certificate names both; the address's host is checked unless tlsServerName says otherwise.
		ok("the address by the name localhost", tlsInstance(cfg, net.JoinHostPort("localhost", port), ca, nil))
		ok("tlsServerName localhost", tlsInstance(cfg, addr, ca, map[string]any{"tlsServerName": "localhost"}))
	}

	fail := func(name string, in instance, want ...string) {
		t.Helper()
		got := c.checkHealth(t, in)
		if got.Status != backend.HealthStatusError {
			t.Errorf("%s: got %v %q, want an error", name, got.Status, got.Message)
			return
		}
		for _, w := range want {
			if !strings.Contains(got.Message, w) {
				t.Errorf("%s: message %q, want it to contain %q", name, got.Message, w)
			}
		}
	}
	fail("no CA", tlsInstance(cfg, addr, "", nil),
		"certificate signed by unknown authority", "set tlsCACert")
	fail("a CA of someone else", tlsInstance(cfg, addr, testca.PEM(t, "not the spacepulse CA"), nil),
		"certificate signed by unknown authority", "set tlsCACert")
	fail("tlsServerName the certificate does not name", tlsInstance(cfg, addr, ca, map[string]any{"tlsServerName": "clickhouse.example.com"}),
		"clickhouse.example.com", "tlsServerName")
	fail("TLS at the plain port", tlsInstance(cfg, cfg.Addr, ca, nil),
		"first record does not look like a TLS handshake", "secure native port")
	fail("no TLS at the TLS port", newInstance(withAddr(cfg, addr), cfg.Password, nil),
		"cannot reach ClickHouse", "secure native port", "turn on TLS")
}

// TestTLSCACertInvalid: a tlsCACert that is no certificate fails the datasource's settings (the
// SDK reports the instance's error as the health message), and the message names the field. No
// server is needed: the settings fail before any connection.
func TestTLSCACertInvalid(t *testing.T) {
	c := launch(t)
	f := func(name, pem, want string) {
		t.Helper()
		got := c.checkHealth(t, tlsInstance(warehousetest.Config("system"), "127.0.0.1:9440", pem, nil))
		if got.Status != backend.HealthStatusError || !strings.Contains(got.Message, want) {
			t.Errorf("%s: got %v %q, want an error containing %q", name, got.Status, got.Message, want)
		}
	}
	f("a file name, not PEM", "/etc/ssl/ca.pem", "tlsCACert: no PEM certificate found")
	f("a private key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "tlsCACert: holds a private key")
}
