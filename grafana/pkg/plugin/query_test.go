package plugin

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseQuery(t *testing.T) {
	f := func(js string, wantErr string) {
		t.Helper()
		_, err := ParseQuery([]byte(js), "")
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("%s: %v", js, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr) || !errors.Is(err, ErrInvalidQuery)):
			t.Errorf("%s: error %v, want one containing %q", js, err, wantErr)
		}
	}
	f(`{"queryType":"concurrency","rooms":["a"],"reduce":"last","live":true}`, "")
	f(`{"queryType":"joinFailureRate","rate":"perUser","groupBy":"room"}`, "")
	f(`{"queryType":"joinFailureRate","groupBy":"country","rooms":["a"],"completeBuckets":2}`, "")
	f(`{"queryType":"joinLatency","percentiles":["p95"],"groupBy":"client"}`, "")
	f(`{"queryType":"sql","rawSql":"SELECT 1","format":"timeseries"}`, "")
	f(`{"queryType":"nope"}`, "queryType")
	f(`{"queryType":"concurrency","groupBy":"client"}`, "cannot be grouped by")
	f(`{"queryType":"joinFailureRate","groupBy":"user_id"}`, "cannot be grouped by")
	f(`{"queryType":"joinLatency","groupBy":"code"}`, "cannot be grouped by")
	f(`{"queryType":"joinFailureRate","rate":"perUser","groupBy":"client"}`, "per-user")
	f(`{"queryType":"joinFailureRate","groupBy":"client","rooms":["a","b"]}`, "one room at a time")
	f(`{"queryType":"concurrency","rooms":[""]}`, "room")
	f(`{"queryType":"concurrency","reduce":"avg"}`, "reduce")
	f(`{"queryType":"activity","reduce":"peak"}`, "concurrency only")
	f(`{"queryType":"joinLatency","percentiles":["p42"]}`, "percentile")
	f(`{"queryType":"sql"}`, "rawSql is empty")
	f(`{"queryType":"concurrency","rawSql":"SELECT 1"}`, "sql only")
	f(`{"queryType":"concurrency","roomz":["a"]}`, "unknown field")
	f(`{"queryType":"activity","live":true}`, "concurrency only")
	f(`{"queryType":"concurrency","intervalSeconds":-1}`, "intervalSeconds")
}

func TestExpandMacros(t *testing.T) {
	from, to := time.Unix(1723507200, 0), time.Unix(1723510799, 0)
	f := func(in, want, wantErr string) {
		t.Helper()
		got, err := ExpandMacros(in, from, to, time.Minute)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%s: error %v, want %q", in, err, wantErr)
			}
			return
		}
		if err != nil || got != want {
			t.Errorf("%s:\n got %q %v\nwant %q", in, got, err, want)
		}
	}
	f("WHERE $__timeFilter(ts)", "WHERE (ts >= toDateTime(1723507200, 'UTC') AND ts <= toDateTime(1723510799, 'UTC'))", "")
	f("WHERE $__timeFilter( e.ts )", "WHERE (e.ts >= toDateTime(1723507200, 'UTC') AND e.ts <= toDateTime(1723510799, 'UTC'))", "")
	f("$__fromTime $__toTime", "toDateTime(1723507200, 'UTC') toDateTime(1723510799, 'UTC')", "")
	f("$__interval_s $__interval_ms $__interval", "60 60000 60", "")
	f("$__timeFilter(ts) OR 1=1 --)", "(ts >= toDateTime(1723507200, 'UTC') AND ts <= toDateTime(1723510799, 'UTC')) OR 1=1 --)", "")
	f("$__timeFilter(1=1 OR ts)", "", "want a column name")
	f("$__timeFilter(ts')", "", "want a column name")
	f("$__nope", "", "unknown macro")
}

func TestCompleteBuckets(t *testing.T) {
	f := func(from, to string, step time.Duration, n int, wantFrom, wantTo string) {
		t.Helper()
		r := request{Query: Query{CompleteBuckets: n}, from: mustTime(from), to: mustTime(to), step: step}
		r.completeBuckets(mustTime(to))
		if got := r.from.Format(time.TimeOnly) + "-" + r.to.Format(time.TimeOnly); got != wantFrom+"-"+wantTo {
			t.Errorf("%s..%s step %s n %d: got %s, want %s-%s", from, to, step, n, got, wantFrom, wantTo)
		}
	}
	f("12:00:30", "12:05:29", time.Minute, 2, "12:03:00", "12:04:59")
	f("12:00:30", "12:05:00", time.Minute, 2, "12:03:00", "12:04:59")
	f("12:00:30", "12:05:29", time.Minute, -1, "12:01:00", "12:04:59")
	f("12:00:00", "12:00:59", time.Minute, -1, "12:00:00", "11:59:59") // nothing complete: empty
}

func mustTime(hms string) time.Time {
	t, err := time.Parse(time.DateTime, "2024-08-13 "+hms)
	if err != nil {
		panic(err)
	}
	return t
}

func TestStreamPath(t *testing.T) {
	f := func(room string) {
		t.Helper()
		got, err := roomOfPath(streamPath(room))
		if err != nil || got != room {
			t.Errorf("%q: round trip %q %v", room, got, err)
		}
	}
	f("room-a")
	f("live room/ü")
	f("x' OR 1=1 --")
	for _, bad := range []string{"", "concurrency/", "concurrency/!!", "other/cm9vbQ"} {
		if _, err := roomOfPath(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}
