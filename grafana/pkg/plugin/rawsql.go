package plugin

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// timeFilterRe matches $__timeFilter(column); the column must be a plain or dotted identifier.
var timeFilterRe = regexp.MustCompile(`\$__timeFilter\(\s*([^)]*?)\s*\)`)

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$`)

// leftoverMacroRe finds a macro nobody expanded.
var leftoverMacroRe = regexp.MustCompile(`\$__[A-Za-z_]+`)

// ExpandMacros replaces the macros of a raw SQL query with literals computed from the window and
// bucket (never from user text):
//
//	$__timeFilter(col)  col >= toDateTime(<from>, 'UTC') AND col <= toDateTime(<to>, 'UTC')
//	$__fromTime         toDateTime(<from unix seconds>, 'UTC')
//	$__toTime           toDateTime(<to unix seconds>, 'UTC')
//	$__interval_s       the bucket length in seconds
//	$__interval_ms      the bucket length in milliseconds
//	$__interval         the bucket length in seconds (alias of $__interval_s)
//
// col must be an identifier; an unknown macro is an error.
func ExpandMacros(sql string, from, to time.Time, step time.Duration) (string, error) {
	fromLit := fmt.Sprintf("toDateTime(%d, 'UTC')", from.Unix())
	toLit := fmt.Sprintf("toDateTime(%d, 'UTC')", to.Unix())
	var bad error
	sql = timeFilterRe.ReplaceAllStringFunc(sql, func(m string) string {
		col := timeFilterRe.FindStringSubmatch(m)[1]
		if !identRe.MatchString(col) {
			bad = fmt.Errorf("$__timeFilter(%s): want a column name", col)
			return m
		}
		return fmt.Sprintf("(%s >= %s AND %s <= %s)", col, fromLit, col, toLit)
	})
	if bad != nil {
		return "", bad
	}
	secs := strconv.FormatInt(int64(step/time.Second), 10)
	sql = strings.NewReplacer(
		"$__fromTime", fromLit,
		"$__toTime", toLit,
		"$__interval_ms", strconv.FormatInt(step.Milliseconds(), 10),
		"$__interval_s", secs,
	).Replace(sql)
	sql = regexp.MustCompile(`\$__interval\b`).ReplaceAllString(sql, secs)
	if m := leftoverMacroRe.FindString(sql); m != "" {
		return "", fmt.Errorf("unknown macro %s: want $__timeFilter(col), $__fromTime, $__toTime, $__interval_s or $__interval_ms", m)
	}
	return sql, nil
}

// rawSQL runs an analyst's query read-only, bounded by the datasource's timeout and row limit,
// and turns the result into one frame, column by column. ctx carries the settings of a raw query
// (querySettings: readonly = 2, max_execution_time, max_result_rows, or none for a readonly = 1
// user, whose profile sets them); the plugin also counts the rows against the row limit itself.
func (d *Datasource) rawSQL(ctx context.Context, conn driver.Conn, r request, dq backend.DataQuery) (data.Frames, error) {
	sql, err := ExpandMacros(r.RawSQL, r.from, r.to, r.step)
	if err != nil {
		return nil, backend.DownstreamError(err)
	}
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	cols := make([]reflect.Value, len(types))
	ptrs := make([]any, len(types))
	asString := make([]bool, len(types))
	for i, ct := range types {
		st := ct.ScanType()
		if data.FieldTypeFor(reflect.Zero(st).Interface()) == data.FieldTypeUnknown {
			st, asString[i] = reflect.TypeFor[string](), true
		}
		cols[i] = reflect.MakeSlice(reflect.SliceOf(st), 0, 64)
		if asString[i] {
			ptrs[i] = new(any)
		} else {
			ptrs[i] = reflect.New(st).Interface()
		}
	}
	n := 0
	for rows.Next() {
		if n++; n > d.settings.RowLimit {
			return nil, backend.DownstreamErrorf("result has over %d rows, the row limit: add a LIMIT or narrow the query", d.settings.RowLimit)
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read result: %w", err)
		}
		for i, p := range ptrs {
			if asString[i] {
				cols[i] = reflect.Append(cols[i], reflect.ValueOf(fmt.Sprint(*p.(*any))))
			} else {
				cols[i] = reflect.Append(cols[i], reflect.ValueOf(p).Elem())
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	fields := make([]*data.Field, len(types))
	for i, ct := range types {
		fields[i] = data.NewField(ct.Name(), nil, cols[i].Interface())
	}
	f := data.NewFrame(dq.RefID, fields...)
	f.Meta = &data.FrameMeta{ExecutedQueryString: sql, PreferredVisualization: data.VisTypeTable}
	if r.Format == "timeseries" {
		f.Meta.PreferredVisualization = data.VisTypeGraph
		if ts := f.TimeSeriesSchema(); ts.Type == data.TimeSeriesTypeLong && f.Rows() > 0 {
			wide, err := data.LongToWide(f, nil)
			if err != nil {
				return nil, backend.DownstreamErrorf("format timeseries: %v (want a time column first, sorted, then values and label columns)", err)
			}
			return data.Frames{wide}, nil
		}
	}
	return data.Frames{f}, nil
}

// ClickHouse error codes that mean the query (the user's text or choice) is wrong, not the
// server or the plugin.
var userErrorCodes = map[int32]bool{
	6: true, 27: true, 36: true, 41: true, 42: true, 43: true, 44: true, 46: true, 47: true,
	48: true, 53: true, 60: true, 62: true, 69: true, 70: true, 81: true, 159: true, 164: true,
	179: true, 184: true, 215: true, 291: true, 386: true, 396: true, 497: true,
}

// classify marks the errors the user can fix (bad window, unknown room, a raw query ClickHouse
// refuses, a timeout or row limit) as downstream errors.
func classify(err error) error {
	if backend.IsDownstreamError(err) {
		return err
	}
	switch {
	case errors.Is(err, warehouse.ErrEmptyWindow), errors.Is(err, warehouse.ErrWindowTooLong),
		errors.Is(err, warehouse.ErrWindowRange), errors.Is(err, warehouse.ErrUnknownSpace),
		errors.Is(err, warehouse.ErrBadDimension), errors.Is(err, warehouse.ErrBadStep),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		userErrorCodes[warehouse.ExceptionCode(err)]:
		return backend.DownstreamError(err)
	}
	return err
}
