package plugin

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/live"
	"golang.org/x/sync/errgroup"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// parallelQueries bounds how many queries of one request run at once.
const parallelQueries = 4

// QueryData runs each query of req on its own: a query that fails fails only its DataResponse
// (user mistakes marked as downstream errors), the others still answer.
func (d *Datasource) QueryData(ctx context.Context, req *backend.QueryDataRequest) (*backend.QueryDataResponse, error) {
	resp := backend.NewQueryDataResponse()
	fromAlert := req.Headers[backend.FromAlertHeaderName] == "true" || req.GetHTTPHeader(backend.FromAlertHeaderName) == "true"
	var uid string
	if req.PluginContext.DataSourceInstanceSettings != nil {
		uid = req.PluginContext.DataSourceInstanceSettings.UID
	}
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(parallelQueries)
	for _, dq := range req.Queries {
		g.Go(func() error {
			r := d.query(ctx, dq, uid, fromAlert)
			mu.Lock()
			resp.Responses[dq.RefID] = r
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait() // every goroutine returns nil; errors are in the responses
	return resp, nil
}

// request is one parsed query with its window and bucket.
type request struct {
	Query
	from, to time.Time // whole seconds, inclusive
	step     time.Duration
	uid      string
}

func (d *Datasource) query(ctx context.Context, dq backend.DataQuery, uid string, fromAlert bool) backend.DataResponse {
	q, err := ParseQuery(dq.JSON, dq.QueryType)
	if err != nil {
		return errorResponse(backend.DownstreamError(err))
	}
	if fromAlert && q.QueryType != TypeSQL && q.QueryType != TypeSpaces && q.QueryType != TypeAlertState && q.CompleteBuckets == 0 {
		q.CompleteBuckets = -1 // complete buckets of the whole range
	}
	ctx, cancel := d.queryContext(ctx)
	defer cancel()
	conn, err := d.connection(ctx)
	if err != nil {
		return errorResponse(err)
	}
	ctx = d.withSettings(ctx, q.QueryType == TypeSQL)
	r := request{Query: q, uid: uid}
	r.from = dq.TimeRange.From.UTC().Truncate(time.Second)
	r.to = dq.TimeRange.To.UTC().Truncate(time.Second)
	if r.to.Before(r.from) {
		return errorResponse(backend.DownstreamErrorf("time range %s to %s is empty", r.from, r.to))
	}
	minutes := q.QueryType == TypeErrorsByCode || q.QueryType == TypeJoinLatency ||
		(q.QueryType == TypeJoinFailureRate && q.GroupBy != "" && q.GroupBy != "room")
	r.step = q.step(dq.Interval, r.to.Sub(r.from), dq.MaxDataPoints, minutes)
	if q.CompleteBuckets != 0 {
		r.completeBuckets(dq.TimeRange.To.UTC())
		if r.to.Before(r.from) {
			return backend.DataResponse{Frames: data.Frames{data.NewFrame(q.QueryType)}}
		}
	}

	var frames data.Frames
	switch q.QueryType {
	case TypeSQL:
		frames, err = d.rawSQL(ctx, conn, r, dq)
	case TypeSpaces:
		frames, err = d.spaces(ctx, conn, r)
	case TypeAlertState:
		frames, err = d.alertState(ctx, conn, r, fromAlert)
	default:
		frames, err = d.perRoom(ctx, conn, r)
	}
	if err != nil {
		return errorResponse(classify(err))
	}
	return backend.DataResponse{Frames: frames}
}

// completeBuckets narrows [from, to] to buckets that ended by end: with CompleteBuckets = n > 0
// the last n such buckets, with -1 every complete bucket inside the range.
func (r *request) completeBuckets(end time.Time) {
	step := int64(r.step / time.Second)
	lastEnd := end.Unix() / step * step // exclusive end of the last complete bucket
	first := (r.from.Unix() + step - 1) / step * step
	if r.CompleteBuckets > 0 {
		first = lastEnd - int64(r.CompleteBuckets)*step
	}
	r.from, r.to = time.Unix(first, 0).UTC(), time.Unix(lastEnd-1, 0).UTC()
}

// rooms returns the rooms a query covers: its own (each must have events), or every room with
// events in the window.
func (d *Datasource) rooms(ctx context.Context, conn driver.Conn, r request) ([]string, error) {
	if len(r.Rooms) == 0 {
		spaces, err := warehouse.SpacesIn(ctx, conn, r.from, r.to, maximumRoomsPerPull)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(spaces))
		for i, s := range spaces {
			out[i] = s.Space
		}
		return out, nil
	}
	for _, room := range r.Rooms {
		ok, err := warehouse.SpaceExists(ctx, conn, room)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, backend.DownstreamErrorf("room %q has no events: pick a room from the list", room)
		}
	}
	return r.Rooms, nil
}

// perRoom runs a typed query for each room, a frame (or a frame per value) each.
func (d *Datasource) perRoom(ctx context.Context, conn driver.Conn, r request) (data.Frames, error) {
	rooms, err := d.rooms(ctx, conn, r)
	if err != nil {
		return nil, err
	}
	buckets := int64(r.to.Sub(r.from)/r.step) + 1
	if rows := buckets * int64(len(rooms)); rows > int64(d.settings.RowLimit) {
		return nil, backend.DownstreamErrorf("%d rooms x %d buckets of %s is over the row limit %d: widen the interval or narrow the time range",
			len(rooms), buckets, r.step, d.settings.RowLimit)
	}
	var frames data.Frames
	for _, room := range rooms {
		var f data.Frames
		switch r.QueryType {
		case TypeConcurrency:
			f, err = d.concurrency(ctx, conn, r, room)
		case TypeActivity:
			f, err = activity(ctx, conn, r, room)
		case TypeJoinFailureRate:
			f, err = d.failureRate(ctx, conn, r, room)
		case TypeErrorsByCode:
			f, err = errorsByCode(ctx, conn, r, room)
		case TypeJoinLatency:
			f, err = joinLatency(ctx, conn, r, room)
		}
		if err != nil {
			return nil, err
		}
		frames = append(frames, f...)
		if n := rowsOf(frames); n > d.settings.RowLimit {
			return nil, backend.DownstreamErrorf("result has %d rows, over the row limit %d: narrow the query", n, d.settings.RowLimit)
		}
	}
	if len(frames) == 0 {
		frames = data.Frames{data.NewFrame(r.QueryType)}
	}
	return frames, nil
}

func rowsOf(frames data.Frames) int {
	n := 0
	for _, f := range frames {
		if len(f.Fields) > 0 {
			n += f.Fields[0].Len()
		}
	}
	return n
}

// LiveChannel is the Grafana Live channel of a room's concurrency, for datasource uid.
func LiveChannel(uid, room string) string {
	return live.Channel{Scope: live.ScopeDatasource, Namespace: uid, Path: streamPath(room)}.String()
}

// streamPath is the channel path of a room: concurrency/<room, base64url>, since channel paths
// allow only a few characters and a room id may hold any.
func streamPath(room string) string {
	return streamPrefix + base64.RawURLEncoding.EncodeToString([]byte(room))
}

const streamPrefix = "concurrency/"

func seriesMeta(r request, file string) *data.FrameMeta {
	return &data.FrameMeta{
		Type:                data.FrameTypeTimeSeriesMulti,
		TypeVersion:         data.FrameTypeVersion{0, 1},
		ExecutedQueryString: fmt.Sprintf("sql/queries/%s.sql from %s to %s step %s", file, r.from.Format(time.RFC3339), r.to.Format(time.RFC3339), r.step),
	}
}

func (d *Datasource) concurrency(ctx context.Context, conn driver.Conn, r request, room string) (data.Frames, error) {
	s, err := d.concurrencyCurve(ctx, conn, room, r.from, r.to, r.step)
	if err != nil {
		return nil, err
	}
	values := s.Peak
	if r.Reduce == ReduceLast {
		values = s.Last
	}
	listeners := data.NewField("listeners", data.Labels{"room": room}, values)
	listeners.Config = &data.FieldConfig{DisplayNameFromDS: room, Unit: "short"}
	f := data.NewFrame("concurrency", data.NewField("time", nil, s.Time), listeners)
	f.Meta = seriesMeta(r, "concurrency")
	if r.Live && r.uid != "" {
		reduce := r.Reduce
		if reduce == "" {
			reduce = ReducePeak
		}
		f.Meta.Custom = map[string]any{"live": LiveMeta{
			Channel:       LiveChannel(r.uid, room),
			StepSeconds:   int64(r.step / time.Second),
			Reduce:        reduce,
			WindowSeconds: int64((StreamLateness + StreamMargin) / time.Second),
		}}
	}
	return data.Frames{f}, nil
}

// concurrencyCurve is warehouse.ConcurrencyBuckets through the curve cache (exact: see curveCache).
func (d *Datasource) concurrencyCurve(ctx context.Context, conn driver.Conn, room string, from, to time.Time, step time.Duration) (warehouse.ConcurrencySeries, error) {
	version, err := warehouse.RollupVersion(ctx, conn, to)
	if err != nil {
		return warehouse.ConcurrencySeries{}, err
	}
	key := curveKey{room: room, from: from.Unix(), to: to.Unix(), step: step}
	if s, ok := d.curves.get(key, version); ok {
		return s, nil
	}
	s, err := warehouse.ConcurrencyBuckets(ctx, conn, room, from, to, step)
	if err != nil {
		return s, err
	}
	d.curves.put(key, version, s)
	return s, nil
}

func activity(ctx context.Context, conn driver.Conn, r request, room string) (data.Frames, error) {
	s, err := warehouse.Activity(ctx, conn, room, r.from, r.to, r.step)
	if err != nil {
		return nil, err
	}
	labels := data.Labels{"room": room}
	f := data.NewFrame("activity",
		data.NewField("time", nil, s.Time),
		data.NewField("joins", labels, s.Joins),
		data.NewField("leaves", labels, s.Leaves),
		data.NewField("technical_failures", labels, s.TechnicalFailures),
		data.NewField("business_failures", labels, s.BusinessFailures),
		data.NewField("session_errors", labels, s.SessionErrors))
	f.Meta = seriesMeta(r, "activity")
	return data.Frames{f}, nil
}

func (d *Datasource) failureRate(ctx context.Context, conn driver.Conn, r request, room string) (data.Frames, error) {
	var (
		s     warehouse.RateSeries
		stats *userStats
		err   error
	)
	file := "failure_rate"
	switch {
	case r.Rate == RatePerUser:
		file = "user_failure_rate"
		var us userStats
		s, us, err = d.userFailureRate(ctx, conn, room, r.from, r.to, r.step)
		stats = &us
	case r.GroupBy != "" && r.GroupBy != "room":
		file = "failure_rate_by"
		s, err = warehouse.FailureRateBy(ctx, conn, room, r.from, r.to, r.step, r.GroupBy)
	default:
		s, err = warehouse.FailureRateSeries(ctx, conn, room, r.from, r.to, r.step)
	}
	if err != nil {
		return nil, err
	}
	var frames data.Frames
	for _, g := range groupRows(s.Value) {
		labels := data.Labels{"room": room}
		name := room
		if s.Value != nil {
			labels[r.GroupBy] = g.value
			name = fmt.Sprintf("%s %s=%s", room, r.GroupBy, g.value)
		}
		rate := data.NewField("rate", labels, gather(s.Rate, g.rows))
		rate.Config = &data.FieldConfig{DisplayNameFromDS: name, Unit: "percentunit", NoValue: "not enough data"}
		fields := []*data.Field{data.NewField("time", nil, gather(s.Time, g.rows)), rate}
		if r.IncludeCounts {
			fields = append(fields,
				data.NewField("attempts", labels, gather(s.Attempts, g.rows)),
				data.NewField("failures", labels, gather(s.TechnicalFailures, g.rows)))
			if s.Users != nil {
				fields = append(fields, data.NewField("users", labels, gather(s.Users, g.rows)))
			}
		}
		f := data.NewFrame("joinFailureRate", fields...)
		f.Meta = seriesMeta(r, file)
		if stats != nil {
			f.Meta.Stats = stats.meta()
			f.Meta.ExecutedQueryString += stats.String()
		}
		frames = append(frames, f)
	}
	return frames, nil
}

func errorsByCode(ctx context.Context, conn driver.Conn, r request, room string) (data.Frames, error) {
	s, err := warehouse.ErrorsByCode(ctx, conn, room, r.from, r.to, r.step, r.TechnicalOnly)
	if err != nil {
		return nil, err
	}
	var frames data.Frames
	for _, g := range groupRows(s.Code) {
		tech := "true"
		if !s.Technical[g.rows[0]] {
			tech = "false"
		}
		code := g.value
		if code == "" {
			code = "(none)"
		}
		errs := data.NewField("errors", data.Labels{"room": room, "code": code, "technical": tech}, gather(s.Errors, g.rows))
		errs.Config = &data.FieldConfig{DisplayNameFromDS: code}
		f := data.NewFrame("errorsByCode", data.NewField("time", nil, gather(s.Time, g.rows)), errs)
		f.Meta = seriesMeta(r, "errors_by_code")
		frames = append(frames, f)
	}
	return frames, nil
}

func joinLatency(ctx context.Context, conn driver.Conn, r request, room string) (data.Frames, error) {
	dim := r.GroupBy
	if dim == "room" {
		dim = ""
	}
	s, err := warehouse.JoinLatency(ctx, conn, room, r.from, r.to, r.step, dim)
	if err != nil {
		return nil, err
	}
	percentiles := r.Percentiles
	if len(percentiles) == 0 {
		percentiles = Percentiles
	}
	values := s.Value
	if dim == "" {
		values = nil
	}
	var frames data.Frames
	for _, g := range groupRows(values) {
		fields := []*data.Field{data.NewField("time", nil, gather(s.Time, g.rows))}
		for _, p := range percentiles {
			labels := data.Labels{"room": room}
			name := room + " " + p
			if dim != "" {
				labels[dim] = g.value
				name = fmt.Sprintf("%s %s=%s %s", room, dim, g.value, p)
			}
			col := map[string][]float64{"p50": s.P50, "p95": s.P95, "p99": s.P99}[p]
			f := data.NewField(p, labels, gather(col, g.rows))
			f.Config = &data.FieldConfig{DisplayNameFromDS: name, Unit: "ms"}
			fields = append(fields, f)
		}
		f := data.NewFrame("joinLatency", fields...)
		f.Meta = seriesMeta(r, "join_latency")
		frames = append(frames, f)
	}
	return frames, nil
}

func (d *Datasource) spaces(ctx context.Context, conn driver.Conn, r request) (data.Frames, error) {
	infos, err := warehouse.SpacesIn(ctx, conn, r.from, r.to, min(d.settings.RowLimit, maxSummaryRooms))
	if err != nil {
		return nil, err
	}
	if len(r.Rooms) > 0 {
		keep := infos[:0]
		for _, s := range infos {
			for _, want := range r.Rooms {
				if s.Space == want {
					keep = append(keep, s)
				}
			}
		}
		infos = keep
	}
	n := len(infos)
	var (
		room, peakAt, first, last     = make([]string, n), make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		peak, joins, attempts, unique = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		rate, userRate, p95, retry    = make([]*float64, n), make([]*float64, n), make([]*float64, n), make([]*float64, n)
	)
	for i, info := range infos {
		s, err := warehouse.RoomSummary(ctx, conn, info.Space, r.from, r.to)
		if err != nil {
			return nil, err
		}
		room[i], first[i], last[i] = info.Space, info.First, info.Last
		peak[i], peakAt[i] = s.Peak.Listeners, s.Peak.Time
		joins[i], attempts[i], unique[i] = s.Joins, s.JoinAttempts, s.UniqueListeners
		rate[i], userRate[i], retry[i] = s.JoinFailureRate, s.PerUserFailureRate, s.RetryAmplification
		if s.JoinLatencyP95 != nil {
			v := float64(*s.JoinLatencyP95)
			p95[i] = &v
		}
	}
	f := data.NewFrame("spaces",
		data.NewField("room", nil, room),
		data.NewField("first_event", nil, first),
		data.NewField("last_event", nil, last),
		data.NewField("peak_listeners", nil, peak),
		data.NewField("peak_at", nil, peakAt),
		data.NewField("joins", nil, joins),
		data.NewField("join_attempts", nil, attempts),
		data.NewField("join_failure_rate", nil, rate),
		data.NewField("per_user_failure_rate", nil, userRate),
		data.NewField("retry_amplification", nil, retry),
		data.NewField("unique_listeners", nil, unique),
		data.NewField("join_latency_p95_ms", nil, p95))
	f.Meta = &data.FrameMeta{Type: data.FrameTypeTable, ExecutedQueryString: "sql/queries/spaces_in_window.sql + summary.sql + user_failure_rate.sql + concurrency.sql (peak) per room"}
	return data.Frames{f}, nil
}

// maxSummaryRooms bounds the rooms of a spaces table (each costs a summary query).
const maxSummaryRooms = 200

// group is the rows of one value of a column.
type group struct {
	value string
	rows  []int
}

// groupRows splits row indexes by value, in order of first appearance; a nil column is one group
// of every row (a nil column has no rows, so the caller passes the length via an all-rows group).
func groupRows(values []string) []group {
	if values == nil {
		return []group{{rows: nil}}
	}
	index := map[string]int{}
	var out []group
	for i, v := range values {
		j, ok := index[v]
		if !ok {
			j = len(out)
			index[v] = j
			out = append(out, group{value: v})
		}
		out[j].rows = append(out[j].rows, i)
	}
	return out
}

// gather returns col[rows...], or col itself when rows is nil (the whole column, no copy).
func gather[T any](col []T, rows []int) []T {
	if rows == nil {
		if col == nil {
			return []T{}
		}
		return col
	}
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = col[r]
	}
	return out
}

// errorResponse makes a DataResponse of err: downstream errors (the user's to fix) as 400.
func errorResponse(err error) backend.DataResponse {
	if backend.IsDownstreamError(err) {
		return backend.ErrDataResponseWithSource(backend.StatusBadRequest, backend.ErrorSourceDownstream, err.Error())
	}
	return backend.ErrDataResponseWithSource(backend.StatusInternal, backend.ErrorSourcePlugin, err.Error())
}
