package warehouse

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/spacepulse/spacepulse/schemas"
	spsql "github.com/spacepulse/spacepulse/sql"
)

// LatestVersion is the highest migration version in package sql: a database whose SchemaVersion
// is lower needs Migrate.
const LatestVersion = 7

// dbPlaceholder stands for the target database in migration files.
const dbPlaceholder = "{db}"

// businessPlaceholder stands for the business codes as SQL literals (BusinessCodesSQL), in
// migration files and the reconcile statements: the list is schemas.BusinessCodes, written once.
const businessPlaceholder = "{business_codes}"

// BusinessCodesSQL is schemas.BusinessCodes as a list of SQL string literals, for IN (...).
func BusinessCodesSQL() string {
	var b strings.Builder
	for i, c := range schemas.BusinessCodes() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + c + "'") // snake_case codes: nothing to escape (schemas validates them)
	}
	return b.String()
}

// cutoverPlaceholder stands for the moment a migration's new materialized views take over from
// its backfill (see Migrate).
const cutoverPlaceholder = "{cutover}"

// cutoverLead is how far ahead of the server's clock a cutover is set (the views must exist
// before it), cutoverMargin how long after it the backfill waits for blocks whose inserted_at was
// taken before the cutover to be written.
const (
	cutoverLead   = 2 * time.Second
	cutoverMargin = 5 * time.Second
)

// ClickHouse error codes this package reacts to.
const (
	codeUnknownTable    = 60
	codeUnknownDatabase = 81
)

// Migration is one file of package sql's migrations/: NNNN_name.sql.
type Migration struct {
	Version    int
	Name       string
	Statements []string // with {db} still in place ({business_codes} filled in)
}

// Execer is what Migrate needs of a connection: statements and queries. driver.Conn has it.
type Execer interface {
	Exec(ctx context.Context, query string, args ...any) error
	Querier
}

var _ Execer = (driver.Conn)(nil)

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	return loadMigrations(spsql.Migrations)
}

func loadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var out []Migration
	for _, name := range names {
		base := strings.TrimSuffix(path.Base(name), ".sql")
		num, label, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 || label == "" {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql with NNNN > 0", name)
		}
		text, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		stmts := SplitStatements(strings.ReplaceAll(string(text), businessPlaceholder, BusinessCodesSQL()))
		if len(stmts) == 0 {
			return nil, fmt.Errorf("migration %s: no statement", name)
		}
		out = append(out, Migration{Version: version, Name: label, Statements: stmts})
	}
	slices.SortFunc(out, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration versions: want 1..%d without gaps or repeats, found %d at position %d", len(out), m.Version, i+1)
		}
	}
	return out, nil
}

// SplitStatements splits a migration file into statements at lines holding only ";". A
// statement left with nothing but comments and blank lines is dropped.
func SplitStatements(text string) []string {
	var (
		out []string
		cur []string
	)
	flush := func() {
		stmt := strings.TrimSpace(strings.Join(cur, "\n"))
		cur = cur[:0]
		if hasCode(stmt) {
			out = append(out, stmt)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == ";" {
			flush()
			continue
		}
		cur = append(cur, line)
	}
	flush()
	return out
}

// hasCode reports whether stmt has anything besides "--" comments and blanks.
func hasCode(stmt string) bool {
	for _, line := range strings.Split(stmt, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "--") {
			return true
		}
	}
	return false
}

