package plugin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// Each handler Grafana calls, checked at compile time.
var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.StreamHandler         = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// Datasource is one configured SpacePulse datasource. Grafana makes one per datasource settings
// version (NewDatasource) and disposes of it when the settings change.
type Datasource struct {
	settings Settings
	logger   log.Logger

	mu   sync.Mutex
	conn driver.Conn // nil until the first successful connect
	// readonly is the Readonly level of the user, read by connection before it sets conn.
	readonly atomic.Uint32

	curves *curveCache
	users  *userCache
}

// curveCachePoints bounds the cached concurrency points per datasource (16 bytes each: a few
// tens of MB at most).
const curveCachePoints = 2_000_000

// NewDatasource is the instance factory datasource.Manage calls. Settings are validated here;
// the connection is made on first use, so a ClickHouse that is down at start-up only fails the
// requests made while it is down.
func NewDatasource(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	settings, err := ParseSettings(s)
	if err != nil {
		return nil, err
	}
	return &Datasource{settings: settings, logger: log.DefaultLogger.With("datasource", s.UID), curves: newCurveCache(curveCachePoints),
		users: newUserCache(userCacheWeight)}, nil
}

// Dispose closes the connection pool.
func (d *Datasource) Dispose() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		if err := d.conn.Close(); err != nil {
			d.logger.Warn("close clickhouse", "error", err.Error())
		}
		d.conn = nil
	}
}

// connection returns the pool, connecting (and pinging) first if needed.
func (d *Datasource) connection(ctx context.Context) (driver.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		return d.conn, nil
	}
	conn, err := warehouse.OpenTLS(ctx, d.settings.Warehouse, d.settings.TLS, nil)
	if err != nil {
		return nil, explainConnectError(err, d.settings.TLS != nil)
	}
	ro, err := readonlyOf(ctx, conn)
	if err != nil {
		_ = conn.Close() // the error that matters is ro's
		return nil, err
	}
	d.readonly.Store(uint32(ro))
	d.conn = conn
	return conn, nil
}

// ClickHouse error codes the plugin explains.
const (
	codeUnknownUser          = 192
	codeWrongPassword        = 193
	codeRequiredPassword     = 194
	codeAuthenticationFailed = 516
	codeIPNotAllowed         = 195
)

// explainConnectError turns a connect failure into a message that says what to change; tlsOn
// is whether the datasource connects over TLS.
func explainConnectError(err error, tlsOn bool) error {
	switch warehouse.ExceptionCode(err) {
	case codeUnknownUser, codeWrongPassword, codeRequiredPassword, codeAuthenticationFailed:
		return backend.DownstreamError(fmt.Errorf("authentication failed: check the user and password in the datasource settings: %w", err))
	case codeIPNotAllowed:
		return backend.DownstreamError(fmt.Errorf("the ClickHouse user may not connect from this host: %w", err))
	}
	if errors.Is(err, warehouse.ErrNoDatabase) {
		return backend.DownstreamError(fmt.Errorf("%w (set the database in the datasource settings)", err))
	}
	if hint := tlsHint(err, tlsOn); hint != "" {
		return backend.DownstreamError(fmt.Errorf("cannot reach ClickHouse: %s: %w", hint, err))
	}
	return backend.DownstreamError(fmt.Errorf("cannot reach ClickHouse: check the address and TLS settings: %w", err))
}

// Tables the plugin reads; CheckHealth makes sure they exist.
var requiredTables = []string{"events", "space_second_counts", "space_minute_counts", "join_latency_minute_counts",
	"ingest_progress", "ingest_heartbeat"}

// CheckHealth connects, checks the schema version against warehouse.LatestVersion and that the
// tables exist, and says what is wrong when something is.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	fail := func(err error) (*backend.CheckHealthResult, error) {
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: err.Error()}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d.settings.Timeout)
	defer cancel()
	conn, err := d.connection(ctx)
	if err != nil {
		return fail(err)
	}
	if err := conn.Ping(ctx); err != nil {
		return fail(fmt.Errorf("ping ClickHouse %s: %w", d.settings.Warehouse.Addr, err))
	}
	version, err := warehouse.SchemaVersion(ctx, conn)
	if err != nil {
		return fail(err)
	}
	db := d.settings.Warehouse.Database
	switch {
	case version == 0:
		return fail(fmt.Errorf("database %s has no SpacePulse schema: run spacepulse-migrate against it", db))
	case version < warehouse.LatestVersion:
		return fail(fmt.Errorf("database %s is at schema version %d, the plugin needs %d: run spacepulse-migrate", db, version, warehouse.LatestVersion))
	case version > warehouse.LatestVersion:
		return fail(fmt.Errorf("database %s is at schema version %d, newer than this plugin knows (%d): upgrade the plugin", db, version, warehouse.LatestVersion))
	}
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase()")
	if err != nil {
		return fail(fmt.Errorf("list tables of %s: %w", db, err))
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fail(fmt.Errorf("list tables of %s: %w", db, err))
		}
		have[name] = true
	}
	rows.Close()
	var missing []string
	for _, t := range requiredTables {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return fail(fmt.Errorf("database %s lacks table(s) %s: run spacepulse-migrate", db, strings.Join(missing, ", ")))
	}
	var serverVersion string
	if v, err := conn.ServerVersion(); err == nil {
		serverVersion = fmt.Sprintf(" %d.%d.%d", v.Version.Major, v.Version.Minor, v.Version.Patch)
	}
	var limits string
	if Readonly(d.readonly.Load()) == ReadOnlyFixed {
		limits = " (read-only user: its profile's limits apply)"
	}
	return &backend.CheckHealthResult{
		Status: backend.HealthStatusOk,
		Message: fmt.Sprintf("ClickHouse%s at %s, database %s, schema version %d: OK%s",
			serverVersion, d.settings.Warehouse.Addr, db, version, limits),
	}, nil
}

// queryContext bounds a query by the datasource's timeout.
func (d *Datasource) queryContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d.settings.Timeout)
}

// nowFunc is time.Now, replaceable in tests of this package.
var nowFunc = time.Now
