package e2e

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// benchEvents is how many events BenchmarkQueryDataConcurrency3h loads: SPACEPULSE_BENCH_EVENTS,
// default 1,000,000 (the target is 10,000,000: `make -C grafana bench` sets it).
func benchEvents(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("SPACEPULSE_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("SPACEPULSE_BENCH_EVENTS=%q: want a count >= 1000", v)
		}
	}
	return n
}

// loadBench inserts n events of one room over 3 hours from t0 (sessions joining all along, about
// half leaving later, 5 % join errors), columnar, in batches of 1M.
func loadBench(b *testing.B, conn driver.Conn, n int) {
	const span = 3 * 3600
	const chunk = 1_000_000
	var seed uint64 = 1
	rnd := func() uint64 { seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17; return seed }
	start := time.Now()
	for done := 0; done < n; done += chunk {
		m := min(chunk, n-done)
		var (
			ids, sessions          = make([]uuid.UUID, 0, m), make([]uuid.UUID, 0, m)
			kinds, spaces, users   = make([]string, 0, m), make([]string, 0, m), make([]string, 0, m)
			roles, clientsC, vers  = make([]string, 0, m), make([]string, 0, m), make([]string, 0, m)
			regionsC, countriesC   = make([]string, 0, m), make([]string, 0, m)
			reasons, phases, codes = make([]string, 0, m), make([]string, 0, m), make([]string, 0, m)
			ts                     = make([]time.Time, 0, m)
			tsMs, joinMs, offsets  = make([]int64, 0, m), make([]int64, 0, m), make([]int64, 0, m)
			attempts, statuses     = make([]uint16, 0, m), make([]uint16, 0, m)
			partitions             = make([]int32, 0, m)
		)
		add := func(kind string, at int64, session uuid.UUID, user string, reason, phase, code string, jms int64) {
			ids, sessions = append(ids, uuid.New()), append(sessions, session)
			kinds, spaces, users = append(kinds, kind), append(spaces, "bench-room"), append(users, user)
			roles, clientsC, vers = append(roles, "listener"), append(clientsC, clients[at%3]), append(vers, "1.0")
			regionsC, countriesC = append(regionsC, regions[at%2]), append(countriesC, countries[at%4])
			reasons, phases, codes = append(reasons, reason), append(phases, phase), append(codes, code)
			t := t0.Add(time.Duration(at) * time.Millisecond)
			ts, tsMs, joinMs = append(ts, t.Truncate(time.Second)), append(tsMs, t.UnixMilli()), append(joinMs, jms)
			offsets, attempts, statuses, partitions = append(offsets, int64(len(offsets))), append(attempts, 1), append(statuses, 0), append(partitions, 0)
		}
		for len(ids) < m {
			at := int64(rnd() % (span * 1000))
			session := uuid.New()
			user := "u" + strconv.FormatUint(rnd()%2_000_000, 10)
			if rnd()%20 == 0 {
				add("error", at, session, user, "", "join", technicalCodes[rnd()%5], -1)
				continue
			}
			add("join", at, session, user, "", "", "", int64(rnd()%2000))
			if len(ids) < m && rnd()%2 == 0 {
				add("leave", min(at+int64(rnd()%(1800*1000)), span*1000-1), session, user, "user", "", "", -1)
			}
		}
		batch, err := conn.PrepareBatch(b.Context(), warehouse.InsertEvents)
		if err != nil {
			b.Fatal(err)
		}
		cols := []any{ids, kinds, ts, tsMs, spaces, sessions, users, roles, clientsC, vers, regionsC, countriesC,
			joinMs, attempts, reasons, phases, codes, statuses, partitions, offsets}
		for i, col := range cols {
			if err := batch.Column(i).Append(col); err != nil {
				b.Fatalf("column %d: %v", i, err)
			}
		}
		if err := batch.Send(); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("inserted %d events in %s", n, time.Since(start).Round(time.Millisecond))
}

// BenchmarkQueryDataConcurrency3h times QueryData through the plugin binary over gRPC for a
// 3-hour concurrency curve at 1-second buckets (10,800 points) of one room, against a real
// ClickHouse holding SPACEPULSE_BENCH_EVENTS events, and reports the p95 latency (p95-ms).
func BenchmarkQueryDataConcurrency3h(b *testing.B) {
	conn, _, in := newDB(b)
	n := benchEvents(b)
	loadBench(b, conn, n)
	c := launch(b)
	q := query{refID: "A", from: t0, to: t0.Add(3*time.Hour - time.Second), interval: time.Second,
		model: map[string]any{"queryType": "concurrency", "rooms": []string{"bench-room"}, "intervalSeconds": 1}}
	// Warm up (connection, first parts read) and check the shape.
	if r := c.queryData(b, in, nil, q).Responses["A"]; r.Error != nil || r.Frames[0].Rows() != 3*3600 {
		b.Fatalf("warm-up: %v", r.Error)
	}
	if os.Getenv("SPACEPULSE_BENCH_DIRECT") != "" {
		for _, name := range []string{"bounds", "concurrency", "buckets"} {
			var d []time.Duration
			for range 20 {
				start := time.Now()
				var err error
				switch name {
				case "bounds":
					_, _, err = warehouse.Bounds(b.Context(), conn, "bench-room")
				case "concurrency":
					_, err = warehouse.Concurrency(b.Context(), conn, "bench-room", q.from, q.to)
				case "buckets":
					_, err = warehouse.ConcurrencyBuckets(b.Context(), conn, "bench-room", q.from, q.to, time.Second)
				}
				if err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(start))
			}
			slices.Sort(d)
			b.Logf("direct %s: p50 %s p95 %s", name, d[10], d[19])
		}
	}
	// cold: every iteration asks for a window one second later, so the plugin's curve cache
	// never hits and ClickHouse computes the curve; warm: the same window again, as a dashboard
	// refresh over a settled range does (served from the cache after a fingerprint check); live:
	// before each query a second of a busy room arrives (2,500 events in the window's last
	// minute, 1 % of them up to 10 minutes late): the refresh of a live dashboard.
	for _, mode := range []string{"cold", "warm", "live"} {
		b.Run(mode, func(b *testing.B) {
			var took []time.Duration
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				q := q
				i++
				switch mode {
				case "cold":
					q.from, q.to = q.from.Add(time.Duration(i)*time.Second), q.to.Add(time.Duration(i)*time.Second)
				case "live":
					b.StopTimer()
					arrive(b, conn, q.to.Add(-time.Minute+time.Duration(i%60)*time.Second), 2500, i)
					b.StartTimer()
				}
				start := time.Now()
				r := c.queryData(b, in, nil, q).Responses["A"]
				took = append(took, time.Since(start))
				if r.Error != nil {
					b.Fatal(r.Error)
				}
			}
			reportLatency(b, mode, took, n)
		})
	}
}

