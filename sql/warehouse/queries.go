package warehouse

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	spsql "github.com/spacepulse/spacepulse/sql"
)

// MinAttempts is the fewest join attempts a bucket needs for a failure rate; below it the rate is
// "not enough data" (nil), never 0 % or 100 %.
const MinAttempts = 25

// MaxWindow is the longest window the per-second queries (Concurrency, Peak) accept: one point a
// second, so 31 days is 2.7M points.
const MaxWindow = 31 * 24 * time.Hour

// Errors for windows the queries refuse.
var (
	ErrEmptyWindow   = errors.New("window is empty: want from <= to")
	ErrWindowTooLong = errors.New("window is too long: want at most 31 days")
	ErrWindowRange   = errors.New("window is outside 1970-01-01..2106-02-07 (ClickHouse DateTime)")
	ErrUnknownSpace  = errors.New("space has no events")
)

// queries maps a file name in package sql's queries/ (without .sql) to its text.
var queries = mustLoadQueries(spsql.Queries)

func mustLoadQueries(fsys fs.FS) map[string]string {
	names, err := fs.Glob(fsys, "queries/*.sql")
	if err != nil {
		panic(err)
	}
	out := make(map[string]string, len(names))
	for _, name := range names {
		text, err := fs.ReadFile(fsys, name)
		if err != nil {
			panic(err)
		}
		out[strings.TrimSuffix(path.Base(name), ".sql")] = string(text)
	}
	for name, text := range out {
		out[name] = includeQueries(name, text, out, 0)
	}
	// One query per paging rule: alert_state.sql (the rule) around each alert_input_*.sql.
	for name, text := range out {
		if rule, ok := strings.CutPrefix(name, "alert_input_"); ok {
			out["alert_state_"+rule] = inputLine.ReplaceAllLiteralString(out["alert_state"], text)
		}
	}
	delete(out, "alert_state") // not a query without its input
	return out
}

// inputLine is where alert_state.sql takes its input's rows.
var inputLine = regexp.MustCompile(`(?m)^[ \t]*\{\{input\}\}[ \t]*$`)

// include is how a query file takes another's rows as a subquery: a line {{query NAME}} stands
// for the text of queries/NAME.sql (its parameters become the includer's), so that a figure built
// on another (alert_state on failure_rate) cannot drift from it. sql/tests expands it the same way.
var include = regexp.MustCompile(`(?m)^[ \t]*\{\{query ([a-z0-9_]+)\}\}[ \t]*$`)

func includeQueries(name, text string, all map[string]string, depth int) string {
	if depth > 4 {
		panic("queries/" + name + ".sql: {{query}} nested too deep (a cycle?)")
	}
	return include.ReplaceAllStringFunc(text, func(line string) string {
		inc := include.FindStringSubmatch(line)[1]
		body, ok := all[inc]
		if !ok {
			panic("queries/" + name + ".sql includes queries/" + inc + ".sql, which does not exist")
		}
		return includeQueries(inc, body, all, depth+1)
	})
}

// Query returns the text of the embedded query file name (e.g. "concurrency"), for callers that run it themselves with their own scanning; ok is false for an
// unknown name.
func Query(name string) (text string, ok bool) {
	text, ok = queries[name]
	return text, ok
}

