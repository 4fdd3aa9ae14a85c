// Package whflag binds a warehouse.Config to the -clickhouse-* flags and their
// SPACEPULSE_CLICKHOUSE_* variables, the same in every binary that reads ClickHouse: the
// consumer, spacepulse-migrate, spacepulse-report, the demo and the bench. It is package
// schemas/cli's binder for ClickHouse, apart because the producer side never imports ClickHouse.
package whflag

import (
	"github.com/spacepulse/spacepulse/schemas/cli"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// Bind sets c to warehouse.NewConfig() and registers -clickhouse-addr, -clickhouse-database,
// -clickhouse-user, -clickhouse-password (and -clickhouse-password-file), -clickhouse-compression,
// -clickhouse-dial-timeout, -clickhouse-read-timeout and the -clickhouse-tls-* flags on fs; Parse
// then validates c.
func Bind(fs *cli.FlagSet, c *warehouse.Config) {
	BindServer(fs, c)
	fs.StringVar(&c.Database, "clickhouse-database", c.Database, "ClickHouse database")
}

// BindServer is Bind without -clickhouse-database, for a binary that chooses its own databases
// (spacepulse-bench).
func BindServer(fs *cli.FlagSet, c *warehouse.Config) {
	*c = warehouse.NewConfig()
	fs.StringVar(&c.Addr, "clickhouse-addr", c.Addr,
		"ClickHouse native-protocol address host:port, or several comma-separated, tried in order (failover)")
	fs.StringVar(&c.User, "clickhouse-user", c.User, "ClickHouse user")
	fs.Secret(&c.Password, "clickhouse-password", "ClickHouse password")
	fs.StringVar(&c.Compression, "clickhouse-compression", c.Compression,
		"block compression on the wire: auto (none for loopback addresses, else lz4), lz4, zstd or none")
	fs.DurationVar(&c.DialTimeout, "clickhouse-dial-timeout", c.DialTimeout, "how long to wait for a ClickHouse connection")
	fs.DurationVar(&c.ReadTimeout, "clickhouse-read-timeout", c.ReadTimeout, "how long to wait for a ClickHouse reply")
	fs.TLS(&c.TLS, "clickhouse", "ClickHouse")
	fs.Check(c.Validate)
}

// BindCluster registers -cluster (SPACEPULSE_CLUSTER) on fs, for the binaries that write:
// spacepulse-migrate (the cluster schema) and the consumer (synchronous inserts). See
// warehouse.Config.Cluster.
func BindCluster(fs *cli.FlagSet, c *warehouse.Config) {
	fs.StringVar(&c.Cluster, "cluster", c.Cluster,
		"ClickHouse cluster (remote_servers) the database spans: replicated tables with Distributed ones in front, synchronous inserts (empty: one server)")
}
