package plugin

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// userCacheWeight bounds the per-user cache of a datasource (userCache): a bucket weighs 1 (about
// 150 bytes: key, figures, list element and map entry) and a snapshot of parts its stamps keep 1
// per part (about 70 bytes), so at most about 30 MB. That is 69 days of one room's minutes at
// most, or 3 hours of 1,000 rooms.
const userCacheWeight = 200_000

// maxUserRuns bounds the queries one series of per-user figures costs: the buckets to compute
// come in runs of consecutive buckets, and the runs nearest each other are joined (their buckets
// between recomputed) until at most this many are left.
const maxUserRuns = 4

// userStats says how a series of per-user figures was made.
type userStats struct {
	buckets  int    // buckets in the window
	computed int    // of which computed from events
	why      string // why none came from the cache; "" when it was used
}

// meta is the frame statistics that show it (Grafana's query inspector; the e2e tests read them).
func (s userStats) meta() []data.QueryStat {
	stat := func(name string, v int) data.QueryStat {
		return data.QueryStat{FieldConfig: data.FieldConfig{DisplayName: name}, Value: float64(v)}
	}
	return []data.QueryStat{stat(StatBuckets, s.buckets), stat(StatBucketsComputed, s.computed)}
}

// Names of the frame statistics of a per-user series: its buckets, and how many of them were
// computed from events (the others came from the plugin's cache).
const (
	StatBuckets         = "buckets"
	StatBucketsComputed = "buckets computed"
)

// userFailureRate is warehouse.UserFailureRate through the per-user cache (cachedUsers).
func (d *Datasource) userFailureRate(ctx context.Context, conn driver.Conn, room string, from, to time.Time, step time.Duration) (warehouse.RateSeries, userStats, error) {
	s, stats, ok, err := d.cachedUsers(ctx, conn, room, from, to, step, true)
	if err != nil || ok {
		return s, stats, err
	}
	s, err = warehouse.UserFailureRate(ctx, conn, room, from, to, step)
	stats.computed = stats.buckets
	return s, stats, err
}

