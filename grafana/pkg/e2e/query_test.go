package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// loaded is a database with the scenario and a plugin process to ask.
type loaded struct {
	m    model
	c    *client
	in   instance
	conn driver.Conn
}

func load(t *testing.T) loaded {
	t.Helper()
	conn, _, in := newDB(t)
	evs := scenario()
	// In two blocks, as the consumer lands them (each event once; keeping copies out is the
	// consumer's job): the rollups hold several rows per cell.
	insert(t, conn, evs[:len(evs)/3])
	insert(t, conn, evs[len(evs)/3:])
	return loaded{m: model{evs: evs}, c: launch(t), in: in, conn: conn}
}

// series returns the time column and the named value column of f.
func series[T any](t *testing.T, f *data.Frame, name string) ([]time.Time, []T) {
	t.Helper()
	var ts []time.Time
	var vs []T
	for _, fld := range f.Fields {
		switch fld.Name {
		case "time":
			for i := range fld.Len() {
				ts = append(ts, fld.At(i).(time.Time).UTC())
			}
		case name:
			for i := range fld.Len() {
				vs = append(vs, fld.At(i).(T))
			}
		}
	}
	if len(ts) != len(vs) {
		t.Fatalf("frame %s: %d times, %d %s", f.Name, len(ts), len(vs), name)
	}
	return ts, vs
}

func label(f *data.Frame, key string) string {
	for _, fld := range f.Fields {
		if v, ok := fld.Labels[key]; ok {
			return v
		}
	}
	return ""
}

func same(t *testing.T, name string, got, want any) {
	t.Helper()
	if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
		t.Errorf("%s:\n got %.800s\nwant %.800s", name, g, w)
	}
}

func fmtRate(r *float64) string {
	if r == nil {
		return "null"
	}
	return fmt.Sprintf("%.9f", *r)
}

