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
	// streamCatchUp is the most seconds one push carries (after an outage, older seconds are
	// skipped: the panel's query has them).
	streamCatchUp = 10 * time.Minute
)

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

// RunStream pushes, once a second, the concurrency of the channel's room for every second that
// became complete since the last push (a second is complete StreamDelay after it ended). Grafana
// runs one RunStream per channel whatever the number of viewers, so the only state is the last
// second sent. ClickHouse errors are logged and retried with exponential backoff (1s to 30s).
func (d *Datasource) RunStream(ctx context.Context, req *backend.RunStreamRequest, sender *backend.StreamSender) error {
	room, err := roomOfPath(req.Path)
	if err != nil {
		return err
	}
	last := d.completeSecond(nowFunc()) - 1 // the first push carries the newest complete second
	backoff := time.Duration(0)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		upTo := d.completeSecond(nowFunc())
		if upTo <= last {
			timer.Reset(streamTick)
			continue
		}
		from := max(last+1, upTo-int64(streamCatchUp/time.Second)+1)
		sent, err := d.pushSeconds(ctx, sender, room, from, upTo)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			backoff = min(max(2*backoff, streamBackoffMin), streamBackoffMax)
			d.logger.Warn("stream concurrency", "room", room, "error", err.Error(), "retry_in", backoff.String())
			timer.Reset(backoff)
			continue
		}
		backoff = 0
		if sent {
			last = upTo
		}
		timer.Reset(streamTick)
	}
}

// completeSecond is the newest second that is complete at now.
func (d *Datasource) completeSecond(now time.Time) int64 {
	return now.Add(-d.settings.StreamDelay).Unix() - 1
}

func (d *Datasource) pushSeconds(ctx context.Context, sender *backend.StreamSender, room string, from, to int64) (bool, error) {
	qctx, cancel := d.queryContext(ctx)
	defer cancel()
	conn, err := d.connection(qctx)
	if err != nil {
		return false, err
	}
	s, err := warehouse.ConcurrencyBuckets(qctx, conn, room, time.Unix(from, 0), time.Unix(to, 0), time.Second)
	if err != nil {
		return false, err
	}
	listeners := data.NewField("listeners", data.Labels{"room": room}, s.Last)
	listeners.Config = &data.FieldConfig{DisplayNameFromDS: room}
	f := data.NewFrame("concurrency", data.NewField("time", nil, s.Time), listeners)
	if err := sender.SendFrame(f, data.IncludeAll); err != nil {
		return false, fmt.Errorf("send frame: %w", err)
	}
	return true, nil
}
