package warehouse

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spacepulse/spacepulse/schemas/endpoint"
)

// ErrNoDatabase is returned by Open when the configured database does not exist yet.
var ErrNoDatabase = errors.New("database does not exist: run spacepulse-migrate or check -clickhouse-database")

// Querier is what the query functions need of a connection; driver.Conn has it.
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) driver.Row
}

var _ Querier = (driver.Conn)(nil)

// Open connects to cfg's servers over the native protocol (TLS when cfg.TLS is on) with cfg's
// compression, bound to cfg.Database (unqualified table names in queries refer to it), logging
// through logger (nil: no logs), and pings it. Several addresses are tried in order, the next
// when one cannot be reached. An invalid cfg fails with Validate's message; a database that does
// not exist yet fails with ErrNoDatabase (Setup creates it); settings the server refuses (an
// untrusted certificate, a wrong password) fail with an endpoint.ErrRefused error that names the
// flag to change. The caller closes the connection.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (driver.Conn, error) {
	return OpenTLS(ctx, cfg, nil, logger)
}

// OpenTLS is Open with a TLS configuration built by the caller (the Grafana plugin, whose
// settings carry their own); nil uses cfg.TLS.
func OpenTLS(ctx context.Context, cfg Config, tlsConfig *tls.Config, logger *slog.Logger) (driver.Conn, error) {
	conn, err := open(ctx, cfg, cfg.Database, tlsConfig, logger)
	if err != nil {
		if exceptionCode(err) == codeUnknownDatabase {
			return nil, fmt.Errorf("open clickhouse %s: %q: %w", cfg.Addr, cfg.Database, ErrNoDatabase)
		}
		return nil, err
	}
	return conn, nil
}

// Setup brings cfg.Database to LatestVersion with Migrate, or MigrateCluster when cfg.Cluster is
// set (creating it if needed), and returns a
// connection bound to it, as Open does, plus the versions it applied. For spacepulse-migrate and
// a consumer started with -migrate.
func Setup(ctx context.Context, cfg Config, logger *slog.Logger) (conn driver.Conn, applied []int, err error) {
	// The system database always exists, so this connection works before cfg.Database does.
	admin, err := open(ctx, cfg, "system", nil, logger)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Cluster != "" {
		applied, err = MigrateCluster(ctx, admin, cfg.Database, cfg.Cluster)
	} else {
		applied, err = Migrate(ctx, admin, cfg.Database)
	}
	if cerr := admin.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close clickhouse %s: %w", cfg.Addr, cerr)
	}
	if err != nil {
		return nil, applied, err
	}
	conn, err = Open(ctx, cfg, logger)
	return conn, applied, err
}

// settings are the query settings of every connection of c: on a cluster, synchronous inserts
// into Distributed tables, and no preference for the server's own replica, so that with
// load_balancing in_order (in the user's profile) every client writes and reads a shard on the
// same replica (see Config.Cluster). Only numbers can be sent to 18.16 (a string setting such as
// load_balancing fails in clickhouse-go: it serializes settings as strings for newer servers only).
func (c *Config) settings() clickhouse.Settings {
	if c.Cluster == "" {
		return nil
	}
	return clickhouse.Settings{"insert_distributed_sync": 1, "prefer_localhost_replica": 0}
}

// ClickHouse's codes for credentials it refuses.
const (
	codeUnknownUser          = 192
	codeWrongPassword        = 193
	codeRequiredPassword     = 194
	codeAuthenticationFailed = 516
)

func open(ctx context.Context, cfg Config, database string, tlsConfig *tls.Config, logger *slog.Logger) (driver.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if tlsConfig == nil {
		tlsConfig, _ = cfg.TLS.Config("clickhouse") // Validate checked it
	}
	if logger != nil {
		logger = slog.New(quietHandler{logger.Handler()})
	}
	compression, _ := cfg.compression() // Validate checked it
	opts := &clickhouse.Options{
		Protocol:         clickhouse.Native,
		Addr:             cfg.Addrs(),
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
		Auth: clickhouse.Auth{
			Database: database,
			Username: cfg.User,
			Password: cfg.Password,
		},
		TLS:          tlsConfig,
		Compression:  compression,
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.ReadTimeout,
		MaxOpenConns: cfg.MaxOpenConns,
		Settings:     cfg.settings(),
		Logger:       logger,
		ClientInfo: clickhouse.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "spacepulse", Version: "1"}},
		},
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", cfg.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close() // the ping error is the one to report
		what := "clickhouse " + cfg.Addr
		if r := endpoint.Refused(what, "clickhouse", err); r != nil {
			return nil, r
		}
		switch exceptionCode(err) {
		case codeUnknownUser, codeWrongPassword, codeRequiredPassword, codeAuthenticationFailed:
			return nil, endpoint.NewRefused(what, "check -clickhouse-user and -clickhouse-password or -clickhouse-password-file (SPACEPULSE_CLICKHOUSE_PASSWORD_FILE)", err)
		}
		return nil, fmt.Errorf("connect to clickhouse %s database %s: %w", cfg.Addr, database, err)
	}
	return conn, nil
}

// quietMessages are what clickhouse-go logs at Warn that is noise here, passed on at Debug by
// quietHandler: the warning on every new connection to a server older than it supports (18.16
// is the server this project runs on purpose: Debian's package; see sql/README.md), and each
// server exception, which the call that received it also returns (an error is returned or
// logged, not both).
var quietMessages = map[string]bool{
	"unsupported clickhouse version": true,
	"server exception received":      true,
}

type quietHandler struct{ slog.Handler }

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if quietMessages[r.Message] && r.Level > slog.LevelDebug {
		if !h.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return h.Handler.Handle(ctx, r)
}

func (h quietHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(attrs)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}
