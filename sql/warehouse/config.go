// Package warehouse connects to ClickHouse, applies the schema of package sql and runs its
// queries: the one place where pipeline figures are computed, for the consumer (Migrate), the
// report and the Grafana plugin.
//
// Everything here works against ClickHouse 18.16 (native protocol, client-side parameter
// binding) and current ClickHouse.
package warehouse

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/spacepulse/spacepulse/schemas/endpoint"
)

// Defaults of Config (NewConfig).
const (
	DefaultAddr        = "127.0.0.1:9000"
	DefaultDatabase    = "spacepulse"
	DefaultUser        = "default"
	DefaultDialTimeout = 5 * time.Second
	DefaultReadTimeout = 5 * time.Minute
)

// Environment variables of the ClickHouse settings, as package schemas/cli names them for the
// flags of sql/warehouse/whflag; the test helpers (warehousetest) read them too.
const (
	EnvAddr     = "SPACEPULSE_CLICKHOUSE_ADDR"
	EnvDatabase = "SPACEPULSE_CLICKHOUSE_DATABASE"
	EnvUser     = "SPACEPULSE_CLICKHOUSE_USER"
	EnvPassword = "SPACEPULSE_CLICKHOUSE_PASSWORD"
	// EnvCompression names the native protocol's block compression: auto (default), lz4, zstd, none.
	EnvCompression = "SPACEPULSE_CLICKHOUSE_COMPRESSION"
)

// Config says which ClickHouse server and database to use. The zero value is not usable: start
// from NewConfig (binaries: whflag.Bind), then call Validate.
type Config struct {
	// Addr is the server's native-protocol address, host:port (default 127.0.0.1:9000), or
	// several, comma-separated: replicas of one shard tried in order, the next when one cannot
	// be reached (failover, not load balancing).
	Addr string
	// Database holds the tables (default "spacepulse"); Migrate creates it.
	Database string
	// User and Password authenticate (default user "default", empty password).
	User     string
	Password string
	// TLS, when on, connects over TLS (the server's secure native port, 9440 by convention).
	TLS endpoint.TLS
	// DialTimeout bounds connecting and the handshake (default 5s).
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for a query's next block from the server (default 5m).
	ReadTimeout time.Duration
	// MaxOpenConns caps the pool (default 0: clickhouse-go's default, MaxIdleConns + 5).
	MaxOpenConns int
	// Cluster, when set, names the ClickHouse cluster (remote_servers) the database spans:
	// Setup creates the cluster schema (MigrateCluster) instead of the single-node one, and
	// every connection inserts synchronously (insert_distributed_sync=1: an INSERT into a
	// Distributed table returns once every shard has its rows, so a committed Kafka offset means
	// the rows are on their shard) and prefer_localhost_replica=0: with load_balancing in_order
	// in the user's profile (18.16 takes no string setting from clickhouse-go), every client then
	// writes and reads each shard on its first live replica, so that the consumer's lookups and
	// reconciling read what was written, not a replica still fetching it. Empty (default): a
	// single server.
	Cluster string
	// Compression of the blocks sent and received: "auto" (default, also ""): none when every
	// address is a loopback address (127.0.0.0/8, ::1, localhost), lz4 otherwise; "lz4" (a
	// quarter of the bytes on the wire for the events table, for 0.24–0.41 µs an event of
	// consumer CPU in `make bench`, 2026-12-07), "zstd" (smaller, dearer) or "none" (a server on
	// the same machine or LAN, where the CPU costs more than the bytes).
	Compression string
}

// NewConfig returns a Config with the defaults.
func NewConfig() Config {
	return Config{
		Addr:        DefaultAddr,
		Database:    DefaultDatabase,
		User:        DefaultUser,
		DialTimeout: DefaultDialTimeout,
		ReadTimeout: DefaultReadTimeout,
		Compression: "auto",
	}
}

// Addrs is Addr split at commas, blanks dropped.
func (c *Config) Addrs() []string {
	var out []string
	for _, a := range strings.Split(c.Addr, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// identRe is what Validate accepts as a database name: it is spliced into DDL, so no quoting
// is ever needed.
var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Validate reports the first setting that cannot work, as a one-line message that says what to
// change (flag and environment variable).
func (c *Config) Validate() error {
	addrs := c.Addrs()
	if len(addrs) == 0 {
		return fmt.Errorf("-clickhouse-addr is empty: want host:port, such as 127.0.0.1:9000, or several comma-separated (%s)", EnvAddr)
	}
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return fmt.Errorf("-clickhouse-addr %q: want host:port, or several comma-separated (%s)", a, EnvAddr)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("-clickhouse-addr %q: want a port 1-65535 (%s)", a, EnvAddr)
		}
	}
	if _, err := c.TLS.Config("clickhouse"); err != nil {
		return err
	}
	if err := ValidateDatabase(c.Database); err != nil {
		return fmt.Errorf("-clickhouse-database %q: want letters, digits and _, not starting with a digit, at most 64 (%s)", c.Database, EnvDatabase)
	}
	if c.User == "" {
		return fmt.Errorf("-clickhouse-user: want a user name, e.g. default (%s)", EnvUser)
	}
	if _, err := c.compression(); err != nil {
		return err
	}
	if c.Cluster != "" && !identRe.MatchString(c.Cluster) {
		return fmt.Errorf("-cluster %q: want the name of a cluster of the servers' remote_servers: letters, digits and _ (SPACEPULSE_CLUSTER)", c.Cluster)
	}
	if c.DialTimeout <= 0 {
		return fmt.Errorf("-clickhouse-dial-timeout %s: want > 0", c.DialTimeout)
	}
	if c.ReadTimeout <= 0 {
		return fmt.Errorf("-clickhouse-read-timeout %s: want > 0", c.ReadTimeout)
	}
	if c.MaxOpenConns < 0 {
		return fmt.Errorf("max open connections %d: want >= 0", c.MaxOpenConns)
	}
	return nil
}

// ErrBadDatabaseName is returned for a database name that is not a plain identifier.
var ErrBadDatabaseName = errors.New("database name must be letters, digits and _, not starting with a digit, at most 64")

// ValidateDatabase checks that name is a plain identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64).
func ValidateDatabase(name string) error {
	if !identRe.MatchString(name) {
		return fmt.Errorf("%q: %w", name, ErrBadDatabaseName)
	}
	return nil
}

// WireCompression is the block compression Compression resolves to for Addr: "lz4", "zstd"
// or "none" ("auto" and "" resolve to none for a loopback address, lz4 otherwise).
func (c *Config) WireCompression() string {
	switch c.Compression {
	case "", "auto":
		for _, a := range c.Addrs() {
			host, _, err := net.SplitHostPort(a)
			if err != nil {
				return "lz4"
			}
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return "lz4"
			}
		}
		return "none"
	}
	return c.Compression
}

// compression maps Compression to clickhouse-go's setting.
func (c *Config) compression() (*clickhouse.Compression, error) {
	switch c.WireCompression() {
	case "lz4":
		return &clickhouse.Compression{Method: clickhouse.CompressionLZ4}, nil
	case "zstd":
		return &clickhouse.Compression{Method: clickhouse.CompressionZSTD}, nil
	case "none":
		return nil, nil
	}
	return nil, fmt.Errorf("-clickhouse-compression %q: want auto, lz4, zstd or none (%s)", c.Compression, EnvCompression)
}
