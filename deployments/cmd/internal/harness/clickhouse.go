package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// ErrUnreachable is wrapped by Connect when ClickHouse does not answer.
var ErrUnreachable = errors.New("ClickHouse does not answer")

// ErrNotScratch is returned by Recreate and Drop for a database that holds
// tables spacepulse does not create: it is never dropped.
var ErrNotScratch = errors.New("database holds tables spacepulse does not create: refusing to drop it, choose another -clickhouse-database")

// Server is a connection to ClickHouse's system database, for creating and
// dropping scratch databases.
type Server struct {
	cfg     warehouse.Config
	conn    driver.Conn
	Version string
}

// Connect opens cfg's server (on the system database) and reads its
// version. When the server does not answer the error wraps ErrUnreachable.
func Connect(ctx context.Context, cfg warehouse.Config, logger *slog.Logger) (*Server, error) {
	sys := cfg
	sys.Database = "system"
	conn, err := warehouse.Open(ctx, sys, logger)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: start it with deployments/local/clickhouse.sh start (make demo and make bench do)\n  cause: %v",
			ErrUnreachable, cfg.Addr, err)
	}
	s := &Server{cfg: cfg, conn: conn}
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&s.Version); err != nil {
		conn.Close()
		return nil, fmt.Errorf("read clickhouse version at %s: %w", cfg.Addr, err)
	}
	return s, nil
}

// Close closes the connection.
func (s *Server) Close() error { return s.conn.Close() }

// Conn is the connection to the system database.
func (s *Server) Conn() driver.Conn { return s.conn }

// ours are the tables (and views) the sql/ migrations create.
var ours = []string{"events", "space_second_counts", "space_second_counts_mv", "space_minute_counts", "space_minute_counts_mv",
	"join_latency_minute_counts", "join_latency_minute_counts_mv",
	"ingest_progress", "ingest_heartbeat", "schema_migrations"}

// Drop drops database if it exists, on every server of the cluster when the Config has one. It refuses (ErrNotScratch) a system
// database or one holding a table that the sql/ migrations do not create.
func (s *Server) Drop(ctx context.Context, database string) error {
	if err := warehouse.ValidateDatabase(database); err != nil {
		return err
	}
	switch strings.ToLower(database) {
	case "system", "default", "information_schema":
		return fmt.Errorf("%s: %w", database, ErrNotScratch)
	}
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.tables WHERE database = @db", clickhouse.Named("db", database))
	if err != nil {
		return fmt.Errorf("list tables of %s: %w", database, err)
	}
	defer rows.Close()
	var foreign []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return fmt.Errorf("list tables of %s: %w", database, err)
		}
		if !slices.Contains(ours, strings.TrimSuffix(name, "_local")) { // T_local: a cluster's local table
			foreign = append(foreign, name)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tables of %s: %w", database, err)
	}
	if len(foreign) > 0 {
		return fmt.Errorf("%s has %s: %w", database, strings.Join(foreign, ", "), ErrNotScratch)
	}
	drop := "DROP DATABASE IF EXISTS " + database
	if s.cfg.Cluster != "" {
		drop += " ON CLUSTER " + s.cfg.Cluster // every server's tables, and their replicas in ZooKeeper
	}
	if err := s.conn.Exec(ctx, drop); err != nil {
		return fmt.Errorf("drop database %s: %w", database, err)
	}
	return nil
}

// Recreate drops database (see Drop) and creates it again with the current
// schema (warehouse.Setup). It returns a connection bound to it.
func (s *Server) Recreate(ctx context.Context, database string, logger *slog.Logger) (driver.Conn, error) {
	if err := s.Drop(ctx, database); err != nil {
		return nil, err
	}
	cfg := s.cfg
	cfg.Database = database
	conn, _, err := warehouse.Setup(ctx, cfg, logger)
	if err != nil {
		return nil, fmt.Errorf("create database %s: %w", database, err)
	}
	return conn, nil
}