// cachedUsers returns user_failure_rate.sql's figures of room per bucket of step over [from, to]
// as UserFailureRate does (full) or UserAttempts does (!full): each whole bucket whose rows are
// unchanged since it was cached comes from d.users, the others are computed from events (one
// query per run of consecutive buckets, at most maxUserRuns) and the whole ones cached. The
// window's first and last buckets, when the window cuts them, are computed each time. ok is false,
// with nothing read but the parts, when the cache cannot serve the query (stats.why says why):
// buckets that are not whole minutes, more buckets than a quarter of the cache, or events whose
// parts cannot be read or say nothing (warehouse.EventsVersion.Versioned); the caller computes
// it all then.
func (d *Datasource) cachedUsers(ctx context.Context, conn driver.Conn, room string, from, to time.Time, step time.Duration, full bool) (warehouse.RateSeries, userStats, bool, error) {
	var stats userStats
	st := int64(step / time.Second)
	f, t := from.Unix(), to.Unix()
	if st <= 0 || f < 0 || t < f {
		return warehouse.RateSeries{}, stats, false, nil // the warehouse says what is wrong
	}
	first := f / st * st
	n := int((t-first)/st + 1)
	stats.buckets = n
	switch {
	case step%time.Minute != 0:
		stats.why = fmt.Sprintf("buckets of %s are not whole minutes", step)
	case n > d.users.max/4:
		stats.why = fmt.Sprintf("%d buckets: more than a quarter of the cache (%d)", n, d.users.max)
	}
	if stats.why != "" {
		return warehouse.RateSeries{}, stats, false, nil
	}
	// The snapshot is read before any figure: a figure computed after it can only be newer
	// (an insert it counts shows at the next snapshot as a part above its horizon).
	v, err := warehouse.ReadEventsVersion(ctx, conn, from, to)
	if err != nil {
		// A user that may not read system.parts, say: no version, no cache, the query still answers.
		d.logger.Warn("per-user cache off for this query", "error", err.Error())
		stats.why = "the parts of events cannot be read"
		return warehouse.RateSeries{}, stats, false, nil
	}
	if !v.Versioned() {
		stats.why = v.Why()
		return warehouse.RateSeries{}, stats, false, nil
	}
	whole := func(i int) bool { b := first + int64(i)*st; return b >= f && b+st-1 <= t }
	figs := make([]userFigures, n)
	have := make([]bool, n)
	for i := range n {
		if whole(i) {
			figs[i], have[i] = d.users.get(userKey{room: room, step: st, start: first + int64(i)*st}, v, full)
		}
	}
	for _, run := range joinRuns(missing(have), maxUserRuns) {
		lo, hi := first+int64(run[0])*st, first+int64(run[1])*st+st-1
		s, err := computeUsers(ctx, conn, room, time.Unix(max(lo, f), 0), time.Unix(min(hi, t), 0), step, full)
		if err != nil {
			return warehouse.RateSeries{}, stats, false, err
		}
		for i := run[0]; i <= run[1]; i++ {
			figs[i] = userFigures{full: full} // no row: no attempt in the bucket
		}
		for j, tm := range s.Time {
			i := int((tm.Unix() - first) / st)
			if i < run[0] || i > run[1] {
				return warehouse.RateSeries{}, stats, false, fmt.Errorf("per-user figures of %q: bucket %s outside %s to %s",
					room, tm.Format(time.RFC3339), time.Unix(lo, 0).UTC().Format(time.RFC3339), time.Unix(hi, 0).UTC().Format(time.RFC3339))
			}
			figs[i] = userFigures{users: s.Users[j], attempts: s.Attempts[j], full: full}
			if full {
				figs[i].failed = s.TechnicalFailures[j]
				if s.Rate[j] != nil {
					figs[i].rate, figs[i].hasRate = *s.Rate[j], true
				}
			}
		}
		for i := run[0]; i <= run[1]; i++ {
			if whole(i) && !have[i] { // a bucket of a joined gap is cached already
				b := first + int64(i)*st
				d.users.put(userKey{room: room, step: st, start: b}, v.Stamp(b, b+st-1), figs[i])
			}
		}
		stats.computed += run[1] - run[0] + 1
	}
	var s warehouse.RateSeries
	for i, fig := range figs {
		if fig.attempts == 0 {
			continue // sparse, as the query: a bucket without attempts has no row
		}
		s.Time = append(s.Time, time.Unix(first+int64(i)*st, 0).UTC())
		s.Users = append(s.Users, fig.users)
		s.Attempts = append(s.Attempts, fig.attempts)
		if full {
			s.TechnicalFailures = append(s.TechnicalFailures, fig.failed)
			var rate *float64
			if fig.hasRate {
				rate = &fig.rate
			}
			s.Rate = append(s.Rate, rate)
		}
	}
	return s, stats, true, nil
}

// computeUsers reads the per-user figures of [from, to] from events: UserFailureRate, or
// UserAttempts when !full.
func computeUsers(ctx context.Context, conn driver.Conn, room string, from, to time.Time, step time.Duration, full bool) (warehouse.RateSeries, error) {
	if full {
		return warehouse.UserFailureRate(ctx, conn, room, from, to, step)
	}
	return warehouse.UserAttempts(ctx, conn, room, from, to, step)
}

// missing returns the runs of consecutive false in have, as [first, last] index pairs.
func missing(have []bool) [][2]int {
	var runs [][2]int
	for i, ok := range have {
		switch {
		case ok:
		case len(runs) > 0 && runs[len(runs)-1][1] == i-1:
			runs[len(runs)-1][1] = i
		default:
			runs = append(runs, [2]int{i, i})
		}
	}
	return runs
}

// joinRuns joins the two runs with the smallest gap between them until at most limit are left.
func joinRuns(runs [][2]int, limit int) [][2]int {
	for len(runs) > max(limit, 1) {
		best := 0
		for i := 1; i < len(runs)-1; i++ {
			if runs[i+1][0]-runs[i][1] < runs[best+1][0]-runs[best][1] {
				best = i
			}
		}
		runs[best][1] = runs[best+1][1]
		runs = slices.Delete(runs, best+1, best+2)
	}
	return runs
}

// String says, after a query's text, how many buckets came from the cache.
func (s userStats) String() string {
	if s.why != "" {
		return fmt.Sprintf(" (%d buckets computed, none cached: %s)", s.computed, s.why)
	}
	return fmt.Sprintf(" (%d of %d buckets computed, the others from the plugin's cache)", s.computed, s.buckets)
}
