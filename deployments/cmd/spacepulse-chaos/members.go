package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// group runs the spacepulse-consumer processes of the run, all in one consumer group. A member
// is a slot (1, 2, 3) that holds at most one process at a time; each process logs to its own
// file, consumer-<slot>-<start>.log. A process that exits without being told to is started
// again after a second and counted in Unexpected.
type group struct {
	bin    string   // the spacepulse-consumer binary
	args   []string // its flags
	logDir string
	// slotArgs, when set, gives the flags of one member beyond args (its ClickHouse addresses).
	slotArgs func(slot int) []string

	mu         sync.Mutex
	procs      map[int]*proc
	wanted     map[int]bool // slots that should have a process (retire clears one)
	starts     int
	Unexpected []string // "consumer 2 (pid 123): exit status 1, log consumer-2-4.log"
	wg         sync.WaitGroup
	closed     bool
}

// errHung is wrapped by signal's error when the process had to be killed.
var errHung = errors.New("hung")

type proc struct {
	cmd      *exec.Cmd
	log      string
	done     chan struct{}
	expected bool // told to stop: an exit is not a fault of its own
}

func newGroup(bin string, args []string, logDir string) *group {
	return &group{bin: bin, args: args, logDir: logDir, procs: make(map[int]*proc), wanted: make(map[int]bool)}
}

// start starts member slot's process (it must have none). It returns the pid.
func (g *group) start(slot int) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, errors.New("the group is stopping")
	}
	if g.procs[slot] != nil {
		return 0, fmt.Errorf("consumer %d is running already", slot)
	}
	g.starts++
	path := filepath.Join(g.logDir, fmt.Sprintf("consumer-%d-%d.log", slot, g.starts))
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("cannot create the consumer's log: %w", err)
	}
	args := g.args
	if g.slotArgs != nil {
		args = append(slices.Clone(args), g.slotArgs(slot)...)
	}
	cmd := exec.Command(g.bin, args...)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return 0, fmt.Errorf("start consumer %d: %w", slot, err)
	}
	p := &proc{cmd: cmd, log: path, done: make(chan struct{})}
	g.procs[slot] = p
	g.wanted[slot] = true
	g.wg.Add(1)
	go g.wait(slot, p, f)
	return cmd.Process.Pid, nil
}

// wait reaps p and restarts its slot when p exited on its own.
func (g *group) wait(slot int, p *proc, log io.Closer) {
	defer g.wg.Done()
	err := p.cmd.Wait()
	log.Close()
	g.mu.Lock()
	if g.procs[slot] == p {
		delete(g.procs, slot)
	}
	unexpected := !p.expected && !g.closed
	restart := unexpected && g.wanted[slot]
	if unexpected {
		g.Unexpected = append(g.Unexpected, fmt.Sprintf("consumer %d (pid %d): %v, log %s", slot, p.cmd.Process.Pid, err, p.log))
	}
	g.mu.Unlock()
	close(p.done)
	if restart {
		time.Sleep(time.Second)
		_, _ = g.start(slot) // fails only when the group is stopping
	}
}

// signal sends sig to slot's process and waits up to timeout for it to exit; then it kills it.
// It returns the pid, 0 if the slot had no process.
func (g *group) signal(slot int, sig syscall.Signal, timeout time.Duration) (int, error) {
	g.mu.Lock()
	p := g.procs[slot]
	if p != nil {
		p.expected = true
	}
	g.mu.Unlock()
	if p == nil {
		return 0, nil
	}
	pid := p.cmd.Process.Pid
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return pid, fmt.Errorf("signal consumer %d (pid %d): %w", slot, pid, err)
	}
	select {
	case <-p.done:
		return pid, nil
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return pid, fmt.Errorf("%w: consumer %d (pid %d) did not exit %s after %v: killed (log %s)", errHung, slot, pid, timeout, sig, p.log)
	}
}

// restart starts slot's process again after a kill, unless the slot was retired meanwhile
// (then it returns 0).
func (g *group) restart(slot int) (int, error) {
	g.mu.Lock()
	wanted := g.wanted[slot]
	g.mu.Unlock()
	if !wanted {
		return 0, nil
	}
	return g.start(slot)
}

// retire stops slot's process with SIGTERM for good (scale-down): it is not restarted.
func (g *group) retire(slot int, timeout time.Duration) (int, error) {
	g.mu.Lock()
	g.wanted[slot] = false
	g.mu.Unlock()
	return g.signal(slot, syscall.SIGTERM, timeout)
}

// live returns the slots that have a process.
func (g *group) live() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []int
	for s := 1; s <= 3; s++ {
		if g.procs[s] != nil {
			out = append(out, s)
		}
	}
	return out
}

// stop stops every process with SIGTERM (each drains and commits, bounded by its
// -drain-timeout; SIGKILL after timeout) and waits for all of them.
func (g *group) stop(timeout time.Duration) error {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	var errs []error
	for s := 1; s <= 3; s++ {
		if _, err := g.signal(s, syscall.SIGTERM, timeout); err != nil {
			errs = append(errs, err)
		}
	}
	g.wg.Wait()
	return errors.Join(errs...)
}
