// Package plugin is the SpacePulse Grafana datasource backend: health checks, typed queries over
// the warehouse's sql/ queries, raw SQL for analysts, Grafana Live concurrency streams and
// resources for dashboard variables. It reaches ClickHouse only through sql/warehouse.
package plugin

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// ID is the plugin id of src/plugin.json.
const ID = "spacepulse-spacepulse-datasource"

// Defaults for settings left empty.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultRowLimit     = 1_000_000
	DefaultStreamDelay  = 2 * time.Second
	MaxRowLimit         = 50_000_000
	maxStreamDelaySecs  = 600
	maxTimeoutSecs      = 3600
	defaultDialTimeout  = 5 * time.Second
	minimumTimeoutSecs  = 1
	maximumRoomsPerPull = 1000
)

// jsonSettings is the datasource's jsonData, as the ConfigEditor writes it.
type jsonSettings struct {
	Addr               string `json:"addr"`
	Database           string `json:"database"`
	User               string `json:"user"`
	TLS                bool   `json:"tls"`
	TLSSkipVerify      bool   `json:"tlsSkipVerify"`
	TLSServerName      string `json:"tlsServerName"`
	TimeoutSeconds     int    `json:"timeoutSeconds"`
	RowLimit           int    `json:"rowLimit"`
	StreamDelaySeconds *int   `json:"streamDelaySeconds"`
}

// Settings is one configured datasource.
type Settings struct {
	// Warehouse is the ClickHouse address, database, user and password (secureJsonData.password).
	Warehouse warehouse.Config
	// TLS is nil for plain TCP (jsonData.tls off). Otherwise it verifies the server's certificate
	// against secureJsonData.tlsCACert when set (the system roots when not), for the host of
	// the address or jsonData.tlsServerName, unless jsonData.tlsSkipVerify.
	TLS *tls.Config
	// Timeout bounds every query (context and ClickHouse max_execution_time); default 30s.
	Timeout time.Duration
	// RowLimit bounds the rows of one query's result; default 1,000,000.
	RowLimit int
	// StreamDelay is how far behind now a second must be before RunStream sends it as complete
	// (events arrive up to a few seconds late); default 2s.
	StreamDelay time.Duration
}

// ParseSettings reads and validates a datasource's settings; the error says which field to fix.
func ParseSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var js jsonSettings
	if len(s.JSONData) > 0 {
		if err := json.Unmarshal(s.JSONData, &js); err != nil {
			return Settings{}, fmt.Errorf("read settings: %w", err)
		}
	}
	cfg := warehouse.NewConfig()
	if js.Addr != "" {
		cfg.Addr = js.Addr
	}
	if js.Database != "" {
		cfg.Database = js.Database
	}
	if js.User != "" {
		cfg.User = js.User
	}
	cfg.Password = s.DecryptedSecureJSONData["password"]
	cfg.DialTimeout = defaultDialTimeout
	out := Settings{Warehouse: cfg, Timeout: DefaultTimeout, RowLimit: DefaultRowLimit, StreamDelay: DefaultStreamDelay}
	if js.TimeoutSeconds != 0 {
		if js.TimeoutSeconds < minimumTimeoutSecs || js.TimeoutSeconds > maxTimeoutSecs {
			return Settings{}, fmt.Errorf("query timeout %ds: want 1 to %d seconds", js.TimeoutSeconds, maxTimeoutSecs)
		}
		out.Timeout = time.Duration(js.TimeoutSeconds) * time.Second
	}
	if js.RowLimit != 0 {
		if js.RowLimit < 1 || js.RowLimit > MaxRowLimit {
			return Settings{}, fmt.Errorf("row limit %d: want 1 to %d", js.RowLimit, MaxRowLimit)
		}
		out.RowLimit = js.RowLimit
	}
	if js.StreamDelaySeconds != nil {
		if *js.StreamDelaySeconds < 0 || *js.StreamDelaySeconds > maxStreamDelaySecs {
			return Settings{}, fmt.Errorf("stream delay %ds: want 0 to %d seconds", *js.StreamDelaySeconds, maxStreamDelaySecs)
		}
		out.StreamDelay = time.Duration(*js.StreamDelaySeconds) * time.Second
	}
	out.Warehouse.ReadTimeout = out.Timeout + 5*time.Second
	if js.TLS {
		tc, err := tlsConfig(js, s.DecryptedSecureJSONData[secureTLSCACert])
		if err != nil {
			return Settings{}, err
		}
		out.TLS = tc
	}
	if err := out.Warehouse.Validate(); err != nil {
		return Settings{}, fmt.Errorf("settings: %w", err)
	}
	return out, nil
}
