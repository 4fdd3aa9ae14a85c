// Package warehouse connects to ClickHouse, applies the schema of package sql and runs its
// queries: the one place where pipeline figures are computed, for the consumer (Migrate), the
// report and the Grafana plugin.
//
// Everything here works against ClickHouse 18.16 (native protocol, client-side parameter
// binding) and current ClickHouse.
package warehouse

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Defaults used by BindFlags when neither a flag nor its environment variable is set.
const (
	DefaultAddr        = "127.0.0.1:9000"
	DefaultDatabase    = "spacepulse"
	DefaultUser        = "default"
	DefaultDialTimeout = 5 * time.Second
	DefaultReadTimeout = 5 * time.Minute
)

// Environment variables read by BindFlags for the flags' defaults.
const (
	EnvAddr     = "SPACEPULSE_CLICKHOUSE_ADDR"
	EnvDatabase = "SPACEPULSE_CLICKHOUSE_DATABASE"
	EnvUser     = "SPACEPULSE_CLICKHOUSE_USER"
	EnvPassword = "SPACEPULSE_CLICKHOUSE_PASSWORD"
	// EnvCompression names the native protocol's block compression: lz4 (default), zstd, none.
	EnvCompression = "SPACEPULSE_CLICKHOUSE_COMPRESSION"
)

// Config says which ClickHouse server and database to use. The zero value is not usable: start
// from NewConfig or BindFlags, then call Validate.
type Config struct {
	// Addr is the server's native-protocol address, host:port (default 127.0.0.1:9000).
	Addr string
	// Database holds the tables (default "spacepulse"); Migrate creates it.
	Database string
	// User and Password authenticate (default user "default", empty password).
	User     string
	Password string
	// DialTimeout bounds connecting and the handshake (default 5s).
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for a query's next block from the server (default 5m).
	ReadTimeout time.Duration
	// MaxOpenConns caps the pool (default 0: clickhouse-go's default, MaxIdleConns + 5).
	MaxOpenConns int
	// Compression of the blocks sent and received: "auto" (default, also ""): none when Addr
	// is a loopback address (127.0.0.0/8, ::1, localhost), lz4 otherwise; "lz4" (a quarter of
	// the bytes on the wire for the events table, for 0.24–0.41 µs an event of consumer CPU in
	// `make bench`, 2026-12-07), "zstd" (smaller, dearer) or "none" (a server on the same
	// machine or LAN, where the CPU costs more than the bytes).
	Compression string
}

// NewConfig returns a Config with the defaults, ignoring the environment.
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

// BindFlags sets c to the defaults, overridden by the SPACEPULSE_CLICKHOUSE_* environment
// variables, and registers -clickhouse-addr, -clickhouse-database, -clickhouse-user,
// -clickhouse-password, -clickhouse-dial-timeout and -clickhouse-read-timeout on fs (never on the
// global FlagSet) to override those once fs is parsed.
func (c *Config) BindFlags(fs *flag.FlagSet) {
	*c = NewConfig()
	fs.StringVar(&c.Addr, "clickhouse-addr", envOr(EnvAddr, c.Addr),
		"ClickHouse native-protocol address host:port (env "+EnvAddr+")")
	fs.StringVar(&c.Database, "clickhouse-database", envOr(EnvDatabase, c.Database),
		"ClickHouse database (env "+EnvDatabase+")")
	fs.StringVar(&c.User, "clickhouse-user", envOr(EnvUser, c.User),
		"ClickHouse user (env "+EnvUser+")")
	fs.StringVar(&c.Password, "clickhouse-password", envOr(EnvPassword, c.Password),
		"ClickHouse password (env "+EnvPassword+")")
	fs.StringVar(&c.Compression, "clickhouse-compression", envOr(EnvCompression, c.Compression),
		"block compression on the wire: auto (none for a loopback address, else lz4), lz4, zstd or none (env "+EnvCompression+")")
	fs.DurationVar(&c.DialTimeout, "clickhouse-dial-timeout", c.DialTimeout,
		"how long to wait for a ClickHouse connection")
	fs.DurationVar(&c.ReadTimeout, "clickhouse-read-timeout", c.ReadTimeout,
		"how long to wait for a ClickHouse reply")
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// identRe is what Validate accepts as a database name: it is spliced into DDL, so no quoting
// is ever needed.
var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Validate reports the first setting that cannot work, as a one-line message that says what to
// change (flag and environment variable).
func (c *Config) Validate() error {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil || host == "" {
		return fmt.Errorf("-clickhouse-addr %q: want host:port (%s)", c.Addr, EnvAddr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("-clickhouse-addr %q: want a port 1-65535 (%s)", c.Addr, EnvAddr)
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
		host, _, err := net.SplitHostPort(c.Addr)
		if err != nil {
			return "lz4"
		}
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return "none"
		}
		return "lz4"
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
