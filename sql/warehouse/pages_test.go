package warehouse_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// TestRetryPage: 60 attempts a minute, by 60 users (amplification 1) or 20 users trying 3 times
// each (3); minutes 2-5 over 2 fire at the end of the third (t0+5m) and minute 6 clears
// (t0+7m); two bad minutes (7-8) are not enough.
func TestRetryPage(t *testing.T) {
	conn, _ := newTestDB(t)
	ctx := testContext(t)
	amplification := []int{1, 1, 3, 3, 3, 3, 1, 3, 3, 1}
	var evs []event
	for m, a := range amplification {
		for i := range 60 {
			user := fmt.Sprintf("u%d-%d", m, i/a)
			e := event{ID: uuid.New(), Session: uuid.New(), Space: "retry", User: user, Role: "listener", JoinMs: -1,
				Kind: "join", TsMs: t0.Add(time.Duration(m)*time.Minute + time.Duration(i)*time.Second).UnixMilli()}
			if i%a != a-1 { // the user's tries before the last fail
				e.Kind, e.Phase, e.Code = "error", "join", "timeout"
			}
			evs = append(evs, e)
		}
	}
	insertEvents(t, ctx, conn, evs)
	ms, err := warehouse.AlertState(ctx, conn, "retry", t0, t0.Add(10*time.Minute-time.Second), warehouse.RetryRule, warehouse.Watermark{})
	if err != nil {
		t.Fatal(err)
	}
	if got := timeline(warehouse.Transitions(ms)); got != "5-7" {
		t.Fatalf("retry page %q, want 5-7 (minutes %+v)", got, ms)
	}
	if v := ms[2].Value; v == nil || *v != 3 || ms[2].Counts != [2]int64{60, 20} {
		t.Fatalf("minute 2: %+v, want amplification 3 of 60 attempts by 20 users", ms[2])
	}
}

// TestCrashPage: 300 listeners join in minute 0; at t0+3m30s 40 % drop (reason error): the page
// fires at the end of minute 3 and clears at the end of minute 6, the first minute whose 2-minute
// window no longer holds the peak before the crash. 200 join in minute 7; the room ends at
// t0+10m30s (every listener leaves with reason ended): a fall of 100 %, not paged.
func TestCrashPage(t *testing.T) {
	conn, _ := newTestDB(t)
	ctx := testContext(t)
	var evs []event
	type session struct {
		id   uuid.UUID
		user string
	}
	var live []session
	join := func(at time.Duration, n int) {
		for i := range n {
			s := session{uuid.New(), fmt.Sprintf("u%d-%d", at/time.Second, i)}
			live = append(live, s)
			evs = append(evs, event{ID: uuid.New(), Session: s.id, Space: "crash", User: s.user, Role: "listener", JoinMs: 500,
				Kind: "join", TsMs: t0.Add(at + time.Duration(i)*time.Minute/time.Duration(n)).UnixMilli()})
		}
	}
	leave := func(at time.Duration, n int, reason string) {
		for _, s := range live[:n] {
			evs = append(evs, event{ID: uuid.New(), Session: s.id, Space: "crash", User: s.user, Role: "listener", JoinMs: -1,
				Kind: "leave", Reason: reason, TsMs: t0.Add(at).UnixMilli()})
		}
		live = live[n:]
	}
	join(0, 300)
	leave(3*time.Minute+30*time.Second, 120, "error")
	join(7*time.Minute, 200)
	leave(10*time.Minute+30*time.Second, len(live), "ended")
	insertEvents(t, ctx, conn, evs)
	ms, err := warehouse.AlertState(ctx, conn, "crash", t0, t0.Add(15*time.Minute-time.Second), warehouse.CrashRule, warehouse.Watermark{})
	if err != nil {
		t.Fatal(err)
	}
	if got := timeline(warehouse.Transitions(ms)); got != "4-7" {
		t.Fatalf("crash page %q, want 4-7 (minutes %+v)", got, ms)
	}
	if v := ms[3].Value; v == nil || *v < 0.39 || *v > 0.41 || ms[3].Counts != [2]int64{300, 180} {
		t.Fatalf("minute 3: %+v, want a fall of 40 %% from 300 to 180", ms[3])
	}
	for _, m := range ms[10:13] {
		if m.State != "good" || m.Value == nil || *m.Value < 0.99 {
			t.Fatalf("minute %s: %+v, want a fall of 100 %% judged good (a room end)", m.Start, m)
		}
	}
	if ms[14].State != "no_data" {
		t.Fatalf("minute 14: %+v, want no data (no listeners)", ms[14])
	}
}
