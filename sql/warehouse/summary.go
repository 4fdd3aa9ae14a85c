package warehouse

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// SpaceSummary is the figures of one space over a window, each event_id counted once. The metric
// definitions are sql/README.md's; queries/summary.sql says where each comes from.
type SpaceSummary struct {
	Space    string
	From, To time.Time // whole seconds, UTC, both inclusive

	// Peak is the highest CCL(t) in the window and the earliest second it was reached.
	Peak Point
	// ListenersBefore is CCL(From - 1s), the sessions already open; ListenersAfter is CCL(To).
	ListenersBefore int64
	ListenersAfter  int64

	Joins                int64
	Leaves               int64
	JoinAttempts         int64 // joins + join-phase errors
	JoinFailures         int64 // technical join-phase errors
	BusinessJoinFailures int64 // join-phase errors with code space_ended, auth or geo_blocked
	SessionErrors        int64
	// JoinFailureRate is JoinFailures / JoinAttempts; nil when JoinAttempts < MinAttempts.
	JoinFailureRate *float64

	UsersAttempting int64 // distinct users with >= 1 join attempt
	UsersFailed     int64 // ... of whom none joined (whatever the error: business ones too)
	UniqueListeners int64 // distinct users with >= 1 join: UsersAttempting - UsersFailed
	// PerUserFailureRate is UsersFailed / UsersAttempting; nil when JoinAttempts < MinAttempts
	// ("not enough data", the per-attempt rate's floor).
	PerUserFailureRate *float64
	// RetryAmplification is JoinAttempts / UsersAttempting; nil without attempts.
	RetryAmplification *float64

	// JoinLatencySamples joins carried join_ms; the percentiles (exact, ms) are nil without any.
	JoinLatencySamples int64
	JoinLatencyP50     *int64
	JoinLatencyP95     *int64
	JoinLatencyP99     *int64

	// ListeningSeconds sums, over sessions, the part of [join, leave) inside the window (a
	// session not left yet runs to the window's end); SessionsListening counts those sessions.
	// These four are Summary's only (queries/listening.sql): RoomSummary leaves them zero.
	ListeningSeconds  int64
	SessionsListening int64
	// MidSessionDrops counts leaves with reason network or error; DropsPer1000ListenerMinutes
	// relates them to ListeningSeconds (nil when that is 0).
	MidSessionDrops             int64
	DropsPer1000ListenerMinutes *float64
}

// summaryRow is one row of queries/summary.sql.
type summaryRow struct {
	Joins                int64    `ch:"joins"`
	Leaves               int64    `ch:"leaves"`
	JoinAttempts         int64    `ch:"join_attempts"`
	JoinFailures         int64    `ch:"join_failures"`
	BusinessJoinFailures int64    `ch:"business_join_failures"`
	SessionErrors        int64    `ch:"session_errors"`
	ListenersBefore      int64    `ch:"listeners_before"`
	ListenersAfter       int64    `ch:"listeners_after"`
	JoinLatencySamples   int64    `ch:"join_latency_samples"`
	JoinLatencyP50       int64    `ch:"join_latency_p50"`
	JoinLatencyP95       int64    `ch:"join_latency_p95"`
	JoinLatencyP99       int64    `ch:"join_latency_p99"`
	JoinFailureRate      *float64 `ch:"join_failure_rate"`
}

// listeningRow is one row of queries/listening.sql.
type listeningRow struct {
	ListeningSeconds  int64    `ch:"listening_seconds"`
	SessionsListening int64    `ch:"sessions_listening"`
	MidSessionDrops   int64    `ch:"mid_session_drops"`
	DropsPer1000      *float64 `ch:"drops_per_1000_listener_minutes"`
}

// Summary returns the SpaceSummary of space over [from, to] (truncated to whole seconds, UTC):
// queries/summary.sql and queries/listening.sql, plus queries/user_failure_rate.sql over the window
// as one bucket for the per-user figures and Peak (queries/concurrency.sql): each figure has one
// definition.
func Summary(ctx context.Context, conn Querier, space string, from, to time.Time) (SpaceSummary, error) {
	s, err := RoomSummary(ctx, conn, space, from, to)
	if err != nil {
		return SpaceSummary{}, err
	}
	var l listeningRow
	if err := conn.QueryRow(ctx, queries["listening"], windowArgs(space, s.From, s.To)...).ScanStruct(&l); err != nil {
		return SpaceSummary{}, fmt.Errorf("query listening time of %q: %w", space, err)
	}
	s.ListeningSeconds, s.SessionsListening = l.ListeningSeconds, l.SessionsListening
	s.MidSessionDrops, s.DropsPer1000ListenerMinutes = l.MidSessionDrops, l.DropsPer1000
	return s, nil
}

