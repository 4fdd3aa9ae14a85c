package warehouse

import "time"

// AlertRule is a paging rule on the per-minute technical join-failure rate (FailureRate's
// buckets). A minute is
//
//   - bad when it has >= MinAttempts attempts and TechnicalFailures / Attempts > Threshold;
//   - good when it has >= MinAttempts attempts and is not bad;
//   - "no data" when it has fewer than MinAttempts attempts (or is missing from the buckets).
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
}

// PageRule is the paging rule of sql/README.md (Metric definitions): page when the per-attempt technical join-failure
// rate is over 5 % for 2 consecutive minutes with >= 25 attempts a minute.
var PageRule = AlertRule{Threshold: 0.05, For: 2, MinAttempts: MinAttempts}

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

// AlertTimeline evaluates rule over buckets, per-minute FailureBuckets in time order (as
// FailureRate returns them), and returns each firing in order. Buckets are one minute long; a
// gap between two buckets' Start counts as minutes with no data. Pure: no clock, no I/O.
func AlertTimeline(buckets []FailureBucket, rule AlertRule) []AlertTransition {
	need := max(rule.For, 1)
	var (
		out     []AlertTransition
		bad     int  // consecutive bad minutes so far, while not firing
		firing  bool // an element of out is open
		prevEnd time.Time
	)
	for _, b := range buckets {
		start := b.Start.UTC()
		if !prevEnd.IsZero() && start.After(prevEnd) {
			bad = 0 // missing minutes are no data
		}
		end := start.Add(time.Minute)
		prevEnd = end
		if b.Attempts < rule.MinAttempts || b.Attempts <= 0 {
			bad = 0 // no data: breaks a pending run, keeps a firing alert firing
			continue
		}
		isBad := float64(b.TechnicalFailures)/float64(b.Attempts) > rule.Threshold
		switch {
		case firing && !isBad:
			out[len(out)-1].ClearedAt = end
			firing = false
		case !firing && isBad:
			if bad++; bad >= need {
				out = append(out, AlertTransition{FiredAt: end})
				firing, bad = true, 0
			}
		case !firing:
			bad = 0
		}
	}
	return out
}