func TestQueriesMatchBruteForce(t *testing.T) {
	l := load(t)
	from, to := t0.Add(-30*time.Second), t0.Add(11*time.Minute+47*time.Second)

	t.Run("concurrency", func(t *testing.T) {
		for _, room := range []string{"room-a", "room-b"} {
			for _, step := range []time.Duration{time.Second, 7 * time.Second, time.Minute} {
				for _, reduce := range []string{"peak", "last"} {
					frames := l.c.one(t, l.in, query{from: from, to: to, interval: step,
						model: map[string]any{"queryType": "concurrency", "rooms": []string{room}, "reduce": reduce}})
					gotT, gotV := series[int64](t, frames[0], "listeners")
					wantT, wantV := l.m.concurrency(room, from, to, step, reduce == "last")
					name := fmt.Sprintf("%s step %s %s", room, step, reduce)
					same(t, name+" times", gotT, wantT)
					same(t, name+" values", gotV, wantV)
				}
			}
		}
		// No rooms: every room with events, one frame each, labelled.
		frames := l.c.one(t, l.in, query{from: from, to: to, interval: time.Minute, model: map[string]any{"queryType": "concurrency"}})
		var rooms []string
		for _, f := range frames {
			rooms = append(rooms, label(f, "room"))
		}
		same(t, "rooms of an all-rooms query", rooms, []string{"room-a", "room-b"})
	})

	t.Run("joinFailureRate", func(t *testing.T) {
		for _, step := range []time.Duration{time.Minute, 2 * time.Minute} {
			for _, rate := range []string{"perAttempt", "perUser"} {
				frames := l.c.one(t, l.in, query{from: t0, to: t0.Add(12*time.Minute - time.Second), interval: step,
					model: map[string]any{"queryType": "joinFailureRate", "rooms": []string{"room-a"}, "rate": rate, "includeCounts": true}})
				gotT, gotR := series[*float64](t, frames[0], "rate")
				_, gotA := series[int64](t, frames[0], "attempts")
				want := l.m.buckets("room-a", t0, t0.Add(12*time.Minute-time.Second), step, "")
				var got, wantS []string
				for i, tm := range gotT {
					got = append(got, fmt.Sprint(tm.Unix(), gotA[i], fmtRate(gotR[i])))
					b := want[fmt.Sprint(tm.Unix(), "/")]
					var r *float64
					if b.attempts >= 25 {
						v := float64(b.technical) / float64(b.attempts)
						if rate == "perUser" {
							v = float64(b.usersFailed) / float64(b.users)
						}
						r = &v
					}
					wantS = append(wantS, fmt.Sprint(tm.Unix(), b.attempts, fmtRate(r)))
				}
				same(t, fmt.Sprintf("%s step %s", rate, step), got, wantS)
				if len(gotT) != len(want) {
					t.Errorf("%s step %s: %d buckets, want %d", rate, step, len(gotT), len(want))
				}
			}
		}
		for _, dim := range []string{"client", "country", "code"} {
			frames := l.c.one(t, l.in, query{from: t0, to: t0.Add(12*time.Minute - time.Second), interval: time.Minute,
				model: map[string]any{"queryType": "joinFailureRate", "rooms": []string{"room-a"}, "groupBy": dim, "includeCounts": true}})
			want := l.m.buckets("room-a", t0, t0.Add(12*time.Minute-time.Second), time.Minute, dim)
			got := map[string]string{}
			for _, f := range frames {
				ts, rs := series[*float64](t, f, "rate")
				_, as := series[int64](t, f, "attempts")
				for i := range ts {
					got[fmt.Sprint(ts[i].Unix(), "/", label(f, dim))] = fmt.Sprint(as[i], fmtRate(rs[i]))
				}
			}
			wantS := map[string]string{}
			for k, b := range want {
				var r *float64
				if b.attempts >= 25 {
					v := float64(b.technical) / float64(b.attempts)
					r = &v
				}
				wantS[k] = fmt.Sprint(b.attempts, fmtRate(r))
			}
			same(t, "failure rate by "+dim, got, wantS)
		}
	})

	t.Run("errorsByCode", func(t *testing.T) {
		for _, technicalOnly := range []bool{false, true} {
			frames := l.c.one(t, l.in, query{from: t0, to: t0.Add(12*time.Minute - time.Second), interval: time.Minute,
				model: map[string]any{"queryType": "errorsByCode", "rooms": []string{"room-a"}, "technicalOnly": technicalOnly}})
			got := map[string]int64{}
			for _, f := range frames {
				ts, ns := series[int64](t, f, "errors")
				for i := range ts {
					got[fmt.Sprint(ts[i].Unix(), "/", label(f, "code"), "/", label(f, "technical"))] = ns[i]
				}
			}
			want := map[string]int64{}
			for _, e := range l.m.evs {
				if e.space == "room-a" && e.kind == "error" && e.phase == "join" && !(technicalOnly && business(e.code)) {
					want[fmt.Sprint(e.ts.Truncate(time.Minute).Unix(), "/", e.code, "/", !business(e.code))]++
				}
			}
			same(t, fmt.Sprintf("errors by code, technical only %v", technicalOnly), got, want)
		}
	})

	t.Run("joinLatency", func(t *testing.T) {
		frames := l.c.one(t, l.in, query{from: from, to: to, interval: 2 * time.Minute,
			model: map[string]any{"queryType": "joinLatency", "rooms": []string{"room-a"}}})
		got := map[int64][3]float64{}
		ts, p50 := series[float64](t, frames[0], "p50")
		_, p95 := series[float64](t, frames[0], "p95")
		_, p99 := series[float64](t, frames[0], "p99")
		for i := range ts {
			got[ts[i].Unix()] = [3]float64{p50[i], p95[i], p99[i]}
		}
		same(t, "join latency", got, l.m.latency("room-a", from, to, 2*time.Minute))
	})

	t.Run("activity", func(t *testing.T) {
		frames := l.c.one(t, l.in, query{from: from, to: to, interval: time.Minute,
			model: map[string]any{"queryType": "activity", "rooms": []string{"room-b"}}})
		ts, joins := series[int64](t, frames[0], "joins")
		_, leaves := series[int64](t, frames[0], "leaves")
		got := map[int64][2]int64{}
		for i := range ts {
			got[ts[i].Unix()] = [2]int64{joins[i], leaves[i]}
		}
		want := map[int64][2]int64{}
		for _, e := range l.m.evs {
			if e.space == "room-b" && !e.ts.Before(from) && !e.ts.After(to) {
				c := want[e.ts.Truncate(time.Minute).Unix()]
				if e.kind == "join" {
					c[0]++
				} else if e.kind == "leave" {
					c[1]++
				}
				want[e.ts.Truncate(time.Minute).Unix()] = c
			}
		}
		same(t, "activity of room-b", got, want)
	})

	t.Run("spaces", func(t *testing.T) {
		frames := l.c.one(t, l.in, query{from: from, to: to, interval: time.Minute, model: map[string]any{"queryType": "spaces"}})
		f := frames[0]
		rooms, _ := f.FieldByName("room")
		peaks, _ := f.FieldByName("peak_listeners")
		joins, _ := f.FieldByName("joins")
		for i := range rooms.Len() {
			room := rooms.At(i).(string)
			_, curve := l.m.concurrency(room, from, to, time.Second, false)
			var j int64
			for _, e := range l.m.evs {
				if e.space == room && e.kind == "join" && !e.ts.Before(from) && !e.ts.After(to) {
					j++
				}
			}
			same(t, room+" peak and joins", []int64{peaks.At(i).(int64), joins.At(i).(int64)}, []int64{slices.Max(curve), j})
		}
		if rooms.Len() != 2 {
			t.Errorf("spaces: %d rooms, want 2", rooms.Len())
		}
	})

	t.Run("sql", func(t *testing.T) {
		frames := l.c.one(t, l.in, query{from: t0, to: t0.Add(5*time.Minute - time.Second), interval: time.Minute,
			model: map[string]any{"queryType": "sql", "rawSql": "SELECT toDateTime(intDiv(toUInt32(ts), $__interval_s) * $__interval_s, 'UTC') AS time, " +
				"toInt64(uniqExact(event_id)) AS events FROM events WHERE space_id = 'room-a' AND $__timeFilter(ts) GROUP BY time ORDER BY time"}})
		ts, ns := series[int64](t, frames[0], "events")
		got := map[int64]int64{}
		for i := range ts {
			got[ts[i].Unix()] = ns[i]
		}
		want := map[int64]int64{}
		for _, e := range l.m.evs {
			if e.space == "room-a" && !e.ts.Before(t0) && e.ts.Before(t0.Add(5*time.Minute)) {
				want[e.ts.Truncate(time.Minute).Unix()]++
			}
		}
		same(t, "raw sql events per minute", got, want)
	})

	t.Run("resources", func(t *testing.T) {
		span := fmt.Sprintf("from=%d&to=%d", from.UnixMilli(), to.UnixMilli())
		status, body := l.c.resource(t, l.in, "rooms?"+span)
		var rooms []map[string]any
		if err := json.Unmarshal(body, &rooms); err != nil || status != 200 {
			t.Fatalf("rooms: %d %s", status, body)
		}
		same(t, "rooms", []any{rooms[0]["room"], rooms[1]["room"]}, []any{"room-a", "room-b"})
		status, body = l.c.resource(t, l.in, "values?dimension=client&room=room-a&"+span)
		var values []string
		if err := json.Unmarshal(body, &values); err != nil || status != 200 {
			t.Fatalf("values: %d %s", status, body)
		}
		slices.Sort(values)
		same(t, "client values", values, []string{"android", "ios", "web"})
		status, body = l.c.resource(t, l.in, "rooms?limit=1&"+span)
		if err := json.Unmarshal(body, &rooms); err != nil || status != 200 || len(rooms) != 1 {
			t.Errorf("rooms limit 1: %d %s", status, body)
		}
	})

	t.Run("one failing query fails alone", func(t *testing.T) {
		resp := l.c.queryData(t, l.in, nil,
			query{refID: "ok", from: from, to: to, interval: time.Minute, model: map[string]any{"queryType": "concurrency", "rooms": []string{"room-a"}}},
			query{refID: "bad", from: from, to: to, interval: time.Minute, model: map[string]any{"queryType": "concurrency", "groupBy": "user_id"}},
			query{refID: "sqlerr", from: from, to: to, interval: time.Minute, model: map[string]any{"queryType": "sql", "rawSql": "SELEC nonsense"}})
		if r := resp.Responses["ok"]; r.Error != nil || len(r.Frames) != 1 {
			t.Errorf("ok: %v", r.Error)
		}
		for _, ref := range []string{"bad", "sqlerr"} {
			r := resp.Responses[ref]
			if r.Error == nil || r.ErrorSource != "downstream" {
				t.Errorf("%s: error %v source %q, want a downstream error", ref, r.Error, r.ErrorSource)
			}
		}
		if !strings.Contains(resp.Responses["bad"].Error.Error(), "cannot be grouped by") {
			t.Errorf("bad: %v", resp.Responses["bad"].Error)
		}
	})
}
