package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
)

// TestRunStreamSendsNewSeconds subscribes to a room's concurrency channel, then inserts joins at
// seconds after the stream started and waits for the plugin to push those seconds with the
// brute-force CCL.
func TestRunStreamSendsNewSeconds(t *testing.T) {
	conn, cfg, _ := newDB(t)
	in := newInstance(cfg, cfg.Password, map[string]any{"streamDelaySeconds": 1})
	c := launch(t)
	const room = "live room/ü" // not a valid channel path as is: the plugin encodes it
	start := time.Now().UTC().Truncate(time.Second)
	var evs []event
	mk := func(ts time.Time, kind string) event {
		e := event{id: newID(), kind: kind, ts: ts, space: room, session: newID(), user: "u", client: "ios", joinMs: 100}
		if kind == "leave" {
			e.reason, e.joinMs = "user", -1
		}
		return e
	}
	for s := 20; s >= 3; s-- {
		evs = append(evs, mk(start.Add(-time.Duration(s)*time.Second), "join"))
	}
	insert(t, conn, evs)
	m := model{evs: append([]event(nil), evs...)}

	// The channel path comes from a concurrency query with live: true, as the panel gets it.
	frames := c.one(t, in, query{from: start.Add(-time.Minute), to: start, interval: time.Second,
		model: map[string]any{"queryType": "concurrency", "rooms": []string{room}, "live": true}})
	channel := frames[0].Meta.Channel
	path := "concurrency/" + base64.RawURLEncoding.EncodeToString([]byte(room))
	if want := "ds/" + in.pc.DataSourceInstanceSettings.UID + "/" + path; channel != want {
		t.Fatalf("channel %q, want %q", channel, want)
	}

	pc := backend.ToProto().PluginContext(in.pc)
	sub, err := c.stream.SubscribeStream(ctx(t), &pluginv2.SubscribeStreamRequest{PluginContext: pc, Path: path})
	if err != nil || sub.Status != pluginv2.SubscribeStreamResponse_OK {
		t.Fatalf("subscribe: %v %v", sub, err)
	}
	bad, err := c.stream.SubscribeStream(ctx(t), &pluginv2.SubscribeStreamRequest{PluginContext: pc, Path: "concurrency/bm8tc3VjaC1yb29t"})
	if err != nil || bad.Status != pluginv2.SubscribeStreamResponse_NOT_FOUND {
		t.Errorf("subscribe to a room without events: %v %v", bad, err)
	}

	runCtx := ctx(t)
	stream, err := c.stream.RunStream(runCtx, &pluginv2.RunStreamRequest{PluginContext: pc, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	got := map[int64]int64{}
	packets := make(chan error, 1)
	go func() {
		for {
			p, err := stream.Recv()
			if err != nil {
				packets <- err
				return
			}
			var f data.Frame
			if err := json.Unmarshal(p.Data, &f); err != nil {
				packets <- err
				return
			}
			ts, _ := f.FieldByName("time")
			vs, _ := f.FieldByName("listeners")
			mu.Lock()
			for i := range ts.Len() {
				got[ts.At(i).(time.Time).Unix()] = vs.At(i).(int64)
			}
			mu.Unlock()
		}
	}()

	// New events in the seconds after the stream started: 3 joins, then a leave.
	later := []event{mk(start.Add(2*time.Second), "join"), mk(start.Add(2*time.Second), "join"),
		mk(start.Add(3*time.Second), "join"), mk(start.Add(4*time.Second), "leave")}
	time.Sleep(time.Until(start.Add(2 * time.Second)))
	insert(t, conn, later)
	m.evs = append(m.evs, later...)

	deadline := time.Now().Add(20 * time.Second)
	want := map[int64]int64{}
	for s := 2; s <= 5; s++ {
		ts := start.Add(time.Duration(s) * time.Second)
		want[ts.Unix()] = m.ccl(room, ts)
	}
	for {
		mu.Lock()
		ok := true
		var diff string
		for s, w := range want {
			if g, seen := got[s]; !seen || g != w {
				ok = false
				diff = fmt.Sprintf("second %s: got %d (seen %v), want %d", time.Unix(s, 0).UTC().Format(time.TimeOnly), g, seen, w)
			}
		}
		mu.Unlock()
		if ok {
			break
		}
		select {
		case err := <-packets:
			t.Fatalf("stream ended: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream did not send the new seconds in time: %s", diff)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if want[start.Add(5*time.Second).Unix()] != 20 {
		t.Errorf("model: CCL after the new events is %d, want 18 + 3 - 1", want[start.Add(5*time.Second).Unix()])
	}
}