// reportLatency reports the p95 of took (p95-ms) and logs p50, p95 and max.
func reportLatency(b *testing.B, what string, took []time.Duration, events int) {
	slices.Sort(took)
	p95 := took[min(len(took)-1, len(took)*95/100)]
	b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(events), "events")
	b.Logf("%s: %d runs over %d events: p50 %s p95 %s max %s", what, len(took), events,
		took[len(took)/2].Round(time.Microsecond), p95.Round(time.Microsecond), took[len(took)-1].Round(time.Microsecond))
}

// BenchmarkQueryDataPanels3h times QueryData for the other panels of "Space live" over the same
// 3 hours of SPACEPULSE_BENCH_EVENTS events: the ones on the per-second and per-minute
// rollups, and the ones that read the raw events table (per-user failure rate, join latency, the
// rooms table's summary). `make -C grafana bench-panels`.
//
// Every panel runs twice: cold, the same query again and again over settled rows (the two panels
// of per-minute distinct users, failure-per-user and page-retries, which go through the plugin's
// per-user cache, each time through a new datasource instance: an empty cache, its connection made
// before the clock starts), and live, one instance refreshed after a warm-up query while, before
// each query, a second of a busy room arrives (as BenchmarkQueryDataConcurrency3h's live mode:
// 2,500 events in the window's last minute, 1 % of them up to 10 minutes late).
func BenchmarkQueryDataPanels3h(b *testing.B) {
	conn, cfg, in := newDB(b)
	n := benchEvents(b)
	loadBench(b, conn, n)
	c := launch(b)
	room := []string{"bench-room"}
	panels := []struct {
		name     string
		interval time.Duration
		model    map[string]any
		cached   bool // through the per-user cache: cold is a new datasource each time
	}{
		{"activity", 10 * time.Second, map[string]any{"queryType": "activity", "rooms": room}, false},
		{"failure-per-attempt", time.Minute, map[string]any{"queryType": "joinFailureRate", "rooms": room, "rate": "perAttempt", "intervalSeconds": 60}, false},
		{"failure-by-client", time.Minute, map[string]any{"queryType": "joinFailureRate", "rooms": room, "groupBy": "client", "intervalSeconds": 60}, false},
		{"errors-by-code", time.Minute, map[string]any{"queryType": "errorsByCode", "rooms": room}, false},
		{"failure-per-user", time.Minute, map[string]any{"queryType": "joinFailureRate", "rooms": room, "rate": "perUser", "intervalSeconds": 60}, true},
		{"join-latency", 10 * time.Second, map[string]any{"queryType": "joinLatency", "rooms": room, "percentiles": []string{"p50", "p95", "p99"}}, false},
		{"spaces", time.Minute, map[string]any{"queryType": "spaces", "rooms": room}, false},
		{"page-join-failures", time.Minute, map[string]any{"queryType": "alertState", "rooms": room}, false},
		{"page-retries", time.Minute, map[string]any{"queryType": "alertState", "rooms": room, "rule": "retryAmplification"}, true},
		{"page-crash", time.Minute, map[string]any{"queryType": "alertState", "rooms": room, "rule": "cclDrop"}, false},
	}
	for _, p := range panels {
		q := query{refID: "A", from: t0, to: t0.Add(3*time.Hour - time.Second), interval: p.interval, model: p.model}
		var computed []string // per query of a cached panel: buckets computed of buckets
		ask := func(b *testing.B, in instance) time.Duration {
			start := time.Now()
			r := c.queryData(b, in, nil, q).Responses["A"]
			took := time.Since(start)
			if r.Error != nil || len(r.Frames) == 0 || r.Frames[0].Rows() == 0 {
				b.Fatalf("%s: %v (%d frames)", p.name, r.Error, len(r.Frames))
			}
			if m := r.Frames[0].Meta; p.cached && m != nil {
				var n, of float64
				for _, st := range m.Stats {
					switch st.DisplayName {
					case "buckets computed":
						n = st.Value
					case "buckets":
						of = st.Value
					}
				}
				computed = append(computed, fmt.Sprintf("%.0f/%.0f", n, of))
			}
			return took
		}
		if !p.cached {
			b.Run(p.name, func(b *testing.B) {
				var took []time.Duration
				for b.Loop() {
					took = append(took, ask(b, in))
				}
				reportLatency(b, p.name, took, n)
			})
		} else {
			b.Run(p.name+"/cold", func(b *testing.B) {
				var took []time.Duration
				for b.Loop() {
					b.StopTimer()
					fresh := newInstance(cfg, cfg.Password, nil) // a datasource of its own: an empty cache
					if h := c.checkHealth(b, fresh); h.Status != backend.HealthStatusOk {
						b.Fatalf("health: %s", h.Message)
					}
					b.StartTimer()
					took = append(took, ask(b, fresh))
				}
				reportLatency(b, p.name+" cold", took, n)
				b.Logf("%s cold: buckets computed per query %v", p.name, computed)
				computed = nil
			})
		}
		// live, every panel: before each refresh a second of a busy room arrives (2,500 events,
		// 1 % up to 10 minutes late), as on a dashboard open during the night.
		b.Run(p.name+"/live", func(b *testing.B) {
			live := newInstance(cfg, cfg.Password, nil)
			ask(b, live) // the dashboard has been open: a cache is warm
			computed = nil
			var took []time.Duration
			i := 0
			for b.Loop() {
				i++
				b.StopTimer()
				arrive(b, conn, q.to.Add(-time.Minute+time.Duration(i%60)*time.Second), 2500, i)
				b.StartTimer()
				took = append(took, ask(b, live))
			}
			reportLatency(b, p.name+" live", took, n)
			if p.cached {
				b.Logf("%s live: buckets computed per refresh %v", p.name, computed)
			}
		})
	}
}

// arrive inserts n joins of bench-room at second at, 1 % of them instead up to 10 minutes
// earlier (late deliveries), as one consumer batch.
func arrive(b *testing.B, conn driver.Conn, at time.Time, n, seed int) {
	evs := make([]event, n)
	for j := range evs {
		ts := at
		if j%100 == 0 {
			ts = at.Add(-time.Duration((seed*7919+j)%600) * time.Second)
		}
		evs[j] = event{id: uuid.New(), kind: "join", ts: ts, space: "bench-room", session: uuid.New(),
			user: "live" + strconv.Itoa(j), client: "ios", region: "us-east-1", country: "US", joinMs: 100}
	}
	insert(b, conn, evs)
}
