package warehouse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// The series queries below serve dashboards (the Grafana plugin): each returns its result as
// columns (one slice per column, rows in the query's order), so a caller can hand the slices to a
// columnar format without a per-row detour. Every one of them runs a file of package sql's
// queries/ with its parameters bound by clickhouse-go, never spliced.

// ErrBadDimension is returned for a dimension outside Dimensions.
var ErrBadDimension = errors.New("unknown dimension: want one of code, client, app_version, region, country")

// ErrBadStep is returned for a bucket length the query cannot use.
var ErrBadStep = errors.New("bad bucket length")

// MaxBuckets bounds the rows of one bucketed series.
const MaxBuckets = 1_000_000

// CheckDimension returns ErrBadDimension unless dim is one of Dimensions (the breakdown queries
// failure_rate_by.sql and dimension_values.sql; join_latency.sql takes them without "code").
func CheckDimension(dim string) error {
	if !slices.Contains(Dimensions, dim) {
		return fmt.Errorf("%q: %w", dim, ErrBadDimension)
	}
	return nil
}

func bucketed(from, to time.Time, step time.Duration, minuteSteps bool) (time.Time, time.Time, uint32, error) {
	from, to, err := window(from, to, 0)
	if err != nil {
		return from, to, 0, err
	}
	if step < time.Second || step%time.Second != 0 || step > 24*time.Hour {
		return from, to, 0, fmt.Errorf("step %s: want whole seconds, 1s to 24h: %w", step, ErrBadStep)
	}
	if minuteSteps && step%time.Minute != 0 {
		return from, to, 0, fmt.Errorf("step %s: want whole minutes (the minute rollup): %w", step, ErrBadStep)
	}
	if to.Sub(from)/step > MaxBuckets {
		return from, to, 0, fmt.Errorf("%d buckets of %s: %w", to.Sub(from)/step, step, ErrWindowTooLong)
	}
	return from, to, uint32(step / time.Second), nil
}

// ConcurrencySeries is CCL per bucket: Peak[i] is the highest and Last[i] the last CCL(t) of the
// seconds of bucket Time[i] inside the window.
type ConcurrencySeries struct {
	Time       []time.Time
	Peak, Last []int64
}

// ConcurrencyBuckets returns the concurrency curve of space over [from, to] (the one Concurrency
// returns) reduced to buckets of step, aligned to multiples of step since the epoch and clipped to
// the window. Dense. Runs queries/concurrency.sql.
func ConcurrencyBuckets(ctx context.Context, conn Querier, space string, from, to time.Time, step time.Duration) (ConcurrencySeries, error) {
	var s ConcurrencySeries
	from, to, st, err := bucketed(from, to, step, false)
	if err == nil && to.Sub(from) > MaxWindow {
		err = fmt.Errorf("%s: %w", to.Sub(from), ErrWindowTooLong)
	}
	if err != nil {
		return s, fmt.Errorf("concurrency of %q: %w", space, err)
	}
	err = readColumns(ctx, conn, "concurrency", windowArgs(space, from, to, clickhouse.Named("step", st)),
		[]string{"bucket", "peak", "last"}, &s.Time, &s.Peak, &s.Last)
	if err != nil {
		return ConcurrencySeries{}, fmt.Errorf("concurrency of %q: %w", space, err)
	}
	return s, nil
}

// ActivitySeries counts events per bucket by class (see queries/activity.sql).
type ActivitySeries struct {
	Time                                                              []time.Time
	Joins, Leaves, TechnicalFailures, BusinessFailures, SessionErrors []int64
}

// Activity returns the joins, leaves and errors of space per bucket of step over [from, to]; sparse.
// Runs queries/activity.sql.
func Activity(ctx context.Context, conn Querier, space string, from, to time.Time, step time.Duration) (ActivitySeries, error) {
	var s ActivitySeries
	from, to, st, err := bucketed(from, to, step, false)
	if err != nil {
		return s, fmt.Errorf("activity of %q: %w", space, err)
	}
	err = readColumns(ctx, conn, "activity", windowArgs(space, from, to, clickhouse.Named("step", st)),
		[]string{"bucket", "joins", "leaves", "technical_failures", "business_failures", "session_errors"},
		&s.Time, &s.Joins, &s.Leaves, &s.TechnicalFailures, &s.BusinessFailures, &s.SessionErrors)
	if err != nil {
		return ActivitySeries{}, fmt.Errorf("activity of %q: %w", space, err)
	}
	return s, nil
}

