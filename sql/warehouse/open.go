package warehouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ErrNoDatabase is returned by Open when the configured database does not exist yet.
var ErrNoDatabase = errors.New("database does not exist: run spacepulse-migrate or check -clickhouse-database")

// Querier is what the query functions need of a connection; driver.Conn has it.
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) driver.Row
}

var _ Querier = (driver.Conn)(nil)

// Open connects to cfg's server over the native protocol with cfg's compression, bound to
// cfg.Database (unqualified table names in queries refer to it), logging through logger (nil: no
// logs), and pings it. An invalid cfg fails with Validate's message; a database that does not
// exist yet fails with ErrNoDatabase (Setup creates it). The caller closes the connection.
func Open(ctx context.Context, cfg Config, logger *slog.Logger) (driver.Conn, error) {
	conn, err := open(ctx, cfg, cfg.Database, logger)
	if err != nil {
		if exceptionCode(err) == codeUnknownDatabase {
			return nil, fmt.Errorf("open clickhouse %s: %q: %w", cfg.Addr, cfg.Database, ErrNoDatabase)
		}
		return nil, err
	}
	return conn, nil
}

// Setup brings cfg.Database to LatestVersion with Migrate (creating it if needed) and returns a
// connection bound to it, as Open does, plus the versions it applied. For the consumer's start
// and spacepulse-migrate.
func Setup(ctx context.Context, cfg Config, logger *slog.Logger) (conn driver.Conn, applied []int, err error) {
	// The system database always exists, so this connection works before cfg.Database does.
	admin, err := open(ctx, cfg, "system", logger)
	if err != nil {
		return nil, nil, err
	}
	applied, err = Migrate(ctx, admin, cfg.Database)
	if cerr := admin.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close clickhouse %s: %w", cfg.Addr, cerr)
	}
	if err != nil {
		return nil, applied, err
	}
	conn, err = Open(ctx, cfg, logger)
	return conn, applied, err
}

func open(ctx context.Context, cfg Config, database string, logger *slog.Logger) (driver.Conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger != nil {
		logger = slog.New(quietHandler{logger.Handler()})
	}
	compression, _ := cfg.compression() // Validate checked it
	opts := &clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     []string{cfg.Addr},
		Auth: clickhouse.Auth{
			Database: database,
			Username: cfg.User,
			Password: cfg.Password,
		},
		Compression:  compression,
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.ReadTimeout,
		MaxOpenConns: cfg.MaxOpenConns,
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
		return nil, fmt.Errorf("connect to clickhouse %s database %s: %w", cfg.Addr, database, err)
	}
	return conn, nil
}

// versionWarning is what clickhouse-go logs at Warn on every new connection to a server older
// than it supports. 18.16 is the server this project runs on purpose (Debian's package; see sql/README.md), so the
// message is noise there: quietHandler passes it on at Debug.
const versionWarning = "unsupported clickhouse version"

type quietHandler struct{ slog.Handler }

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == versionWarning && r.Level > slog.LevelDebug {
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