// Migrate creates database if it is missing, then a schema_migrations table in it (version,
// name, applied_at), then applies, in version order, every embedded migration not recorded there
// yet, recording each after all its statements succeeded. It returns the versions it applied:
// none when the schema is already current, so running it twice is a no-op. Every statement is
// idempotent (CREATE … IF NOT EXISTS, DROP … IF EXISTS) or harmless to repeat (a rollup
// rebuilt from events), so a migration cut short (or two Migrate calls racing) is simply applied
// again.
//
// A migration whose statements use {cutover} creates materialized views that count only rows
// with inserted_at >= {cutover} and backfills the rows before it. Migrate sets it a little ahead
// of the server's clock and, before that migration's first INSERT, waits until the server's clock
// is cutoverMargin past it, so that a row inserted while the migration runs is counted once.
// When the events table was created by this same call (a fresh database) the cutover is the epoch
// and nothing waits.
//
// Run it from one process (spacepulse-migrate) while no other Migrate runs: the statements are
// idempotent, but a backfill run twice by two racing processes counts its rows twice.
//
// conn may be bound to any existing database: Migrate names database in every statement.
func Migrate(ctx context.Context, conn Execer, database string) (applied []int, err error) {
	if err := ValidateDatabase(database); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	migrations, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+database); err != nil {
		return nil, fmt.Errorf("create database %s: %w", database, err)
	}
	err = conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+database+".schema_migrations ("+
		"version UInt32, name String, applied_at DateTime('UTC') DEFAULT now()"+
		") ENGINE = ReplacingMergeTree() ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("create %s.schema_migrations: %w", database, err)
	}
	done, err := appliedVersions(ctx, conn, database+".schema_migrations")
	if err != nil {
		return nil, err
	}
	fresh := !done[1]
	for _, m := range migrations {
		if done[m.Version] {
			continue
		}
		cutover, err := cutoverOf(ctx, conn, m, fresh)
		if err != nil {
			return applied, fmt.Errorf("apply migration %04d_%s to %s: %w", m.Version, m.Name, database, err)
		}
		waited := fresh
		for i, stmt := range m.Statements {
			if strings.Contains(stmt, cutoverPlaceholder) && isInsert(stmt) && !waited {
				if err := waitForServerClock(ctx, conn, cutover.Add(cutoverMargin)); err != nil {
					return applied, fmt.Errorf("apply migration %04d_%s to %s: %w", m.Version, m.Name, database, err)
				}
				waited = true
			}
			stmt = strings.ReplaceAll(stmt, cutoverPlaceholder, fmt.Sprintf("toDateTime(%d, 'UTC')", cutover.Unix()))
			if err := conn.Exec(ctx, strings.ReplaceAll(stmt, dbPlaceholder, database)); err != nil {
				return applied, fmt.Errorf("apply migration %04d_%s statement %d to %s: %w", m.Version, m.Name, i+1, database, err)
			}
		}
		err = conn.Exec(ctx, "INSERT INTO "+database+".schema_migrations (version, name) SELECT toUInt32(@version), @name",
			clickhouse.Named("version", m.Version), clickhouse.Named("name", m.Name))
		if err != nil {
			return applied, fmt.Errorf("record migration %04d_%s in %s: %w", m.Version, m.Name, database, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// cutoverOf returns the cutover of m: the epoch for a fresh database or a migration without
// {cutover}, else the server's clock plus cutoverLead.
func cutoverOf(ctx context.Context, conn Querier, m Migration, fresh bool) (time.Time, error) {
	uses := false
	for _, stmt := range m.Statements {
		uses = uses || strings.Contains(stmt, cutoverPlaceholder)
	}
	if fresh || !uses {
		return time.Unix(0, 0).UTC(), nil
	}
	now, err := serverClock(ctx, conn)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(cutoverLead), nil
}

func serverClock(ctx context.Context, conn Querier) (time.Time, error) {
	var now uint32
	if err := conn.QueryRow(ctx, "SELECT toUInt32(now())").Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("read the server's clock: %w", err)
	}
	return time.Unix(int64(now), 0).UTC(), nil
}

// waitForServerClock returns once the server's clock reads at least t.
func waitForServerClock(ctx context.Context, conn Querier, t time.Time) error {
	for {
		now, err := serverClock(ctx, conn)
		if err != nil {
			return err
		}
		if !now.Before(t) {
			return nil
		}
		select {
		case <-time.After(min(t.Sub(now), 500*time.Millisecond)):
		case <-ctx.Done():
			return fmt.Errorf("wait for the cutover at %s: %w", t.Format(time.RFC3339), ctx.Err())
		}
	}
}

// isInsert reports whether stmt, comments aside, is an INSERT.
func isInsert(stmt string) bool {
	for _, line := range strings.Split(stmt, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		return strings.HasPrefix(strings.ToUpper(line), "INSERT")
	}
	return false
}

func appliedVersions(ctx context.Context, conn Querier, table string) (map[int]bool, error) {
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM "+table)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	done := make(map[int]bool)
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		done[int(v)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	return done, nil
}

// SchemaVersion returns the highest migration version applied to conn's database: 0 when it has
// no schema_migrations table yet, LatestVersion when it is current. For health checks.
func SchemaVersion(ctx context.Context, conn Querier) (int, error) {
	var v uint32
	err := conn.QueryRow(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v)
	if err != nil {
		if exceptionCode(err) == codeUnknownTable {
			return 0, nil
		}
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v), nil
}

// exceptionCode returns the ClickHouse error code in err, or 0.
func exceptionCode(err error) int32 {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return ex.Code
	}
	return 0
}
