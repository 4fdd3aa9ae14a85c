package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
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
	lm := liveMetaOf(t, frames[0])
	path := "concurrency/" + base64.RawURLEncoding.EncodeToString([]byte(room))
	if want := "ds/" + in.pc.DataSourceInstanceSettings.UID + "/" + path; lm.Channel != want {
		t.Fatalf("channel %q, want %q", lm.Channel, want)
	}
	if frames[0].Meta.Channel != "" {
		t.Errorf("meta.channel %q: want it empty (Grafana would append the pushes itself)", frames[0].Meta.Channel)
	}
	if lm.StepSeconds != 1 || lm.Reduce != "peak" || lm.WindowSeconds != 630 {
		t.Errorf("meta.custom.live %+v: want step 1, reduce peak, window 630", lm)
	}

	pc := backend.ToProto().PluginContext(in.pc)
	bad, err := c.stream.SubscribeStream(ctx(t), &pluginv2.SubscribeStreamRequest{PluginContext: pc, Path: "concurrency/bm8tc3VjaC1yb29t"})
	if err != nil || bad.Status != pluginv2.SubscribeStreamResponse_NOT_FOUND {
		t.Errorf("subscribe to a room without events: %v %v", bad, err)
	}
	v := c.watch(t, in, path, nil)
	got, packets := v.got, v.errs

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
		v.mu.Lock()
		ok := true
		var diff string
		for s, w := range want {
			if g, seen := got[s]; !seen || g != w {
				ok = false
				diff = fmt.Sprintf("second %s: got %d (seen %v), want %d", time.Unix(s, 0).UTC().Format(time.TimeOnly), g, seen, w)
			}
		}
		v.mu.Unlock()
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

// liveMeta is meta.custom.live of a live concurrency frame (plugin.LiveMeta, read as the front
// end reads it: from the JSON).
type liveMeta struct {
	Channel       string `json:"channel"`
	StepSeconds   int64  `json:"stepSeconds"`
	Reduce        string `json:"reduce"`
	WindowSeconds int64  `json:"windowSeconds"`
}

func liveMetaOf(t *testing.T, f *data.Frame) liveMeta {
	t.Helper()
	if f.Meta == nil || f.Meta.Custom == nil {
		t.Fatal("live frame without meta.custom")
	}
	b, err := json.Marshal(f.Meta.Custom)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Live liveMeta `json:"live"`
	}
	if err := json.Unmarshal(b, &c); err != nil || c.Live.Channel == "" {
		t.Fatalf("meta.custom %s: want live.channel (%v)", b, err)
	}
	return c.Live
}

// liveView is what a viewer of a channel holds: the listeners per second (unix), seeded from the
// panel's query frame and merged with every push by time, a re-sent second replacing the value it
// had (what src/live.ts does at a 1-second step).
type liveView struct {
	mu     sync.Mutex
	got    map[int64]int64
	pushes []int // rows per push
	errs   chan error
}

// watch subscribes to path and runs the stream until t ends, merging pushes into a liveView
// seeded with base (the query's frame; nil for none).
func (c *client) watch(t *testing.T, in instance, path string, base *data.Frame) *liveView {
	t.Helper()
	v := &liveView{got: map[int64]int64{}, errs: make(chan error, 1)}
	if base != nil {
		v.merge(base)
	}
	pc := backend.ToProto().PluginContext(in.pc)
	sub, err := c.stream.SubscribeStream(ctx(t), &pluginv2.SubscribeStreamRequest{PluginContext: pc, Path: path})
	if err != nil || sub.Status != pluginv2.SubscribeStreamResponse_OK {
		t.Fatalf("subscribe: %v %v", sub, err)
	}
	stream, err := c.stream.RunStream(ctx(t), &pluginv2.RunStreamRequest{PluginContext: pc, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			p, err := stream.Recv()
			if err != nil {
				v.errs <- err
				return
			}
			var f data.Frame
			if err := json.Unmarshal(p.Data, &f); err != nil {
				v.errs <- err
				return
			}
			v.merge(&f)
		}
	}()
	return v
}

func (v *liveView) merge(f *data.Frame) {
	ts, _ := f.FieldByName("time")
	vs, _ := f.FieldByName("listeners")
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range ts.Len() {
		v.got[ts.At(i).(time.Time).Unix()] = vs.At(i).(int64)
	}
	v.pushes = append(v.pushes, ts.Len())
}

