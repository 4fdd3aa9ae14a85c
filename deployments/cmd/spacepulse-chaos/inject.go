package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spacepulse/spacepulse/deployments/cmd/internal/harness"
)

// injector carries out a plan against the run's servers and consumer group, each fault at its
// moment in a goroutine of its own (a ClickHouse stop lasts a minute while kills go on), and
// records what it did.
type injector struct {
	out  io.Writer
	t0   time.Time // the start of the load
	srv  *servers  // the single-node run's servers (nil on a cluster)
	cl   *cluster  // the cluster run's servers (nil on a single node)
	g    *group
	term time.Duration // how long a SIGTERMed consumer may take to drain
	// k, group and topic let a long kill check that the group took over the dead member's partitions.
	k            *harness.Kafka
	group, topic string

	mu     sync.Mutex
	done   []Fault  // injected, For as measured
	errors []error  // faults that could not be injected
	hung   []string // consumers that had to be killed after SIGTERM
}

// run injects every fault of plan at t0 + its At and returns when all are over (or ctx ends).
func (in *injector) run(ctx context.Context, plan []Fault) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, f := range plan {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(in.t0.Add(f.At))):
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.inject(ctx, f); err != nil {
				in.mu.Lock()
				in.errors = append(in.errors, err)
				in.mu.Unlock()
				in.say("%s failed: %v", f.Kind, err)
			}
		}()
	}
}

func (in *injector) say(format string, args ...any) {
	in.mu.Lock()
	defer in.mu.Unlock()
	fmt.Fprintf(in.out, "  [%6.1f s]  %s\n", time.Since(in.t0).Seconds(), fmt.Sprintf(format, args...))
}

func (in *injector) record(f Fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.done = append(in.done, f)
}

func (in *injector) inject(ctx context.Context, f Fault) error {
	switch f.Kind {
	case ScaleUp:
		for _, slot := range []int{2, 3} {
			pid, err := in.g.start(slot)
			if err != nil {
				return err
			}
			in.say("scale 1 -> 3: consumer %d started (pid %d)", slot, pid)
		}
	case ScaleDown:
		// Both are stopped whatever the first did: a consumer that does not exit after SIGTERM
		// is a finding (Hung), not a fault left out.
		for _, slot := range []int{3, 2} {
			pid, err := in.g.retire(slot, in.term)
			switch {
			case errors.Is(err, errHung):
				in.mu.Lock()
				in.hung = append(in.hung, err.Error())
				in.mu.Unlock()
				in.say("scale 3 -> 1: %v", err)
			case err != nil:
				return err
			default:
				in.say("scale 3 -> 1: consumer %d (pid %d) stopped with SIGTERM", slot, pid)
			}
		}
	case Kill:
		live := in.g.live()
		// Every member may be down for a moment: the one left after the scale-down, killed a
		// moment ago, restarts 1-5 s later. Wait for it rather than leave a planned kill out.
		for deadline := time.Now().Add(10 * time.Second); len(live) == 0 && time.Now().Before(deadline); live = in.g.live() {
			time.Sleep(100 * time.Millisecond)
		}
		if len(live) == 0 {
			in.say("SIGKILL skipped: no consumer has been running for 10 s")
			return nil
		}
		if !slices.Contains(live, f.Member) {
			f.Member = live[0] // the planned one is down (killed a moment ago): hit another
		}
		pid, err := in.g.signal(f.Member, syscall.SIGKILL, 10*time.Second)
		if err != nil {
			return err
		}
		in.say("SIGKILL consumer %d (pid %d); restart in %.1f s", f.Member, pid, f.For.Seconds())
		in.record(f)
		if f.For >= LongKill && in.k != nil {
			if err := in.replaced(ctx, f); err != nil {
				return err
			}
		} else {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(f.For):
			}
		}
		pid, err = in.g.restart(f.Member)
		if err != nil {
			return err
		}
		if pid != 0 {
			in.say("consumer %d restarted (pid %d)", f.Member, pid)
		}
		return nil
	case ClickHouseStop:
		in.say("stopping ClickHouse for %.0f s", f.For.Seconds())
		if err := in.srv.script(ctx, "clickhouse", "stop"); err != nil {
			return err
		}
		down := time.Now()
		select {
		case <-ctx.Done():
		case <-time.After(f.For):
		}
		err := in.srv.script(context.WithoutCancel(ctx), "clickhouse", "start")
		f.For = time.Since(down)
		in.say("ClickHouse back after %.1f s down", f.For.Seconds())
		if err != nil {
			return err
		}
	case BrokerRestart:
		in.say("restarting the Kafka broker")
		if err := in.srv.script(ctx, "kafka", "stop"); err != nil {
			return err
		}
		down := time.Now()
		err := in.srv.script(context.WithoutCancel(ctx), "kafka", "start")
		f.For = time.Since(down)
		in.say("Kafka broker back after %.1f s down", f.For.Seconds())
		if err != nil {
			return err
		}
	case ReplicaKill, BrokerKill:
		server := "clickhouse"
		if f.Kind == BrokerKill {
			server = "kafka"
		}
		pid, err := in.cl.kill(server, f.Member)
		if err != nil {
			return err
		}
		down := time.Now()
		in.say("SIGKILL %s %d (pid %d); restart in %.1f s", server, f.Member, pid, f.For.Seconds())
		select {
		case <-ctx.Done():
		case <-time.After(f.For):
		}
		err = in.cl.restart(context.WithoutCancel(ctx), server, f.Member)
		f.For = time.Since(down)
		in.say("%s %d back after %.1f s down", server, f.Member, f.For.Seconds())
		if err != nil {
			return err
		}
	}
	in.record(f)
	return nil
}

