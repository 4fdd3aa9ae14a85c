package plugin

import (
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
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
