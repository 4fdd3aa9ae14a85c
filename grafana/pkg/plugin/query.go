package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Query types (the queryType of a panel query).
const (
	TypeConcurrency     = "concurrency"
	TypeActivity        = "activity"
	TypeJoinFailureRate = "joinFailureRate"
	TypeErrorsByCode    = "errorsByCode"
	TypeJoinLatency     = "joinLatency"
	TypeSpaces          = "spaces"
	TypeSQL             = "sql"
	TypeAlertState      = "alertState"
)

// QueryTypes lists every query type, in the order the editor offers them.
var QueryTypes = []string{TypeConcurrency, TypeActivity, TypeJoinFailureRate, TypeErrorsByCode, TypeJoinLatency, TypeAlertState, TypeSpaces, TypeSQL}

// Values of Query.Reduce and Query.Rate.
const (
	ReducePeak     = "peak"
	ReduceLast     = "last"
	RatePerAttempt = "perAttempt"
	RatePerUser    = "perUser"
)

// GroupBy values: "room" (a series per room) or one of the warehouse's dimensions. Which query
// types accept which is in groupByAllowed.
var groupByAllowed = map[string][]string{
	TypeConcurrency:     {"", "room"},
	TypeActivity:        {"", "room"},
	TypeJoinFailureRate: {"", "room", "client", "region", "country", "app_version", "code"},
	TypeErrorsByCode:    {"", "room"},
	TypeJoinLatency:     {"", "room", "client", "region", "country", "app_version"},
	TypeAlertState:      {""},
	TypeSpaces:          {""},
	TypeSQL:             {""},
}

// Percentiles joinLatency can return.
var Percentiles = []string{"p50", "p95", "p99"}

// MaxRoomLength bounds a room id in a query (the event contract's MaxSpaceID is smaller).
const MaxRoomLength = 256

// MaxRawSQL bounds the text of a raw SQL query.
const MaxRawSQL = 64 << 10

// Query is the JSON model of one panel query (and of the provisioned alert rule's query).
type Query struct {
	RefID     string `json:"refId"`
	QueryType string `json:"queryType"`
	// Rooms are the space ids; empty means every room with events in the time range (at most
	// the row limit's worth).
	Rooms []string `json:"rooms,omitempty"`
	// GroupBy splits the result into a series per value: "room", or a dimension (client,
	// region, country, app_version, code) where the query type allows it.
	GroupBy string `json:"groupBy,omitempty"`
	// Reduce is how concurrency buckets wider than a second are summarised: peak (default) or last.
	Reduce string `json:"reduce,omitempty"`
	// Rate is perAttempt (default) or perUser for joinFailureRate.
	Rate string `json:"rate,omitempty"`
	// IncludeCounts adds attempts and failures to joinFailureRate frames (not for alert rules).
	IncludeCounts bool `json:"includeCounts,omitempty"`
	// TechnicalOnly leaves business codes out of errorsByCode.
	TechnicalOnly bool `json:"technicalOnly,omitempty"`
	// Percentiles for joinLatency: any of p50, p95, p99 (default all).
	Percentiles []string `json:"percentiles,omitempty"`
	// IntervalSeconds overrides the panel interval as the bucket length (0: from the panel).
	IntervalSeconds int `json:"intervalSeconds,omitempty"`
	// CompleteBuckets >= 1 keeps only the last n buckets that ended by the end of the time range
	// (what an alert rule evaluates); 0 keeps every bucket, the partial ones too, except when
	// Grafana's alert engine sends the query, which always gets complete buckets only.
	CompleteBuckets int `json:"completeBuckets,omitempty"`
	// Rule is the page alertState evaluates: joinFailureRate (default), retryAmplification or
	// cclDrop.
	Rule string `json:"rule,omitempty"`
	// Live marks a concurrency query's frames with a Grafana Live channel per room.
	Live bool `json:"live,omitempty"`
	// RawSQL is the analyst's SELECT for queryType sql, with $__timeFilter(col), $__fromTime,
	// $__toTime, $__interval_s and $__interval_ms.
	RawSQL string `json:"rawSql,omitempty"`
	// Format of a raw SQL result: table (default) or timeseries.
	Format string `json:"format,omitempty"`

	// Grafana's own fields, accepted and ignored here.
	Datasource    json.RawMessage `json:"datasource,omitempty"`
	Hide          bool            `json:"hide,omitempty"`
	Key           string          `json:"key,omitempty"`
	IntervalMs    float64         `json:"intervalMs,omitempty"`
	MaxDataPoints int64           `json:"maxDataPoints,omitempty"`
	DatasourceID  int64           `json:"datasourceId,omitempty"`
}

// ErrInvalidQuery wraps every reason Validate refuses a query.
var ErrInvalidQuery = errors.New("invalid query")

