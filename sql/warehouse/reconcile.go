package warehouse

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Reconciling the rollups with the raw table.
//
// ClickHouse writes an insert's events part first and the parts of its materialized views after
// it, so a server killed during an insert can keep the events and lose (part of) what the views
// should have added: a rollup short by those rows, forever. Reconcile finds such cells by
// comparing each cell of a window with a count of the raw events and writes the difference into
// the rollup as one more row, which sum() adds in.
//
// An insert running while Reconcile reads can show a difference that is not one (its events part
// is visible, its view parts not yet: milliseconds). Reconcile therefore reads the differences
// three times, settle apart for the first two and just before writing for the third, and writes
// only those that were the same all three times: a passing insert does not hold a cell's
// difference still across seconds.

// The raw side counts distinct event ids, not rows: events is a ReplacingMergeTree on
// (space_id, ts, event_id), so a copy that two consumer processes both landed (see
// consumers/ingest/doc.go) is one event, whether or not a merge has folded it yet, while the
// views counted it twice. Reconcile repairs that the same way as a short cell.

// reconcileSecond lists the cells of space_second_counts in [@from, @to] whose sum differs from
// the raw rows, with the difference to add. Its class and technical expressions (and
// reconcileMinute's) are those of migration 0005's views: a drift would make Reconcile "correct"
// healthy cells, which TestReconcileRepairsShortRollups (brute force after a reconcile, then
// nothing left) fails on.
const reconcileSecond = `SELECT space_id, second, class, toInt64(sum(raw) - sum(rolled)) AS diff
FROM
(
    SELECT space_id, ts AS second,
        CAST(multiIf(
            kind = 'join', 'join',
            kind = 'leave', 'leave',
            phase = 'join', if(code IN ({business_codes}), 'join_error_business', 'join_error'),
            'session_error'
        ) AS Enum8('join' = 1, 'leave' = 2, 'join_error' = 3, 'join_error_business' = 4, 'session_error' = 5)) AS class,
        toInt64(uniqExact(event_id)) AS raw, toInt64(0) AS rolled
    FROM events
    WHERE ts >= @from AND ts <= @to
    GROUP BY space_id, second, class
    UNION ALL
    SELECT space_id, second, class, toInt64(0) AS raw, toInt64(sum(events)) AS rolled
    FROM space_second_counts
    WHERE second >= @from AND second <= @to
    GROUP BY space_id, second, class
)
GROUP BY space_id, second, class
HAVING diff != 0
ORDER BY space_id, second, class`

// reconcileMinuteDims are space_minute_counts' key columns after space_id and minute.
const reconcileMinuteDims = "kind, phase, technical, code, reason, client, app_version, region, country"

// reconcileMinute is reconcileSecond for space_minute_counts, over the whole minutes [@from, @to]
// touches: both sides must cover the same minutes, or a window ending inside a minute would
// "correct" its cells by the events after @to.
const reconcileMinute = `SELECT space_id, minute, ` + reconcileMinuteDims + `, toInt64(sum(raw) - sum(rolled)) AS diff
FROM
(
    SELECT space_id, toStartOfMinute(ts) AS minute, kind, phase,
        toUInt8(kind = 'error' AND code NOT IN ({business_codes})) AS technical,
        code, reason, client, app_version, region, country,
        toInt64(uniqExact(event_id)) AS raw, toInt64(0) AS rolled
    FROM events
    WHERE ts >= toStartOfMinute(@from) AND ts < toStartOfMinute(@to) + 60
    GROUP BY space_id, minute, ` + reconcileMinuteDims + `
    UNION ALL
    SELECT space_id, minute, ` + reconcileMinuteDims + `, toInt64(0) AS raw, toInt64(sum(events)) AS rolled
    FROM space_minute_counts
    WHERE minute >= toStartOfMinute(@from) AND minute <= @to
    GROUP BY space_id, minute, ` + reconcileMinuteDims + `
)
GROUP BY space_id, minute, ` + reconcileMinuteDims + `
HAVING diff != 0
ORDER BY space_id, minute, ` + reconcileMinuteDims