// curve is the view over [from, to], and whether it has every second of it.
func (v *liveView) curve(from, to time.Time) ([]int64, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []int64
	for s := from.Unix(); s <= to.Unix(); s++ {
		x, ok := v.got[s]
		if !ok {
			return nil, false
		}
		out = append(out, x)
	}
	return out, true
}

// TestRunStreamCorrectsLateSeconds streams a room's curve, then lands a burst of late joins and
// leaves in seconds the stream has already sent (within the lateness it corrects). The viewer's
// curve, the query's frame merged with every push by time, must come to equal the brute-force
// CCL and the curve QueryData returns, second by second, with no reload.
func TestRunStreamCorrectsLateSeconds(t *testing.T) {
	conn, cfg, _ := newDB(t)
	in := newInstance(cfg, cfg.Password, map[string]any{"streamDelaySeconds": 1})
	c := launch(t)
	const room = "late room"
	mk := func(ts time.Time, kind, user string) event {
		e := event{id: newID(), kind: kind, ts: ts, space: room, session: newID(), user: user, client: "ios", joinMs: 100}
		if kind == "leave" {
			e.reason, e.joinMs = "user", -1
		}
		return e
	}
	start := time.Now().UTC().Truncate(time.Second)
	from := start.Add(-40 * time.Second)
	var evs []event
	for s := 40; s >= 3; s-- {
		evs = append(evs, mk(start.Add(-time.Duration(s)*time.Second), "join", fmt.Sprint("u", s)))
	}
	insert(t, conn, evs)
	m := model{evs: append([]event(nil), evs...)}

	// The panel: its query, then the stream merged into it.
	curveQuery := func(to time.Time) query {
		return query{from: from, to: to, interval: time.Second,
			model: map[string]any{"queryType": "concurrency", "rooms": []string{room}, "live": true, "reduce": "last"}}
	}
	base := c.one(t, in, curveQuery(start))[0]
	path := liveMetaOf(t, base).Channel[len("ds/"+in.pc.DataSourceInstanceSettings.UID+"/"):]
	v := c.watch(t, in, path, base)

	// waitFor polls until the view over [from, to] equals want(), failing after 20 s.
	waitFor := func(stage string, to time.Time, want func() []int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got, ok := v.curve(from, to)
			w := want()
			if ok && fmt.Sprint(got) == fmt.Sprint(w) {
				return
			}
			select {
			case err := <-v.errs:
				t.Fatalf("%s: stream ended: %v", stage, err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the streamed curve over %s..%s\n got %v (complete %v)\nwant %v", stage,
					from.Format(time.TimeOnly), to.Format(time.TimeOnly), got, ok, w)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	brute := func(to time.Time) func() []int64 {
		return func() []int64 {
			_, w := m.concurrency(room, from, to, time.Second, true)
			return w
		}
	}
	waitFor("before the late events", start.Add(time.Second), brute(start.Add(time.Second)))

	// A burst of late events in seconds already sent: 3 joins 30 s back, a leave of one of the
	// first listeners 20 s back, 2 joins 10 s back, a leave 4 s back; and one on time.
	now := time.Now().UTC().Truncate(time.Second)
	late := []event{
		mk(now.Add(-30*time.Second), "join", "l1"), mk(now.Add(-30*time.Second), "join", "l2"),
		mk(now.Add(-30*time.Second), "join", "l3"), mk(now.Add(-20*time.Second), "leave", "u40"),
		mk(now.Add(-10*time.Second), "join", "l4"), mk(now.Add(-10*time.Second), "join", "l5"),
		mk(now.Add(-4*time.Second), "leave", "l1"), mk(now, "join", "l6"),
	}
	insert(t, conn, late)
	m.evs = append(m.evs, late...)
	end := now.Add(2 * time.Second)
	waitFor("after the late events", end, brute(end))

	// The same curve as the panel's query now returns (after a reload).
	_, queried := series[int64](t, c.one(t, in, curveQuery(end))[0], "listeners")
	got, _ := v.curve(from, end)
	same(t, "streamed vs queried curve", got, queried)
	if _, w := m.concurrency(room, from, end, time.Second, true); w[len(w)-1] != 38+3-1+2-1+1 {
		t.Errorf("model: CCL at the end is %d, want 42", w[len(w)-1])
	}
	v.mu.Lock()
	t.Logf("rows per push (the first is the query's frame): %v", v.pushes)
	v.mu.Unlock()
}