// window checks [from, to] and returns both as whole UTC seconds, the form bound into the SQL.
func window(from, to time.Time, maxLen time.Duration) (time.Time, time.Time, error) {
	from, to = from.UTC().Truncate(time.Second), to.UTC().Truncate(time.Second)
	if to.Before(from) {
		return from, to, fmt.Errorf("%s > %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), ErrEmptyWindow)
	}
	if from.Unix() < 0 || to.Unix() > 1<<32-1 {
		return from, to, ErrWindowRange
	}
	if maxLen > 0 && to.Sub(from) > maxLen {
		return from, to, fmt.Errorf("%s: %w", to.Sub(from), ErrWindowTooLong)
	}
	return from, to, nil
}

// windowArgs binds the parameters every windowed query takes.
func windowArgs(space string, from, to time.Time, extra ...any) []any {
	return append([]any{
		clickhouse.Named("space", space),
		clickhouse.DateNamed("from", from, clickhouse.Seconds),
		clickhouse.DateNamed("to", to, clickhouse.Seconds),
	}, extra...)
}

// Point is one second of the concurrency curve: Listeners = CCL(Time).
type Point struct {
	Time      time.Time
	Listeners int64
}

// Concurrency returns CCL(t), the concurrent listeners of space, for every second t of
// [from, to] (both truncated to the second, in UTC): joins - leaves with ts <= t, each event_id
// once, starting from the count before from, an empty second carrying the last value. Dense: one
// Point per second, in order. Runs queries/concurrency.sql with @step = 1.
func Concurrency(ctx context.Context, conn Querier, space string, from, to time.Time) ([]Point, error) {
	from, to, err := window(from, to, MaxWindow)
	if err != nil {
		return nil, fmt.Errorf("concurrency of %q: %w", space, err)
	}
	rows, err := conn.Query(ctx, "SELECT bucket, last FROM\n(\n"+queries["concurrency"]+"\n)",
		windowArgs(space, from, to, clickhouse.Named("step", uint32(1)))...)
	if err != nil {
		return nil, fmt.Errorf("query concurrency of %q: %w", space, err)
	}
	defer rows.Close()
	points := make([]Point, 0, int(to.Sub(from)/time.Second)+1)
	for rows.Next() {
		var p Point
		if err := rows.Scan(&p.Time, &p.Listeners); err != nil {
			return nil, fmt.Errorf("read concurrency of %q: %w", space, err)
		}
		p.Time = p.Time.UTC()
		points = append(points, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read concurrency of %q: %w", space, err)
	}
	return points, nil
}

// wholeWindow is the @step that makes a bucketed query's window one bucket: no timestamp a
// DateTime holds reaches it, so every second falls in the bucket that starts at the epoch.
const wholeWindow = uint32(1<<32 - 1)

// Peak returns the maximum of CCL(t) over [from, to] (same curve as Concurrency) as a Point:
// Listeners is the peak and Time the earliest second that reached it. Runs queries/concurrency.sql
// with the whole window as one bucket.
func Peak(ctx context.Context, conn Querier, space string, from, to time.Time) (Point, error) {
	from, to, err := window(from, to, MaxWindow)
	if err != nil {
		return Point{}, fmt.Errorf("peak of %q: %w", space, err)
	}
	var p Point
	if err := conn.QueryRow(ctx, "SELECT peak, peak_at FROM\n(\n"+queries["concurrency"]+"\n)",
		windowArgs(space, from, to, clickhouse.Named("step", wholeWindow))...).Scan(&p.Listeners, &p.Time); err != nil {
		return Point{}, fmt.Errorf("query peak of %q: %w", space, err)
	}
	p.Time = p.Time.UTC()
	return p, nil
}

// FailureBucket is the join-failure rate of one bucket of time.
type FailureBucket struct {
	// Start is the bucket's first second (a whole UTC minute for FailureRate). The window's first
	// and last buckets count only the seconds inside the window.
	Start time.Time
	// Attempts = joins + join-phase errors; TechnicalFailures and BusinessFailures split the
	// join-phase errors by code (business: space_ended, auth, geo_blocked).
	Attempts          int64
	TechnicalFailures int64
	BusinessFailures  int64
	// Rate is TechnicalFailures / Attempts, nil ("not enough data") when Attempts < MinAttempts.
	Rate *float64
}

// FailureRate returns the per-attempt technical join-failure rate of space for every UTC minute
// overlapping [from, to], in order, each event_id once (see FailureBucket). Runs
// queries/failure_rate.sql on the space_second rollup.
func FailureRate(ctx context.Context, conn Querier, space string, from, to time.Time) ([]FailureBucket, error) {
	return FailureRateEvery(ctx, conn, space, from, to, time.Minute)
}

// FailureRateEvery is FailureRate with buckets of step (whole seconds, aligned to multiples of
// step since the epoch).
func FailureRateEvery(ctx context.Context, conn Querier, space string, from, to time.Time, step time.Duration) ([]FailureBucket, error) {
	c, err := failureRate(ctx, conn, space, from, to, step)
	if err != nil {
		return nil, err
	}
	out := make([]FailureBucket, len(c.time))
	for i := range out {
		out[i] = FailureBucket{Start: c.time[i], Attempts: c.attempts[i], TechnicalFailures: c.technical[i],
			BusinessFailures: c.business[i], Rate: c.rate[i]}
	}
	return out, nil
}

// Bounds returns the first and last second with an event of space, from the rollup: the default
// window of a report. A space without events fails with ErrUnknownSpace.
func Bounds(ctx context.Context, conn Querier, space string) (first, last time.Time, err error) {
	var seconds int64
	err = conn.QueryRow(ctx, queries["space_bounds"], clickhouse.Named("space", space)).Scan(&seconds, &first, &last)
	if err != nil {
		return first, last, fmt.Errorf("query bounds of %q: %w", space, err)
	}
	if seconds == 0 {
		return first, last, fmt.Errorf("%q: %w", space, ErrUnknownSpace)
	}
	return first.UTC(), last.UTC(), nil
}

// SpaceExists reports whether space has any event, cheaply (queries/space_exists.sql): for
// checking a room a user picked before querying it.
func SpaceExists(ctx context.Context, conn Querier, space string) (bool, error) {
	var has uint8
	if err := conn.QueryRow(ctx, queries["space_exists"], clickhouse.Named("space", space)).Scan(&has); err != nil {
		return false, fmt.Errorf("query whether %q has events: %w", space, err)
	}
	return has == 1, nil
}

// SpaceInfo is one space with events.
type SpaceInfo struct {
	Space       string
	First, Last time.Time
}

// Spaces lists every space with events, ordered by id. Runs queries/spaces.sql.
func Spaces(ctx context.Context, conn Querier) ([]SpaceInfo, error) {
	rows, err := conn.Query(ctx, queries["spaces"])
	if err != nil {
		return nil, fmt.Errorf("query spaces: %w", err)
	}
	defer rows.Close()
	var out []SpaceInfo
	for rows.Next() {
		var s SpaceInfo
		if err := rows.Scan(&s.Space, &s.First, &s.Last); err != nil {
			return nil, fmt.Errorf("read spaces: %w", err)
		}
		s.First, s.Last = s.First.UTC(), s.Last.UTC()
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read spaces: %w", err)
	}
	return out, nil
}
