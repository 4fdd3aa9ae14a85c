package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// AlertRule is a paging rule on the per-minute technical join-failure rate (FailureRate's
// buckets), evaluated by queries/alert_state.sql (AlertState). A minute is
//
//   - bad when it has >= MinAttempts attempts and TechnicalFailures / Attempts > Threshold;
//   - good when it has >= MinAttempts attempts and is not bad;
//   - "no data" when it has fewer than MinAttempts attempts;
//   - incomplete, not judged yet, until the ingest watermark is past its end plus Lateness.
//
// The alert fires at the end of the For-th consecutive bad minute and clears at the end of the
// first good minute after that: the instants an evaluator running at each minute boundary would
// act, which is also when a person could know. Business errors (space_ended, auth, geo_blocked)
// never count: the rate is computed from TechnicalFailures only.
//
// No data breaks a run of bad minutes that has not fired yet (the rule asks for consecutive
// measured minutes), but it keeps a firing alert firing. The on-call engineer expects that: a
// service so broken that clients stop reaching it, or a room whose listeners have given up, has
// few attempts precisely because it is failing; resolving the page on silence would tell them
// the incident is over when nobody has seen a single good minute. Only a measured good minute
// clears. (Grafana's default for no data is a state of its own; this rule is closer to its
// "keep last state".)
type AlertRule struct {
	// Threshold is the failure rate a minute must exceed (strictly) to be bad: 0.05 pages above 5 %.
	Threshold float64
	// For is how many consecutive bad minutes fire the alert; values below 1 count as 1.
	For int
	// MinAttempts is the fewest attempts a minute needs to be measured at all.
	MinAttempts int64
	// Lateness is how long after a minute's end its late events may still arrive: a minute is
	// judged once the ingest watermark has passed its end plus Lateness (see IngestWatermark).
	Lateness time.Duration
}

// PageRule is the paging rule of sql/README.md (Metric definitions): page when the per-attempt technical join-failure
// rate is over 5 % for 2 consecutive minutes with >= 25 attempts a minute.
// A minute is judged 60 s after its end: 99 % of events arrive within a minute (the rest, up
// to 10 minutes late, count in the report afterwards), so a page comes 1-2 minutes after the
// second bad minute ends.
var PageRule = AlertRule{Threshold: 0.05, For: 2, MinAttempts: MinAttempts, Lateness: time.Minute}

// AlertTransition is one firing of an alert: it fired at FiredAt and cleared at ClearedAt.
type AlertTransition struct {
	// FiredAt is the end of the For-th consecutive bad minute (a whole minute, UTC).
	FiredAt time.Time
	// ClearedAt is the end of the first good minute after FiredAt; zero when the alert was still
	// firing at the end of the buckets.
	ClearedAt time.Time
}

// Firing reports whether the alert was firing at t: FiredAt <= t < ClearedAt (or no ClearedAt).
func (a AlertTransition) Firing(t time.Time) bool {
	return !t.Before(a.FiredAt) && (a.ClearedAt.IsZero() || t.Before(a.ClearedAt))
}

// Ingest watermark settings: consumers report every few seconds (consumers/ingest), an owner
// silent for StaleAfter is gone, and a caught-up partition with no commit for IdleAfter is idle.
const (
	StaleAfter = 15 * time.Second
	IdleAfter  = 10 * time.Second
)

// Watermark is the event time up to which the consumers have landed everything
// (queries/ingest_watermark.sql).
type Watermark struct {
	// At is the watermark; meaningless when !Known.
	At time.Time
	// Known is false when no consumer has recorded progress in this database (data loaded by
	// INSERT, say): every minute is then taken as complete.
	Known bool
	// Partitions is how many partitions the consumers have recorded; Holding how many of them
	// hold the watermark back (messages waiting, busy, or owner gone).
	Partitions, Holding uint64
}

// horizon is the watermark bound into alert_state.sql: At, or the largest DateTime when unknown.
func (w Watermark) horizon() time.Time {
	if !w.Known {
		return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) // far enough, and clear of DateTime's 2106 wrap
	}
	return w.At.UTC()
}

// IngestWatermark reads the ingest watermark from what the consumers record.
func IngestWatermark(ctx context.Context, conn Querier) (Watermark, error) {
	var (
		w  Watermark
		at *time.Time
	)
	err := conn.QueryRow(ctx, queries["ingest_watermark"],
		clickhouse.Named("stale_after", uint32(StaleAfter/time.Second)),
		clickhouse.Named("idle_after", uint32(IdleAfter/time.Second))).Scan(&at, &w.Partitions, &w.Holding)
	if err != nil {
		return w, fmt.Errorf("query the ingest watermark: %w", err)
	}
	if at != nil {
		w.At, w.Known = at.UTC(), true
	}
	return w, nil
}

// AlertMinute is one minute of AlertState.
type AlertMinute struct {
	Start             time.Time
	Attempts          int64
	TechnicalFailures int64
	Rate              *float64 // nil: fewer than MinAttempts attempts
	Complete          bool     // judged: the watermark is past its end plus Lateness
	State             string   // "bad", "good", "no_data" or "incomplete"
	Firing            bool     // the alert's state after this minute
}

// End is when the minute ends: when an evaluator running at minute boundaries acts on it.
func (m AlertMinute) End() time.Time { return m.Start.Add(time.Minute) }

// AlertState evaluates rule on space over the whole minutes from from (rounded down to the
// minute) to to, judging only minutes the watermark wm says are complete: queries/alert_state.sql,
// the one definition of the page, which the report and the Grafana plugin's alertState query
// read. Dense: one AlertMinute per minute, in order.
func AlertState(ctx context.Context, conn Querier, space string, from, to time.Time, rule AlertRule, wm Watermark) ([]AlertMinute, error) {
	from, to, err := window(from.UTC().Truncate(time.Minute), to, MaxWindow)
	if err != nil {
		return nil, fmt.Errorf("alert state of %q: %w", space, err)
	}
	rows, err := conn.Query(ctx, queries["alert_state"], windowArgs(space, from, to,
		clickhouse.Named("step", uint32(60)),
		clickhouse.Named("min_attempts", uint32(rule.MinAttempts)),
		clickhouse.DateNamed("watermark", wm.horizon(), clickhouse.Seconds),
		clickhouse.Named("lateness", uint32(rule.Lateness/time.Second)),
		clickhouse.Named("threshold", rule.Threshold),
		clickhouse.Named("for", uint32(max(rule.For, 1))))...)
	if err != nil {
		return nil, fmt.Errorf("query alert state of %q: %w", space, err)
	}
	defer rows.Close()
	var out []AlertMinute
	for rows.Next() {
		var (
			m                AlertMinute
			complete, firing uint8
		)
		if err := rows.Scan(&m.Start, &m.Attempts, &m.TechnicalFailures, &m.Rate, &complete, &m.State, &firing); err != nil {
			return nil, fmt.Errorf("read alert state of %q: %w", space, err)
		}
		m.Start, m.Complete, m.Firing = m.Start.UTC(), complete == 1, firing == 1
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read alert state of %q: %w", space, err)
	}
	return out, nil
}

// Transitions turns AlertState's minutes into firings: fired at the end of the minute the alert
// started firing after, cleared at the end of the minute it stopped after (zero: still firing).
func Transitions(minutes []AlertMinute) []AlertTransition {
	var out []AlertTransition
	firing := false
	for _, m := range minutes {
		switch {
		case m.Firing && !firing:
			out = append(out, AlertTransition{FiredAt: m.End()})
		case !m.Firing && firing:
			out[len(out)-1].ClearedAt = m.End()
		}
		firing = m.Firing
	}
	return out
}
