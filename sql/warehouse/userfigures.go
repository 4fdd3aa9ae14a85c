package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// UserAttempts is UserFailureRate without the failed users and the rate: the users attempting and
// the attempts of space per bucket of step over [from, to] (sparse; Users, Attempts and Time set,
// the rest nil), what the retry page needs. It runs queries/user_failure_rate.sql too, reading
// only those columns, so ClickHouse leaves out the second set of users per bucket (measured on 10M
// events: 0.45-0.53 s instead of 0.69-0.73 s for the 3 hours in minutes).
func UserAttempts(ctx context.Context, conn Querier, space string, from, to time.Time, step time.Duration) (RateSeries, error) {
	var s RateSeries
	from, to, st, err := bucketed(from, to, step, false)
	if err != nil {
		return s, fmt.Errorf("users attempting in %q: %w", space, err)
	}
	err = readColumns(ctx, conn, "user_failure_rate", windowArgs(space, from, to,
		clickhouse.Named("step", st), clickhouse.Named("min_attempts", uint32(MinAttempts))),
		[]string{"bucket", "users_attempting", "attempts"}, &s.Time, &s.Users, &s.Attempts)
	if err != nil {
		return RateSeries{}, fmt.Errorf("users attempting in %q: %w", space, err)
	}
	return s, nil
}

// MaxGivenMinutes bounds the minutes RetryStateGiven takes: they travel in the query's text, which
// ClickHouse parses up to max_query_size (256 KiB by default; about 25 bytes a minute here).
const MaxGivenMinutes = 5000

// RetryStateGiven is AlertState for RetryRule with the attempts and users attempting of each
// minute given (user_failure_rate.sql's figures at a step of a minute over [from, to], sparse:
// minutes with attempts only, in any order), not read from events: queries/alert_state.sql around
// alert_input_retry_amplification_given.sql. Given AlertState's own figures it returns AlertState's
// minutes; the Grafana plugin gives it the figures of its per-minute cache.
func RetryStateGiven(ctx context.Context, conn Querier, space string, from, to time.Time, wm Watermark,
	minutes []time.Time, attempts, users []int64) ([]AlertMinute, error) {
	rule := RetryRule
	from, to, err := window(from.UTC().Truncate(time.Minute), to, MaxWindow)
	if err == nil && (len(attempts) != len(minutes) || len(users) != len(minutes)) {
		err = fmt.Errorf("%d minutes, %d attempts, %d users: want one of each per minute", len(minutes), len(attempts), len(users))
	}
	if err == nil && len(minutes) > MaxGivenMinutes {
		err = fmt.Errorf("%d minutes given: want at most %d (use AlertState)", len(minutes), MaxGivenMinutes)
	}
	offsets := make([]uint32, len(minutes))
	for i, m := range minutes {
		if err != nil {
			break
		}
		m = m.UTC()
		if m.Before(from) || m.After(to) || m.Unix()%60 != 0 {
			err = fmt.Errorf("minute %s: want a whole minute from %s to %s", m.Format(time.RFC3339), from.Format(time.RFC3339), to.Format(time.RFC3339))
		}
		offsets[i] = uint32(m.Sub(from) / time.Minute)
	}
	if err != nil {
		return nil, fmt.Errorf("alert state of %q given minutes: %w", space, err)
	}
	return alertState(ctx, conn, space, "alert_state_retry_amplification_given", []any{
		clickhouse.DateNamed("from", from, clickhouse.Seconds),
		clickhouse.DateNamed("to", to, clickhouse.Seconds),
		clickhouse.Named("minutes", offsets),
		clickhouse.Named("attempts", attempts),
		clickhouse.Named("users", users),
		clickhouse.Named("min_attempts", uint32(rule.MinAttempts)),
		clickhouse.DateNamed("watermark", wm.horizon(), clickhouse.Seconds),
		clickhouse.Named("lateness", uint32(rule.Lateness/time.Second)),
		clickhouse.Named("threshold", rule.Threshold),
		clickhouse.Named("for", uint32(max(rule.For, 1))),
	})
}
