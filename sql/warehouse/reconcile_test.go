package warehouse_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// TestReconcileRepairsShortRollups makes the rollups short (and one cell long), as a server
// killed between an insert's events part and its view parts leaves them, and checks that
// Reconcile finds exactly those cells and brings every figure back to the brute-force one; a
// second pass finds nothing.
func TestReconcileRepairsShortRollups(t *testing.T) {
	m, conn := loadScenario(t)
	ctx := testContext(t)
	const space = "1YqJDqWLyEMGV"
	// Lose some cells' rows from both rollups, and count one cell twice.
	for _, q := range []string{
		`INSERT INTO space_second_counts (space_id, second, class, events)
		 SELECT space_id, second, class, -toInt64(sum(events)) FROM space_second_counts
		 WHERE space_id = '1YqJDqWLyEMGV' AND toUInt32(second) % 7 = 0 GROUP BY space_id, second, class`,
		`INSERT INTO space_second_counts (space_id, second, class, events)
		 SELECT space_id, second, class, toInt64(1) FROM space_second_counts
		 WHERE space_id = 'other-space' GROUP BY space_id, second, class LIMIT 1`,
		`INSERT INTO space_minute_counts (space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country, events)
		 SELECT space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country, -toInt64(sum(events))
		 FROM space_minute_counts WHERE space_id = '1YqJDqWLyEMGV' AND toMinute(minute) % 3 = 0
		 GROUP BY space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country`,
		`INSERT INTO join_latency_minute_counts (space_id, minute, join_ms, joins)
		 SELECT space_id, minute, join_ms, -toInt64(sum(joins)) FROM join_latency_minute_counts
		 WHERE space_id = '1YqJDqWLyEMGV' AND toMinute(minute) % 4 = 1 GROUP BY space_id, minute, join_ms`,
	} {
		if err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	from, to := t0.Add(-time.Hour), t0.Add(time.Hour)
	want := m.concurrency(space, from.Unix(), to.Unix())
	if got, err := warehouse.Concurrency(ctx, conn, space, from, to); err != nil || reflect.DeepEqual(got, want) {
		t.Fatalf("the damage did not change the curve (%v): the test proves nothing", err)
	}
	rep, err := warehouse.Reconcile(ctx, conn, from, to, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Seconds == 0 || rep.Minutes == 0 || rep.Latency == 0 || rep.Unsettled != 0 {
		t.Fatalf("Reconcile = %+v, want second, minute and latency cells corrected, nothing unsettled", rep)
	}
	lat, err := warehouse.JoinLatency(ctx, conn, space, from, to, time.Minute, "")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := latencyOf(lat), m.latency(space, from.Unix(), to.Unix(), 60, ""); !reflect.DeepEqual(g, w) {
		t.Fatalf("join latency after Reconcile differs from brute force:\n got %.400v\nwant %.400v", g, w)
	}
	if got, err := warehouse.Concurrency(ctx, conn, space, from, to); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("curve after Reconcile differs from brute force (%v)", err)
	}
	sum, err := warehouse.Summary(ctx, conn, "other-space", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := summaryString(sum), summaryString(m.summary("other-space", from.Unix(), to.Unix())); g != w {
		t.Fatalf("summary after Reconcile\n got %s\nwant %s", g, w)
	}
	for _, dim := range warehouse.Dimensions {
		rows, err := warehouse.FailuresBy(ctx, conn, space, from, to, dim)
		if err != nil {
			t.Fatal(err)
		}
		w := m.breakdown(space, from.Unix(), to.Unix(), dim)
		for _, r := range rows {
			if !sameBreakdown(r, w[r.Value]) {
				t.Fatalf("FailuresBy(%s)[%q] after Reconcile = %+v, want %+v", dim, r.Value, r, w[r.Value])
			}
		}
	}
	if again, err := warehouse.Reconcile(ctx, conn, from, to, time.Second); err != nil || again != (warehouse.Repair{}) {
		t.Fatalf("second Reconcile = %+v, %v; want nothing to do", again, err)
	}
	// A window that starts and ends inside minutes (a retried block's event-time range): the
	// minute rollups are compared by whole minutes, so healthy cells stay as they are.
	var first time.Time
	if err := conn.QueryRow(ctx, `SELECT min(ts) FROM events WHERE space_id = '1YqJDqWLyEMGV'`).Scan(&first); err != nil {
		t.Fatal(err)
	}
	mid := first.Truncate(time.Minute).Add(30 * time.Second)
	if again, err := warehouse.Reconcile(ctx, conn, mid, mid.Add(2*time.Minute), time.Second); err != nil || again != (warehouse.Repair{}) {
		t.Fatalf("Reconcile %s..%s = %+v, %v; want nothing to do", mid, mid.Add(2*time.Minute), again, err)
	}
}

// TestCountsAgreeSeesEveryRollup damages one minute of each rollup in turn and checks that
// CountsAgree over that minute sees it (the copy sweep reconciles only where it disagrees), and
// that it agrees again after Reconcile.
func TestCountsAgreeSeesEveryRollup(t *testing.T) {
	_, conn := loadScenario(t)
	ctx := testContext(t)
	var minute time.Time
	if err := conn.QueryRow(ctx, `SELECT toStartOfMinute(min(ts)) + 60 FROM events WHERE space_id = '1YqJDqWLyEMGV'`).Scan(&minute); err != nil {
		t.Fatal(err)
	}
	from, to := minute, minute.Add(59*time.Second)
	for table, damage := range map[string]string{
		"space_second_counts": `INSERT INTO space_second_counts (space_id, second, class, events)
			SELECT space_id, second, class, toInt64(1) FROM space_second_counts WHERE second >= @m LIMIT 1`,
		"space_minute_counts": `INSERT INTO space_minute_counts (space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country, events)
			SELECT space_id, minute, kind, phase, technical, code, reason, client, app_version, region, country, toInt64(-1)
			FROM space_minute_counts WHERE minute = @m LIMIT 1`,
		"join_latency_minute_counts": `INSERT INTO join_latency_minute_counts (space_id, minute, join_ms, joins)
			SELECT space_id, minute, join_ms, toInt64(-1) FROM join_latency_minute_counts WHERE minute = @m LIMIT 1`,
	} {
		if raw, rolled, err := warehouse.CountsAgree(ctx, conn, from, to); err != nil || raw != rolled {
			t.Fatalf("before damaging %s: CountsAgree = %d, %d, %v; want equal", table, raw, rolled, err)
		}
		if err := conn.Exec(ctx, damage, clickhouse.DateNamed("m", minute, clickhouse.Seconds)); err != nil {
			t.Fatal(err)
		}
		if raw, rolled, err := warehouse.CountsAgree(ctx, conn, from, to); err != nil || raw == rolled {
			t.Fatalf("%s damaged: CountsAgree = %d, %d, %v; want a difference", table, raw, rolled, err)
		}
		if rep, err := warehouse.Reconcile(ctx, conn, from, to, time.Second); err != nil || rep.Rows != 1 {
			t.Fatalf("%s damaged: Reconcile = %+v, %v; want one row corrected", table, rep, err)
		}
	}
	if raw, rolled, err := warehouse.CountsAgree(ctx, conn, from, to); err != nil || raw != rolled {
		t.Fatalf("after the repairs: CountsAgree = %d, %d, %v; want equal", raw, rolled, err)
	}
}
