package warehouse

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// OpenTLS is Open over TLS (tlsConfig non-nil) or plain TCP (nil), for callers whose settings
// carry a TLS option (the Grafana plugin). Same options, same errors as Open.
func OpenTLS(ctx context.Context, cfg Config, tlsConfig *tls.Config, logger *slog.Logger) (driver.Conn, error) {
	if tlsConfig == nil {
		return Open(ctx, cfg, logger)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger != nil {
		logger = slog.New(quietHandler{logger.Handler()})
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:     clickhouse.Native,
		Addr:         []string{cfg.Addr},
		Auth:         clickhouse.Auth{Database: cfg.Database, Username: cfg.User, Password: cfg.Password},
		TLS:          tlsConfig,
		Compression:  &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.ReadTimeout,
		MaxOpenConns: cfg.MaxOpenConns,
		Logger:       logger,
		ClientInfo: clickhouse.ClientInfo{
			Products: []struct{ Name, Version string }{{Name: "spacepulse", Version: "1"}},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", cfg.Addr, err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close() // the ping error is the one to report
		if exceptionCode(err) == codeUnknownDatabase {
			return nil, fmt.Errorf("open clickhouse %s: %q: %w", cfg.Addr, cfg.Database, ErrNoDatabase)
		}
		return nil, fmt.Errorf("connect to clickhouse %s database %s over TLS: %w", cfg.Addr, cfg.Database, err)
	}
	return conn, nil
}

// ExceptionCode returns the ClickHouse server error code in err (e.g. 516 or 193 for a wrong
// password, 62 for a syntax error), or 0 when err is not a server exception.
func ExceptionCode(err error) int32 { return exceptionCode(err) }