// RateSeries is a failure rate per bucket (and per Value of a dimension when broken down): Rate
// is nil ("not enough data") when Attempts < MinAttempts.
type RateSeries struct {
	Time              []time.Time
	Value             []string // the dimension's value; nil when not broken down
	Attempts          []int64
	TechnicalFailures []int64 // per attempt: technical join errors; per user: users who never joined
	Users             []int64 // per user only: users attempting
	Rate              []*float64
}

// FailureRateSeries is FailureRateEvery as columns (dense, to the second; queries/failure_rate.sql).
func FailureRateSeries(ctx context.Context, conn Querier, space string, from, to time.Time, step time.Duration) (RateSeries, error) {
	c, err := failureRate(ctx, conn, space, from, to, step)
	if err != nil {
		return RateSeries{}, err
	}
	return RateSeries{Time: c.time, Attempts: c.attempts, TechnicalFailures: c.technical, Rate: c.rate}, nil
}

// failureColumns is queries/failure_rate.sql's result, a slice a column.
type failureColumns struct {
	time                          []time.Time
	attempts, technical, business []int64
	rate                          []*float64
}

// failureRate runs queries/failure_rate.sql for FailureRateEvery and FailureRateSeries.
func failureRate(ctx context.Context, conn Querier, space string, from, to time.Time, step time.Duration) (failureColumns, error) {
	var c failureColumns
	if step < time.Second || step%time.Second != 0 || step > 24*time.Hour {
		return c, fmt.Errorf("failure rate of %q: step %s: want whole seconds, 1s to 24h", space, step)
	}
	from, to, err := window(from, to, 0)
	if err != nil {
		return c, fmt.Errorf("failure rate of %q: %w", space, err)
	}
	if to.Sub(from)/step > 1_000_000 {
		return c, fmt.Errorf("failure rate of %q: %d buckets of %s: %w", space, to.Sub(from)/step, step, ErrWindowTooLong)
	}
	var rates []float64
	var noRate []uint8
	err = readColumns(ctx, conn, "failure_rate", windowArgs(space, from, to,
		clickhouse.Named("step", uint32(step/time.Second)), clickhouse.Named("min_attempts", uint32(MinAttempts))),
		[]string{"bucket", "attempts", "technical_failures", "business_failures", "ifNull(rate, 0)", "isNull(rate)"},
		&c.time, &c.attempts, &c.technical, &c.business, &rates, &noRate)
	if err != nil {
		return failureColumns{}, fmt.Errorf("failure rate of %q: %w", space, err)
	}
	c.rate = nullable(rates, noRate)
	return c, nil
}

// FailureRateBy returns the per-attempt technical join-failure rate of space per bucket of step (a
// multiple of a minute) and value of dim; every minute overlapping [from, to] counts whole.
// Runs queries/failure_rate_by.sql.
func FailureRateBy(ctx context.Context, conn Querier, space string, from, to time.Time, step time.Duration, dim string) (RateSeries, error) {
	var s RateSeries
	from, to, st, err := bucketed(from, to, step, true)
	if err == nil {
		err = CheckDimension(dim)
	}
	if err != nil {
		return s, fmt.Errorf("failure rate of %q by %s: %w", space, dim, err)
	}
	var rates []float64
	var noRate []uint8
	err = readColumns(ctx, conn, "failure_rate_by", windowArgs(space, from, to,
		clickhouse.Named("step", st), clickhouse.Named("dimension", dim),
		clickhouse.Named("min_attempts", uint32(MinAttempts))),
		[]string{"bucket", "value", "attempts", "technical_failures", "ifNull(rate, 0)", "isNull(rate)"},
		&s.Time, &s.Value, &s.Attempts, &s.TechnicalFailures, &rates, &noRate)
	s.Rate = nullable(rates, noRate)
	if err != nil {
		return RateSeries{}, fmt.Errorf("failure rate of %q by %s: %w", space, dim, err)
	}
	return s, nil
}

// UserFailureRate returns the per-user join-failure rate of space per bucket of step (users with
// attempts and no successful join ÷ users with attempts, as sql/README.md defines it); sparse. Runs
// queries/user_failure_rate.sql, which Summary reads too.
func UserFailureRate(ctx context.Context, conn Querier, space string, from, to time.Time, step time.Duration) (RateSeries, error) {
	var s RateSeries
	from, to, st, err := bucketed(from, to, step, false)
	if err != nil {
		return s, fmt.Errorf("per-user failure rate of %q: %w", space, err)
	}
	var rates []float64
	var noRate []uint8
	err = readColumns(ctx, conn, "user_failure_rate", windowArgs(space, from, to,
		clickhouse.Named("step", st), clickhouse.Named("min_attempts", uint32(MinAttempts))),
		[]string{"bucket", "users_attempting", "users_failed", "attempts", "ifNull(rate, 0)", "isNull(rate)"},
		&s.Time, &s.Users, &s.TechnicalFailures, &s.Attempts, &rates, &noRate)
	s.Rate = nullable(rates, noRate)
	if err != nil {
		return RateSeries{}, fmt.Errorf("per-user failure rate of %q: %w", space, err)
	}
	return s, nil
}