// RoomSummary is Summary without queries/listening.sql: ListeningSeconds, SessionsListening,
// MidSessionDrops and DropsPer1000ListenerMinutes are left zero. That query groups every join and
// leave of the room up to the window's end by session (1.7 s of Summary's 1.8 s over the demo
// night's 9M events), and the rooms table, which shows none of its figures, calls this instead.
func RoomSummary(ctx context.Context, conn Querier, space string, from, to time.Time) (SpaceSummary, error) {
	from, to, err := window(from, to, MaxWindow)
	if err != nil {
		return SpaceSummary{}, fmt.Errorf("summary of %q: %w", space, err)
	}
	var r summaryRow
	err = conn.QueryRow(ctx, queries["summary"], windowArgs(space, from, to,
		clickhouse.Named("min_attempts", uint32(MinAttempts)))...).ScanStruct(&r)
	if err != nil {
		return SpaceSummary{}, fmt.Errorf("query summary of %q: %w", space, err)
	}
	peak, err := Peak(ctx, conn, space, from, to)
	if err != nil {
		return SpaceSummary{}, err
	}
	users, err := windowUsers(ctx, conn, space, from, to)
	if err != nil {
		return SpaceSummary{}, err
	}
	s := SpaceSummary{
		Space: space, From: from, To: to, Peak: peak,
		ListenersBefore: r.ListenersBefore, ListenersAfter: r.ListenersAfter,
		Joins: r.Joins, Leaves: r.Leaves, JoinAttempts: r.JoinAttempts,
		JoinFailures: r.JoinFailures, BusinessJoinFailures: r.BusinessJoinFailures,
		SessionErrors: r.SessionErrors, JoinFailureRate: r.JoinFailureRate,
		UsersAttempting: users.UsersAttempting, UsersFailed: users.UsersFailed,
		UniqueListeners:    users.UsersAttempting - users.UsersFailed,
		PerUserFailureRate: users.Rate, RetryAmplification: users.RetryAmplification,
		JoinLatencySamples: r.JoinLatencySamples,
	}
	if r.JoinLatencySamples > 0 {
		s.JoinLatencyP50, s.JoinLatencyP95, s.JoinLatencyP99 = &r.JoinLatencyP50, &r.JoinLatencyP95, &r.JoinLatencyP99
	}
	return s, nil
}

// userRow is one row of queries/user_failure_rate.sql.
type userRow struct {
	Bucket             time.Time
	UsersAttempting    int64
	UsersFailed        int64
	Attempts           int64
	Rate               *float64
	RetryAmplification *float64
}

// windowUsers runs queries/user_failure_rate.sql with [from, to] as one bucket; the zero row (no
// rate, no amplification) when the window has no attempt.
func windowUsers(ctx context.Context, conn Querier, space string, from, to time.Time) (userRow, error) {
	rows, err := conn.Query(ctx, queries["user_failure_rate"], windowArgs(space, from, to,
		clickhouse.Named("step", wholeWindow), clickhouse.Named("min_attempts", uint32(MinAttempts)))...)
	if err != nil {
		return userRow{}, fmt.Errorf("query users of %q: %w", space, err)
	}
	defer rows.Close()
	var r userRow
	for rows.Next() {
		var amp float64
		if err := rows.Scan(&r.Bucket, &r.UsersAttempting, &r.UsersFailed, &r.Attempts, &r.Rate, &amp); err != nil {
			return userRow{}, fmt.Errorf("read users of %q: %w", space, err)
		}
		r.RetryAmplification = &amp
	}
	if err := rows.Err(); err != nil {
		return userRow{}, fmt.Errorf("read users of %q: %w", space, err)
	}
	return r, nil
}

// Dimensions FailuresBy can break failures down by.
var Dimensions = []string{"code", "client", "app_version", "region", "country"}

// Breakdown is one value of a dimension in FailuresBy.
type Breakdown struct {
	Value             string `ch:"value"`
	Attempts          int64  `ch:"attempts"`
	Joins             int64  `ch:"joins"`
	TechnicalFailures int64  `ch:"technical_failures"`
	BusinessFailures  int64  `ch:"business_failures"`
	SessionErrors     int64  `ch:"session_errors"`
	// FailureRate is TechnicalFailures / Attempts, nil when Attempts < MinAttempts.
	FailureRate *float64 `ch:"failure_rate"`
}

// FailuresBy breaks the join attempts and failures of space down by dimension (one of
// Dimensions), most technical failures first, from the per-minute rollup: every minute that
// overlaps [from, to] counts whole. Runs queries/failures_by.sql.
func FailuresBy(ctx context.Context, conn Querier, space string, from, to time.Time, dimension string) ([]Breakdown, error) {
	if !slices.Contains(Dimensions, dimension) {
		return nil, fmt.Errorf("failures of %q by %q: want one of %v", space, dimension, Dimensions)
	}
	from, to, err := window(from, to, 0)
	if err != nil {
		return nil, fmt.Errorf("failures of %q by %s: %w", space, dimension, err)
	}
	rows, err := conn.Query(ctx, queries["failures_by"], windowArgs(space, from, to,
		clickhouse.Named("dimension", dimension),
		clickhouse.Named("min_attempts", uint32(MinAttempts)))...)
	if err != nil {
		return nil, fmt.Errorf("query failures of %q by %s: %w", space, dimension, err)
	}
	defer rows.Close()
	var out []Breakdown
	for rows.Next() {
		var b Breakdown
		if err := rows.ScanStruct(&b); err != nil {
			return nil, fmt.Errorf("read failures of %q by %s: %w", space, dimension, err)
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read failures of %q by %s: %w", space, dimension, err)
	}
	return out, nil
}