// ParseQuery decodes a query's JSON strictly (unknown fields are refused, so a typo in a
// provisioned dashboard shows up) and validates it. queryType may come from Grafana's DataQuery
// rather than the JSON.
func ParseQuery(raw []byte, queryType string) (Query, error) {
	var q Query
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return q, fmt.Errorf("%w: %v", ErrInvalidQuery, err)
	}
	if q.QueryType == "" {
		q.QueryType = queryType
	}
	return q, q.Validate()
}

// Validate checks every field against what the query type accepts; the error says what to change.
func (q *Query) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidQuery}, args...)...)
	}
	if !slices.Contains(QueryTypes, q.QueryType) {
		return bad("queryType %q: want one of %s", q.QueryType, strings.Join(QueryTypes, ", "))
	}
	if !slices.Contains(groupByAllowed[q.QueryType], q.GroupBy) {
		return bad("%s cannot be grouped by %q: want one of %q", q.QueryType, q.GroupBy, groupByAllowed[q.QueryType])
	}
	for _, r := range q.Rooms {
		if r == "" || len(r) > MaxRoomLength || !utf8.ValidString(r) {
			return bad("room %q: want a space id of 1 to %d characters", r, MaxRoomLength)
		}
	}
	if len(q.Rooms) > maximumRoomsPerPull {
		return bad("%d rooms: want at most %d", len(q.Rooms), maximumRoomsPerPull)
	}
	if q.GroupBy != "" && q.GroupBy != "room" && len(q.Rooms) > 1 {
		return bad("group by %s works on one room at a time, got %d rooms", q.GroupBy, len(q.Rooms))
	}
	switch q.Reduce {
	case "", ReducePeak, ReduceLast:
	default:
		return bad("reduce %q: want peak or last", q.Reduce)
	}
	if q.Reduce != "" && q.QueryType != TypeConcurrency {
		return bad("reduce applies to concurrency only")
	}
	switch q.Rate {
	case "", RatePerAttempt:
	case RatePerUser:
		if q.GroupBy != "" && q.GroupBy != "room" {
			return bad("the per-user rate cannot be grouped by %s", q.GroupBy)
		}
	default:
		return bad("rate %q: want perAttempt or perUser", q.Rate)
	}
	if q.Rate != "" && q.QueryType != TypeJoinFailureRate {
		return bad("rate applies to joinFailureRate only")
	}
	for _, p := range q.Percentiles {
		if !slices.Contains(Percentiles, p) {
			return bad("percentile %q: want p50, p95 or p99", p)
		}
	}
	if q.IntervalSeconds < 0 || q.IntervalSeconds > 86400 {
		return bad("intervalSeconds %d: want 0 (the panel's) to 86400", q.IntervalSeconds)
	}
	if q.CompleteBuckets < 0 || q.CompleteBuckets > 10_000 {
		return bad("completeBuckets %d: want 0 to 10000", q.CompleteBuckets)
	}
	if q.QueryType == TypeAlertState && (q.IntervalSeconds != 0 || q.CompleteBuckets != 0 || q.IncludeCounts || len(q.Percentiles) > 0 || q.TechnicalOnly) {
		return bad("alertState takes rooms only: the rule (per-minute, complete minutes by the ingest watermark) is fixed in sql/queries/alert_state.sql")
	}
	if _, ok := alertRules[q.Rule]; !ok {
		return bad("rule %q: want joinFailureRate, retryAmplification or cclDrop", q.Rule)
	}
	if q.Rule != "" && q.QueryType != TypeAlertState {
		return bad("rule applies to alertState only")
	}
	if q.Live && q.QueryType != TypeConcurrency {
		return bad("live applies to concurrency only")
	}
	switch q.Format {
	case "", "table", "timeseries":
	default:
		return bad("format %q: want table or timeseries", q.Format)
	}
	if q.QueryType == TypeSQL {
		if strings.TrimSpace(q.RawSQL) == "" {
			return bad("rawSql is empty: write a SELECT")
		}
		if len(q.RawSQL) > MaxRawSQL {
			return bad("rawSql is %d bytes: want at most %d", len(q.RawSQL), MaxRawSQL)
		}
	} else if q.RawSQL != "" {
		return bad("rawSql applies to queryType sql only")
	}
	return nil
}

// step is the bucket length for q: IntervalSeconds, else the panel interval widened so that a
// series has at most maxPoints buckets, in whole seconds (whole minutes when minutes is set, for
// the minute rollup).
func (q *Query) step(interval time.Duration, window time.Duration, maxPoints int64, minutes bool) time.Duration {
	s := interval
	if q.IntervalSeconds > 0 {
		s = time.Duration(q.IntervalSeconds) * time.Second
	} else if maxPoints > 0 && window/time.Duration(maxPoints) > s {
		s = window / time.Duration(maxPoints)
	}
	unit := time.Second
	if minutes {
		unit = time.Minute
	}
	s = (s + unit - 1) / unit * unit
	if s < unit {
		s = unit
	}
	return s
}
