// Package sql holds the warehouse's SQL: the versioned ClickHouse migrations and the analyst
// queries that the report, the Grafana plugin and people at a clickhouse-client share, so that a
// figure has one definition. Package warehouse runs them.
//
// Every file runs unchanged on ClickHouse 18.16 (the server Debian ships) and on current
// ClickHouse. Query files take parameters as @name placeholders, bound client-side by
// clickhouse-go as SQL literals; migration files name their database {db}.
package sql

import "embed"

// Migrations holds migrations/NNNN_name.sql: statements separated by lines holding only ";",
// applied in version order by warehouse.Migrate.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Queries holds queries/*.sql: one SELECT each, with a header comment that says what it computes
// and which @parameters it takes.
//
//go:embed queries/*.sql
var Queries embed.FS