// replaced waits out a long kill (f.For) and checks that meanwhile the group committed on every
// partition that had messages waiting: the dead member's partitions were handed to the others.
// The offsets are read when the session timeout and a rebalance have passed (10 s after the
// kill) and just before the restart.
func (in *injector) replaced(ctx context.Context, f Fault) error {
	wait := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(d):
			return true
		}
	}
	settle := 10 * time.Second
	if !wait(settle) {
		return nil
	}
	before, err := in.k.Committed(ctx, in.group, in.topic)
	if err != nil {
		return fmt.Errorf("read the committed offsets during a long kill: %w", err)
	}
	end, err := in.k.EndOffsets(ctx, in.topic)
	if err != nil {
		return fmt.Errorf("read the end offsets during a long kill: %w", err)
	}
	if !wait(f.For - settle - 500*time.Millisecond) {
		return nil
	}
	after, err := in.k.Committed(ctx, in.group, in.topic)
	if err != nil {
		return fmt.Errorf("read the committed offsets during a long kill: %w", err)
	}
	var stuck []string
	moved := 0
	for p := range end {
		switch {
		case p >= len(before) || p >= len(after):
			stuck = append(stuck, fmt.Sprintf("%d (no offset)", p))
		case after[p] > before[p]:
			moved++
		case before[p] < end[p]: // messages waited, nothing was committed
			stuck = append(stuck, fmt.Sprintf("%d at %d of %d", p, after[p], end[p]))
		}
	}
	if len(stuck) > 0 {
		return fmt.Errorf("consumer %d dead for %.0f s: the group did not take over partitions %s", f.Member, f.For.Seconds(), strings.Join(stuck, ", "))
	}
	in.say("consumer %d dead for %.0f s: the group went on committing on %d of %d partitions (none left waiting): replaced",
		f.Member, f.For.Seconds(), moved, len(end))
	wait(500 * time.Millisecond)
	return nil
}

// Injected is what the injector did, in order.
func (in *injector) Injected() []Fault {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := slices.Clone(in.done)
	slices.SortStableFunc(out, func(a, b Fault) int { return int(a.At - b.At) })
	return out
}