// reconcileLatency is reconcileMinute for join_latency_minute_counts (joins with a latency, per
// minute and join_ms), over the same whole minutes.
const reconcileLatency = `SELECT space_id, minute, join_ms, toInt64(sum(raw) - sum(rolled)) AS diff
FROM
(
    SELECT space_id, toStartOfMinute(ts) AS minute, join_ms,
        toInt64(uniqExact(event_id)) AS raw, toInt64(0) AS rolled
    FROM events
    WHERE ts >= toStartOfMinute(@from) AND ts < toStartOfMinute(@to) + 60 AND kind = 'join' AND join_ms >= 0
    GROUP BY space_id, minute, join_ms
    UNION ALL
    SELECT space_id, minute, join_ms, toInt64(0) AS raw, toInt64(sum(joins)) AS rolled
    FROM join_latency_minute_counts
    WHERE minute >= toStartOfMinute(@from) AND minute <= @to
    GROUP BY space_id, minute, join_ms
)
GROUP BY space_id, minute, join_ms
HAVING diff != 0
ORDER BY space_id, minute, join_ms`

// Repair is what Reconcile did.
type Repair struct {
	Seconds, Minutes int   // cells corrected in space_second_counts, space_minute_counts
	Latency          int   // cells corrected in join_latency_minute_counts (migration 0007)
	Rows             int64 // sum of the corrections' absolute values
	Unsettled        int   // differences seen that did not hold still (inserts in flight): left alone
}

// Reconcile compares the rollup cells of [from, to] (to the second; the minute and join-latency
// rollups by whole minutes) with the events table and corrects those that differ; see the
// comment above. settle is the pause between the first two reads (at least a second; 2 s is the
// consumer's). Safe to run while inserts go on; two Reconcile calls over the same cells at the
// same moment can both correct a cell (the third read narrows that to the milliseconds between
// it and the write), so run it from one process at a time.
func Reconcile(ctx context.Context, conn driver.Conn, from, to time.Time, settle time.Duration) (Repair, error) {
	from, to, err := window(from, to, 0)
	if err != nil {
		return Repair{}, fmt.Errorf("reconcile: %w", err)
	}
	args := []any{clickhouse.DateNamed("from", from, clickhouse.Seconds), clickhouse.DateNamed("to", to, clickhouse.Seconds)}
	var rep Repair
	for _, r := range []struct {
		query, table, cols, value string
		n                         *int
	}{
		{withBusinessCodes(reconcileSecond), "space_second_counts", "space_id, second, class", "events", &rep.Seconds},
		{withBusinessCodes(reconcileMinute), "space_minute_counts", "space_id, minute, " + reconcileMinuteDims, "events", &rep.Minutes},
		{reconcileLatency, "join_latency_minute_counts", "space_id, minute, join_ms", "joins", &rep.Latency},
	} {
		var reads [3]map[string][]any
		for i := range reads {
			if i == 1 {
				select {
				case <-time.After(max(settle, time.Second)):
				case <-ctx.Done():
					return rep, ctx.Err()
				}
			}
			if reads[i], err = differences(ctx, conn, r.query, args); err != nil {
				return rep, fmt.Errorf("reconcile %s %s to %s: %w", r.table, from.Format(time.RFC3339), to.Format(time.RFC3339), err)
			}
		}
		var fix [][]any
		for k, row := range reads[2] {
			a, okA := reads[0][k]
			b, okB := reads[1][k]
			if !okA || !okB || fmt.Sprint(a) != fmt.Sprint(row) || fmt.Sprint(b) != fmt.Sprint(row) {
				rep.Unsettled++
				continue
			}
			fix = append(fix, row)
		}
		if len(fix) == 0 {
			continue
		}
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+r.table+" ("+r.cols+", "+r.value+")")
		if err != nil {
			return rep, fmt.Errorf("reconcile %s: %w", r.table, err)
		}
		for _, row := range fix {
			if err := batch.Append(row...); err != nil {
				_ = batch.Abort()
				return rep, fmt.Errorf("reconcile %s: %w", r.table, err)
			}
			d := row[len(row)-1].(int64)
			rep.Rows += max(d, -d)
		}
		if err := batch.Send(); err != nil {
			return rep, fmt.Errorf("reconcile %s: write %d corrections: %w", r.table, len(fix), err)
		}
		*r.n += len(fix)
	}
	return rep, nil
}

