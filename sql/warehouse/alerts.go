package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// AlertRule is a paging rule on a per-minute figure of one room, evaluated by
// queries/alert_state.sql around the rule's input queries/alert_input_<Input>.sql (AlertState).
// A minute is
//
//   - bad when it is measured (MinAttempts attempts, or MinListeners for the crash page) and its
//     figure breaks the rule (over Threshold; for the crash page, with no room end);
//   - good when it is measured and not bad;
//   - "no data" when it is not measured;
//   - incomplete, not judged yet, until the ingest watermark is past its end plus Lateness.
//
// The alert fires at the end of the For-th consecutive bad minute and clears at the end of the
// first good minute after that: the instants an evaluator running at each minute boundary would
// act, which is also when a person could know.
//
// No data breaks a run of bad minutes that has not fired yet (the rule asks for consecutive
// measured minutes), but it keeps a firing alert firing. The on-call engineer expects that: a
// service so broken that clients stop reaching it, or a room whose listeners have given up, has
// few attempts precisely because it is failing; resolving the page on silence would tell them
// the incident is over when nobody has seen a single good minute. Only a measured good minute
// clears. (Grafana's default for no data is a state of its own; this rule is closer to its
// "keep last state".)
type AlertRule struct {
	// Name says what pages, for people.
	Name string
	// Input is the rule's input file, queries/alert_input_<Input>.sql.
	Input string
	// Threshold is the figure a minute must exceed (strictly) to be bad: 0.05 pages above 5 %.
	Threshold float64
	// For is how many consecutive bad minutes fire the alert; values below 1 count as 1.
	For int
	// MinAttempts is the fewest attempts a minute needs to be measured (the failure and retry
	// pages); MinListeners the smallest 2-minute peak of CCL (the crash page).
	MinAttempts  int64
	MinListeners int64
	// Lateness is how long after a minute's end its late events may still arrive: a minute is
	// judged once the ingest watermark has passed its end plus Lateness (see IngestWatermark).
	Lateness time.Duration
	// Step is the @step the input reads its figure at (a minute, or a second for the curve), and
	// Lookback how long before the first minute judged it starts reading (the crash page compares
	// each second with the 2 minutes before it).
	Step, Lookback time.Duration
	// Value names AlertMinute.Value for this rule, Counts names AlertMinute.Counts.
	Value  string
	Counts [2]string
}

// The pages of sql/README.md (Metric definitions). A minute is judged 60 s after its end: 99 %
// of events arrive within a minute (the rest, up to 10 minutes late, count in the report
// afterwards), so a page comes 1-2 minutes after its last bad minute ends.
var (
	// PageRule pages when the per-attempt technical join-failure rate is over 5 % for 2
	// consecutive minutes with >= 25 attempts a minute.
	PageRule = AlertRule{Name: "technical join failures > 5 % for 2 min", Input: "join_failure_rate",
		Threshold: 0.05, For: 2, MinAttempts: MinAttempts, Lateness: time.Minute, Step: time.Minute,
		Value: "rate", Counts: [2]string{"attempts", "technical_failures"}}
	// RetryRule pages when retry amplification (join attempts per user attempting) is over 2 for
	// 3 consecutive minutes with >= 25 attempts a minute.
	RetryRule = AlertRule{Name: "retry amplification > 2 for 3 min", Input: "retry_amplification",
		Threshold: 2, For: 3, MinAttempts: MinAttempts, Lateness: time.Minute, Step: time.Minute,
		Value: "amplification", Counts: [2]string{"attempts", "users"}}
	// CrashRule pages when concurrent listeners fall more than 30 % within 2 minutes without a
	// room end (no leave with reason ended), in a room whose 2-minute peak is >= 100 listeners.
	CrashRule = AlertRule{Name: "listeners down > 30 % within 2 min, no room end", Input: "ccl_drop",
		Threshold: 0.30, For: 1, MinListeners: 100, Lateness: time.Minute, Step: time.Second, Lookback: 2 * time.Minute,
		Value: "fall", Counts: [2]string{"peak", "listeners"}}
)

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
	Start time.Time
	// Value is the rule's figure (the failure rate, the retry amplification, the fall of CCL);
	// nil when the minute has none (no attempts, or under 25 for the rate).
	Value *float64
	// Counts are the two counts behind it, named by the rule's Counts: attempts and technical
	// failures, attempts and users, the 2-minute peak and CCL at the worst second.
	Counts   [2]int64
	Complete bool   // judged: the watermark is past its end plus Lateness
	State    string // "bad", "good", "no_data" or "incomplete"
	Firing   bool   // the alert's state after this minute
}

// End is when the minute ends: when an evaluator running at minute boundaries acts on it.
func (m AlertMinute) End() time.Time { return m.Start.Add(time.Minute) }

// AlertState evaluates rule on space over the whole minutes from from (rounded down to the
// minute) to to, judging only minutes the watermark wm says are complete: queries/alert_state.sql
// around the rule's input, the one definition of each page, which the report and the Grafana
// plugin's alertState query read. Dense: one AlertMinute per minute, in order.
func AlertState(ctx context.Context, conn Querier, space string, from, to time.Time, rule AlertRule, wm Watermark) ([]AlertMinute, error) {
	from, to, err := window(from.UTC().Truncate(time.Minute), to, MaxWindow)
	if err != nil {
		return nil, fmt.Errorf("alert state of %q: %w", space, err)
	}
	if _, ok := queries["alert_state_"+rule.Input]; !ok {
		return nil, fmt.Errorf("alert rule %q: no queries/alert_input_%s.sql", rule.Name, rule.Input)
	}
	if rule.Step < time.Second || rule.Step%time.Second != 0 {
		return nil, fmt.Errorf("alert rule %q: Step %s: want whole seconds (a minute, or a second for the curve)", rule.Name, rule.Step)
	}
	readFrom := from.Add(-rule.Lookback)
	if readFrom.Unix() < 0 {
		readFrom = time.Unix(0, 0).UTC()
	}
	return alertState(ctx, conn, space, "alert_state_"+rule.Input, windowArgs(space, readFrom, to,
		clickhouse.Named("step", uint32(rule.Step/time.Second)),
		clickhouse.Named("min_attempts", uint32(rule.MinAttempts)),
		clickhouse.Named("min_listeners", uint32(rule.MinListeners)),
		clickhouse.DateNamed("watermark", wm.horizon(), clickhouse.Seconds),
		clickhouse.Named("lateness", uint32(rule.Lateness/time.Second)),
		clickhouse.Named("threshold", rule.Threshold),
		clickhouse.Named("for", uint32(max(rule.For, 1)))))
}

// alertState runs the alert-state query name (alert_state.sql around one input) with args and
// reads its minutes.
func alertState(ctx context.Context, conn Querier, space, name string, args []any) ([]AlertMinute, error) {
	rows, err := conn.Query(ctx, queries[name], args...)
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
		if err := rows.Scan(&m.Start, &m.Value, &m.Counts[0], &m.Counts[1], &complete, &m.State, &firing); err != nil {
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
