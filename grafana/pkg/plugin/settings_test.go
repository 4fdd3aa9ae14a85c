package plugin

import (
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/spacepulse/spacepulse/grafana/pkg/internal/testca"
)

func TestParseSettings(t *testing.T) {
	f := func(js string, wantErr string, check func(Settings) bool) {
		t.Helper()
		s, err := ParseSettings(backend.DataSourceInstanceSettings{JSONData: []byte(js), DecryptedSecureJSONData: map[string]string{"password": "pw"}})
		switch {
		case wantErr != "":
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%s: error %v, want %q", js, err, wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", js, err)
		case check != nil && !check(s):
			t.Errorf("%s: got %+v", js, s)
		}
	}
	f(`{}`, "", func(s Settings) bool {
		return s.Warehouse.Addr == "127.0.0.1:9000" && s.Warehouse.Database == "spacepulse" && s.Warehouse.Password == "pw" &&
			s.Timeout == DefaultTimeout && s.RowLimit == DefaultRowLimit && s.StreamDelay == DefaultStreamDelay && s.TLS == nil
	})
	f(`{"addr":"ch:9440","database":"db1","user":"grafana","tls":true,"timeoutSeconds":5,"rowLimit":10,"streamDelaySeconds":0}`, "", func(s Settings) bool {
		return s.Warehouse.Addr == "ch:9440" && s.TLS != nil && !s.TLS.InsecureSkipVerify && s.Timeout == 5*time.Second && s.RowLimit == 10 && s.StreamDelay == 0
	})
	f(`{"addr":"nohost"}`, "host:port", nil)
	f(`{"database":"x; DROP"}`, "database", nil)
	f(`{"timeoutSeconds":99999}`, "timeout", nil)
	f(`{"rowLimit":-1}`, "row limit", nil)
	f(`{"streamDelaySeconds":-1}`, "stream delay", nil)
	f(`{"addr":`, "read settings", nil)
}

func TestParseSettingsTLS(t *testing.T) {
	ca := testca.PEM(t, "test CA")
	f := func(js, caPEM string, wantErr string, check func(Settings) bool) {
		t.Helper()
		secure := map[string]string{"password": "pw"}
		if caPEM != "" {
			secure["tlsCACert"] = caPEM
		}
		s, err := ParseSettings(backend.DataSourceInstanceSettings{JSONData: []byte(js), DecryptedSecureJSONData: secure})
		switch {
		case wantErr != "":
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%s: error %v, want %q", js, err, wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", js, err)
		case check != nil && !check(s):
			t.Errorf("%s: got %+v", js, s.TLS)
		}
	}
	// TLS off: the TLS fields are ignored, as Grafana's own datasources do with a stored CA.
	f(`{"tlsServerName":"ch","tlsSkipVerify":true}`, ca, "", func(s Settings) bool { return s.TLS == nil })
	f(`{"tls":false}`, "not a pem", "", func(s Settings) bool { return s.TLS == nil })
	// No CA: the system roots, the address's host.
	f(`{"tls":true}`, "", "", func(s Settings) bool {
		return s.TLS.RootCAs == nil && s.TLS.ServerName == "" && !s.TLS.InsecureSkipVerify && s.TLS.MinVersion >= 0x0303
	})
	f(`{"tls":true}`, ca, "", func(s Settings) bool { return s.TLS.RootCAs != nil && !s.TLS.InsecureSkipVerify })
	f(`{"tls":true}`, "  \n"+ca+"\n", "", func(s Settings) bool { return s.TLS.RootCAs != nil })
	f(`{"tls":true}`, ca+ca, "", func(s Settings) bool { return s.TLS.RootCAs != nil })
	f(`{"tls":true}`, "   ", "", func(s Settings) bool { return s.TLS.RootCAs == nil })
	f(`{"tls":true,"tlsSkipVerify":true}`, "", "", func(s Settings) bool { return s.TLS.InsecureSkipVerify })
	f(`{"tls":true,"tlsServerName":"clickhouse.example.com"}`, ca, "", func(s Settings) bool { return s.TLS.ServerName == "clickhouse.example.com" })
	f(`{"tls":true,"tlsServerName":" localhost "}`, "", "", func(s Settings) bool { return s.TLS.ServerName == "localhost" })
	f(`{"tls":true,"tlsServerName":"127.0.0.1"}`, "", "", func(s Settings) bool { return s.TLS.ServerName == "127.0.0.1" })
	f(`{"tls":true,"tlsServerName":"::1"}`, "", "", func(s Settings) bool { return s.TLS.ServerName == "::1" })

	f(`{"tls":true,"tlsServerName":"ch.example.com:9440"}`, "", `tlsServerName "ch.example.com:9440": want the host name`, nil)
	f(`{"tls":true,"tlsServerName":"https://ch.example.com"}`, "", "tlsServerName", nil)
	f(`{"tls":true,"tlsServerName":"two words"}`, "", "tlsServerName", nil)
	f(`{"tls":true}`, "not a pem", "tlsCACert: no PEM certificate found", nil)
	f(`{"tls":true}`, strings.TrimSuffix(strings.TrimSpace(ca), "-----END CERTIFICATE-----"), "tlsCACert: no PEM certificate found", nil)
	f(`{"tls":true}`, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "tlsCACert: certificate 1:", nil)
	f(`{"tls":true}`, ca+"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "tlsCACert: certificate 2:", nil)
	f(`{"tls":true}`, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "tlsCACert: holds a private key", nil)
	f(`{"tls":true}`, ca+"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", "tlsCACert: holds a private key", nil)
}