// differences runs a reconcile query: cell key (printed) to the row (key columns, then diff).
func differences(ctx context.Context, conn Querier, query string, args []any) (map[string][]any, error) {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]any{}
	for rows.Next() {
		vals := make([]any, len(rows.ColumnTypes()))
		for i, ct := range rows.ColumnTypes() {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, err
		}
		row := make([]any, len(vals))
		for i, v := range vals {
			row[i] = reflect.ValueOf(v).Elem().Interface()
		}
		out[fmt.Sprint(row[:len(row)-1])] = row
	}
	return out, rows.Err()
}

// withBusinessCodes fills in {business_codes} (BusinessCodesSQL), as Migrate does for the views.
func withBusinessCodes(q string) string {
	return strings.ReplaceAll(q, businessPlaceholder, BusinessCodesSQL())
}

// countsAgree compares, over [@from, @to], the events each rollup holds with the distinct events
// of the raw table it counts, in one read (a cheap test before Reconcile's three reads of every
// cell): the per-second rollup to the second, the minute and join-latency rollups by whole
// minutes, as Reconcile compares them.
const countsAgree = `SELECT
    (SELECT toInt64(uniqExact(event_id)) FROM events WHERE ts >= @from AND ts <= @to) AS raw_seconds,
    (SELECT toInt64(sum(events)) FROM space_second_counts WHERE second >= @from AND second <= @to) AS rolled_seconds,
    (SELECT toInt64(uniqExact(event_id)) FROM events
        WHERE ts >= toStartOfMinute(@from) AND ts < toStartOfMinute(@to) + 60) AS raw_minutes,
    (SELECT toInt64(sum(events)) FROM space_minute_counts
        WHERE minute >= toStartOfMinute(@from) AND minute <= @to) AS rolled_minutes,
    (SELECT toInt64(uniqExact(event_id)) FROM events
        WHERE ts >= toStartOfMinute(@from) AND ts < toStartOfMinute(@to) + 60 AND kind = 'join' AND join_ms >= 0) AS raw_latency,
    (SELECT toInt64(sum(joins)) FROM join_latency_minute_counts
        WHERE minute >= toStartOfMinute(@from) AND minute <= @to) AS rolled_latency`

// CountsAgree reports whether every rollup counts each distinct event of [from, to] exactly once
// (the per-second rollup to the second, the others by whole minutes). It returns the raw and
// rolled counts of the first rollup that disagrees, or of the per-second one when all agree. An
// insert in flight (its events visible, its view rows not yet) can make them differ for
// milliseconds; Reconcile tells those apart.
func CountsAgree(ctx context.Context, conn Querier, from, to time.Time) (raw, rolled int64, err error) {
	from, to, err = window(from, to, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("compare counts: %w", err)
	}
	var c [6]int64
	err = conn.QueryRow(ctx, countsAgree, clickhouse.DateNamed("from", from, clickhouse.Seconds),
		clickhouse.DateNamed("to", to, clickhouse.Seconds)).Scan(&c[0], &c[1], &c[2], &c[3], &c[4], &c[5])
	if err != nil {
		return 0, 0, fmt.Errorf("compare counts %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	for _, p := range [][2]int64{{c[0], c[1]}, {c[2], c[3]}, {c[4], c[5]}} {
		if p[0] != p[1] {
			return p[0], p[1], nil
		}
	}
	return c[0], c[1], nil
}

// otherMembers counts the consumer processes of a group, other than one, that reported a
// heartbeat in the last @within seconds and have not stopped.
const otherMembers = `SELECT toInt64(count()) FROM
(
    SELECT consumer, argMax(stopped, seq) AS st, max(beat_at) AS at
    FROM ingest_heartbeat
    WHERE consumer_group = @group AND topic = @topic AND consumer != @self
    GROUP BY consumer
)
WHERE st = 0 AND at >= now() - @within`

// OtherMembers returns how many other consumer processes of group on topic are alive by their
// heartbeats (ingest_heartbeat, migration 0006): reported within the last within and not
// stopped. Only two processes can land copies of one event; with none, there is nothing to sweep.
func OtherMembers(ctx context.Context, conn Querier, group, topic, self string, within time.Duration) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, otherMembers, clickhouse.Named("group", group), clickhouse.Named("topic", topic),
		clickhouse.Named("self", self), clickhouse.Named("within", int64(within/time.Second))).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count the other members of group %s: %w", group, err)
	}
	return n, nil
}