// CodeSeries counts join-phase errors per bucket and code.
type CodeSeries struct {
	Time      []time.Time
	Code      []string
	Technical []bool
	Errors    []int64
}

// ErrorsByCode returns the join-phase errors of space per bucket of step (a multiple of a minute)
// and code; technicalOnly leaves business codes out. Runs queries/errors_by_code.sql.
func ErrorsByCode(ctx context.Context, conn Querier, space string, from, to time.Time, step time.Duration, technicalOnly bool) (CodeSeries, error) {
	var s CodeSeries
	from, to, st, err := bucketed(from, to, step, true)
	if err != nil {
		return s, fmt.Errorf("errors by code of %q: %w", space, err)
	}
	var only uint8
	if technicalOnly {
		only = 1
	}
	var technical []uint8
	err = readColumns(ctx, conn, "errors_by_code", windowArgs(space, from, to,
		clickhouse.Named("step", st), clickhouse.Named("technical_only", only)),
		[]string{"bucket", "code", "technical", "errors"},
		&s.Time, &s.Code, &technical, &s.Errors)
	s.Technical = make([]bool, len(technical))
	for i, v := range technical {
		s.Technical[i] = v == 1
	}
	if err != nil {
		return CodeSeries{}, fmt.Errorf("errors by code of %q: %w", space, err)
	}
	return s, nil
}

// NearestRank is the percentile every latency figure uses, computed in Go from sorted values:
// the ceil(level * n)-th smallest (nearest rank), with level * n in float64 as ClickHouse's
// quantileExactWeighted computes it (queries/join_latency.sql). It is for ground truths and
// test models; sorted must not be empty.
func NearestRank(sorted []int64, level float64) int64 {
	return sorted[min(max(int(math.Ceil(level*float64(len(sorted)))), 1), len(sorted))-1]
}

// LatencySeries is join latency percentiles (ms) per bucket (and Value of a dimension).
type LatencySeries struct {
	Time          []time.Time
	Value         []string
	Samples       []int64
	P50, P95, P99 []float64
}

// JoinLatency returns exact join-latency percentiles of space per bucket of step, per value of dim
// ("" for one series; else client, app_version, region or country). Runs queries/join_latency.sql.
func JoinLatency(ctx context.Context, conn Querier, space string, from, to time.Time, step time.Duration, dim string) (LatencySeries, error) {
	var s LatencySeries
	from, to, st, err := bucketed(from, to, step, false)
	if err == nil && dim != "" && (dim == "code" || CheckDimension(dim) != nil) {
		err = fmt.Errorf("%q: %w", dim, ErrBadDimension)
	}
	if err != nil {
		return s, fmt.Errorf("join latency of %q: %w", space, err)
	}
	err = readColumns(ctx, conn, "join_latency", windowArgs(space, from, to,
		clickhouse.Named("step", st), clickhouse.Named("dimension", dim)),
		[]string{"bucket", "value", "samples", "p50", "p95", "p99"},
		&s.Time, &s.Value, &s.Samples, &s.P50, &s.P95, &s.P99)
	if err != nil {
		return LatencySeries{}, fmt.Errorf("join latency of %q: %w", space, err)
	}
	return s, nil
}

