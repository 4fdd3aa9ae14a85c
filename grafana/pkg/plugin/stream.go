package plugin

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// Stream timing: RunStream polls every streamTick and backs off from streamBackoffMin to
// streamBackoffMax while ClickHouse fails.
const (
	streamTick       = time.Second
	streamBackoffMin = time.Second
	streamBackoffMax = 30 * time.Second
	// StreamLateness is the lateness allowance the stream corrects: an event may land up to this
	// long after its second (the transport of README.md delivers 1 % of events up to 10 minutes
	// late). Later events are in the next panel query, not in the stream.
	StreamLateness = 10 * time.Minute
	// StreamMargin widens the window for the time between an event's arrival and its insert
	// (the consumer's batches, a retried insert).
	StreamMargin = 30 * time.Second
	// streamRefresh is how often a push carries the whole window, changed or not: a viewer that
	// subscribed between two pushes, or lost one, is exact again after at most this long.
	streamRefresh = 30 * time.Second
)

// LiveMeta is meta.custom.live of a live concurrency frame: what src/live.ts needs to merge the
// channel's pushes into the frame. The channel is deliberately not in meta.channel: there Grafana's
// DataSourceWithBackend would append every push to a StreamingDataFrame, so a re-sent second
// would be a second point at the same time (and, a whole window re-sent each second, would push
// the queried history out of the buffer's maxLength rows).
type LiveMeta struct {
	// Channel is the Grafana Live channel of the room (LiveChannel).
	Channel string `json:"channel"`
	// StepSeconds is the frame's bucket length; pushes are per second, folded into buckets by Reduce.
	StepSeconds int64 `json:"stepSeconds"`
	// Reduce is peak or last, as the query asked.
	Reduce string `json:"reduce"`
	// WindowSeconds is how far back a push may still correct a second (StreamLateness + StreamMargin).
	WindowSeconds int64 `json:"windowSeconds"`
}

// roomOfPath returns the room of a channel path concurrency/<room, base64url>.
func roomOfPath(path string) (string, error) {
	enc, ok := strings.CutPrefix(path, streamPrefix)
	if !ok {
		return "", fmt.Errorf("channel path %q: want %s<room>", path, streamPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(b) == 0 || len(b) > MaxRoomLength {
		return "", fmt.Errorf("channel path %q: the room is not base64url of 1 to %d bytes", path, MaxRoomLength)
	}
	return string(b), nil
}

// SubscribeStream admits subscribers to concurrency/<room> channels of rooms with events.
func (d *Datasource) SubscribeStream(ctx context.Context, req *backend.SubscribeStreamRequest) (*backend.SubscribeStreamResponse, error) {
	room, err := roomOfPath(req.Path)
	if err != nil {
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	ctx, cancel := d.queryContext(ctx)
	defer cancel()
	conn, err := d.connection(ctx)
	if err != nil {
		return nil, err
	}
	ok, err := warehouse.SpaceExists(ctx, conn, room)
	if err != nil {
		return nil, err
	}
	if !ok {
		d.logger.Debug("refuse stream of a room without events", "room", room)
		return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusNotFound}, nil
	}
	return &backend.SubscribeStreamResponse{Status: backend.SubscribeStreamStatusOK}, nil
}

// PublishStream refuses: the channels are read-only.
func (d *Datasource) PublishStream(context.Context, *backend.PublishStreamRequest) (*backend.PublishStreamResponse, error) {
	return &backend.PublishStreamResponse{Status: backend.PublishStreamStatusPermissionDenied}, nil
}

// RunStream pushes, once a second, the concurrency of the channel's room for every second of the
// window [now - StreamLateness - StreamMargin, newest complete second] whose value is not what it
// last sent: the seconds that became complete (StreamDelay after they ended) and the seconds that
// late events moved since. Every streamRefresh a push carries the whole window. Each row is the
// CCL of its second as ClickHouse has it now, so a viewer keeps, per second, the last value
// received (the front end merges frames by time; see src/live.ts). Grafana runs one RunStream
// per channel whatever the number of viewers, so the only state is what this goroutine last sent
// (sentCurve). The first push carries the whole window; after an outage longer than the window the
// seconds before it are skipped (the panel's query has them). ClickHouse errors are logged and
// retried with exponential backoff (1s to 30s).
func (d *Datasource) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	room, err := roomOfPath(req.Path)
	if err != nil {
		return err
	}
	sent := newSentCurve()
	var full time.Time // when a push last carried the whole window
	backoff := time.Duration(0)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		now := nowFunc()
		if now.Sub(full) >= streamRefresh {
			sent.reset()
			full = now
		}
		upTo := d.completeSecond(now)
		from := upTo - int64((StreamLateness+StreamMargin)/time.Second) + 1
		if err := d.pushChanged(ctx, sender, room, sent, from, upTo); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			backoff = min(max(2*backoff, streamBackoffMin), streamBackoffMax)
			d.logger.Warn("stream concurrency", "room", room, "error", err.Error(), "retry_in", backoff.String())
			timer.Reset(backoff)
			continue
		}
		backoff = 0
		timer.Reset(streamTick)
	}
}

// completeSecond is the newest second that is complete at now.
func (d *Datasource) completeSecond(now time.Time) int64 {
	return now.Add(-d.settings.StreamDelay).Unix() - 1
}

// pushChanged queries the curve over [from, to] and sends the rows that differ from what sent
// holds (none: no frame), recording them once sent.
func (d *Datasource) pushChanged(ctx context.Context, sender *backend.StreamSender, room string, sent *sentCurve, from, to int64) error {
	qctx, cancel := d.queryContext(ctx)
	defer cancel()
	conn, err := d.connection(qctx)
	if err != nil {
		return err
	}
	s, err := warehouse.ConcurrencyBuckets(qctx, conn, room, time.Unix(from, 0), time.Unix(to, 0), time.Second)
	if err != nil {
		return err
	}
	ts, vs := sent.changed(s.Time, s.Last)
	if len(ts) == 0 {
		sent.sent(nil, nil, from)
		return nil
	}
	if err := sender.SendFrame(streamFrame(room, ts, vs), data.IncludeAll); err != nil {
		return fmt.Errorf("send frame: %w", err)
	}
	sent.sent(ts, vs, from)
	return nil
}

// streamFrame is one push: the time and listeners of each second sent, labelled as the query's
// frames are.
func streamFrame(room string, ts []time.Time, vs []int64) *data.Frame {
	listeners := data.NewField("listeners", data.Labels{"room": room}, vs)
	listeners.Config = &data.FieldConfig{DisplayNameFromDS: room}
	return data.NewFrame("concurrency", data.NewField("time", nil, ts), listeners)
}