// DimensionValues returns up to limit values dim took in [from, to] in space ("" for every
// space), most events first. Runs queries/dimension_values.sql.
func DimensionValues(ctx context.Context, conn Querier, space string, from, to time.Time, dim string, limit int) ([]string, error) {
	from, to, err := window(from, to, 0)
	if err == nil {
		err = CheckDimension(dim)
	}
	if err == nil && (limit < 1 || limit > 100_000) {
		err = fmt.Errorf("limit %d: want 1 to 100000", limit)
	}
	if err != nil {
		return nil, fmt.Errorf("values of %s: %w", dim, err)
	}
	var out []string
	err = scanColumns(ctx, conn, "dimension_values", windowArgs(space, from, to,
		clickhouse.Named("dimension", dim), clickhouse.Named("limit", uint32(limit))),
		func(scan func(...any) error) error {
			var v string
			var n uint64
			if err := scan(&v, &n); err != nil {
				return err
			}
			out = append(out, v)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("values of %s: %w", dim, err)
	}
	return out, nil
}

// SpacesIn lists up to limit spaces with events in [from, to] (First and Last inside it), by id.
// Runs queries/spaces_in_window.sql.
func SpacesIn(ctx context.Context, conn Querier, from, to time.Time, limit int) ([]SpaceInfo, error) {
	from, to, err := window(from, to, 0)
	if err == nil && (limit < 1 || limit > 100_000) {
		err = fmt.Errorf("limit %d: want 1 to 100000", limit)
	}
	if err != nil {
		return nil, fmt.Errorf("spaces: %w", err)
	}
	var out []SpaceInfo
	err = scanColumns(ctx, conn, "spaces_in_window", []any{
		clickhouse.DateNamed("from", from, clickhouse.Seconds),
		clickhouse.DateNamed("to", to, clickhouse.Seconds),
		clickhouse.Named("limit", uint32(limit)),
	}, func(scan func(...any) error) error {
		var s SpaceInfo
		if err := scan(&s.Space, &s.First, &s.Last); err != nil {
			return err
		}
		s.First, s.Last = s.First.UTC(), s.Last.UTC()
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("spaces: %w", err)
	}
	return out, nil
}

// readColumns runs the query file name with args, wrapped so that ClickHouse returns one row
// holding each of cols (expressions over the query's columns) as an array, and scans the arrays
// into dest (pointers to slices, the first a *[]time.Time of buckets): a series comes out as
// whole columns, with no Scan per row. groupArray keeps the order of the query's ORDER BY (what
// ClickHouse documents for a subquery with ORDER BY); the buckets are checked to be in order all
// the same. groupArray leaves NULLs out, so a Nullable column is read as ifNull(c, 0) and
// isNull(c) (see nullable).
func readColumns(ctx context.Context, conn Querier, name string, args []any, cols []string, dest ...any) error {
	text, ok := queries[name]
	if !ok {
		return fmt.Errorf("query file %s.sql is missing", name)
	}
	arrays := make([]string, len(cols))
	for i, c := range cols {
		arrays[i] = "groupArray(" + c + ")"
	}
	wrapped := "SELECT " + strings.Join(arrays, ", ") + "\nFROM\n(\n" + text + "\n)"
	if err := conn.QueryRow(ctx, wrapped, args...).Scan(dest...); err != nil {
		return fmt.Errorf("query %s: %w", name, err)
	}
	times := dest[0].(*[]time.Time)
	for i, t := range *times {
		if i > 0 && t.Before((*times)[i-1]) {
			return fmt.Errorf("read %s: bucket %d (%s) comes before the one ahead of it: rows out of order", name, i, t)
		}
		(*times)[i] = t.UTC()
	}
	return nil
}

// nullable rebuilds a Nullable column from its values and NULL flags.
func nullable(values []float64, isNull []uint8) []*float64 {
	out := make([]*float64, len(values))
	for i := range values {
		if isNull[i] == 0 {
			out[i] = &values[i]
		}
	}
	return out
}

// scanColumns runs the query file name with args and calls row for every row with the row's Scan.
func scanColumns(ctx context.Context, conn Querier, name string, args []any, row func(scan func(...any) error) error) error {
	text, ok := queries[name]
	if !ok {
		return fmt.Errorf("query file %s.sql is missing", name)
	}
	rows, err := conn.Query(ctx, text, args...)
	if err != nil {
		return fmt.Errorf("query %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// unversioned numbers the versions RollupVersion gives a rollup it cannot fingerprint.
var unversioned atomic.Int64

// RollupVersion fingerprints the space_second rollup up to to's month (active parts, highest
// block number, rows): equal fingerprints mean no insert or merge touched the cells a figure of a
// window ending at to depends on, so a cached result is still exact. Runs
// queries/space_second_version.sql (system.parts only, a few milliseconds).
func RollupVersion(ctx context.Context, conn Querier, to time.Time) (string, error) {
	var parts, maxBlock, rows int64
	err := conn.QueryRow(ctx, queries["space_second_version"],
		clickhouse.DateNamed("to", to.UTC().Truncate(time.Second), clickhouse.Seconds)).Scan(&parts, &maxBlock, &rows)
	if err != nil {
		return "", fmt.Errorf("query rollup version: %w", err)
	}
	if parts == 0 {
		// No part of space_second_counts on this server: an empty rollup, or a cluster's
		// Distributed table, whose parts are on the shards (system.parts shows this server's
		// only). No fingerprint then: a version never seen before, so nothing is served from a
		// cache.
		return fmt.Sprintf("unversioned/%d", unversioned.Add(1)), nil
	}
	return fmt.Sprintf("%d/%d/%d", parts, maxBlock, rows), nil
}
