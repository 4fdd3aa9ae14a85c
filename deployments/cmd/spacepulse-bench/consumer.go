package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spacepulse/spacepulse/deployments/cmd/internal/harness"
)

// buildConsumer builds ./consumers/cmd/spacepulse-consumer of the module
// the bench runs in into dir and returns the binary's path.
func buildConsumer(ctx context.Context, dir string) (string, error) {
	root, err := harness.ModuleRoot(ctx)
	if err != nil {
		return "", fmt.Errorf("%w, or pass -consumer-bin", err)
	}
	bins, err := harness.Build(ctx, root, dir, "./consumers/cmd/spacepulse-consumer")
	if err != nil {
		return "", err
	}
	return bins[0], nil
}

// consumer is a spacepulse-consumer subprocess.
//
// Its peak RSS comes from its rusage, which needs care: os/exec starts a
// child with vfork (CLONE_VM), and Linux records the RSS high-water mark of
// the memory the child had before exec — the parent's — as the child's
// ru_maxrss. By the time the consumer starts the bench has generated and
// produced the load (hundreds of MB of RSS; over 1 GB with the log in
// memory), so a consumer started directly would report that. The consumer is
// therefore started through a launcher: this same executable, started
// before the log is produced while it is small, which waits for a line on
// its stdin and then execs the consumer in place (same pid, see
// launchMain).
type consumer struct {
	cmd     *exec.Cmd
	goLine  io.WriteCloser
	log     *bytes.Buffer
	exited  chan struct{}
	waitErr error
}

// launchEnv marks the bench's own executable as the consumer's launcher.
const launchEnv = "SPACEPULSE_BENCH_LAUNCHER"

// prepareConsumer starts the launcher for bin with args, without the
// SPACEPULSE_* environment (only args configure the consumer) and with env
// added. The consumer's log is kept in memory and copied to logTo if not
// nil. Call start to exec the consumer, then stop; abort in any case.
func prepareConsumer(bin string, args, env []string, logTo io.Writer) (*consumer, error) {
	bin, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("consumer binary: %w", err)
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return nil, fmt.Errorf("consumer binary: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the bench executable to launch the consumer: %w", err)
	}
	cmd := exec.Command(self, append([]string{bin}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SPACEPULSE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Env = append(cmd.Env, launchEnv+"=1")
	c := &consumer{cmd: cmd, log: &bytes.Buffer{}, exited: make(chan struct{})}
	var w io.Writer = c.log
	if logTo != nil {
		w = io.MultiWriter(c.log, logTo)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if c.goLine, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("launch %s: %w", bin, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("launch %s: %w", bin, err)
	}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// start makes the launcher exec the consumer.
func (c *consumer) start() error {
	if _, err := io.WriteString(c.goLine, "go\n"); err != nil {
		return fmt.Errorf("start the consumer: %w", err)
	}
	return nil
}

// launchMain is main when the bench runs as the consumer's launcher: it
// waits for "go" on stdin, then replaces itself with os.Args[1] (the
// consumer) and the arguments after it, without launchEnv. EOF instead of
// "go" exits 0 without starting anything.
func launchMain() {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if strings.TrimSpace(line) != "go" {
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintln(os.Stderr, "spacepulse-bench launcher:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, launchEnv+"=") {
			env = append(env, kv)
		}
	}
	err = syscall.Exec(os.Args[1], os.Args[1:], env)
	fmt.Fprintln(os.Stderr, "spacepulse-bench launcher: exec", os.Args[1]+":", err)
	os.Exit(1)
}

// abort stops a launcher that was not told to start, or a consumer that
// is still running; it is a no-op once the process has exited.
func (c *consumer) abort() {
	_ = c.goLine.Close()
	select {
	case <-c.exited:
		return
	case <-time.After(5 * time.Second):
	}
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// stop sends SIGTERM and waits for the consumer to drain and exit, killing
// it after grace.
func (c *consumer) stop(grace time.Duration) error {
	select {
	case <-c.exited:
		return c.exitErr()
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return c.exitErr()
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("consumer did not stop within %s of SIGTERM: killed", grace)
	}
}

func (c *consumer) exitErr() error {
	if c.waitErr != nil {
		return fmt.Errorf("consumer exited: %w\n%s", c.waitErr, tail(c.log.String(), 20))
	}
	return nil
}

// usage is the consumer's resource use over its whole life.
type usage struct {
	cpu    time.Duration // user + system
	user   time.Duration
	sys    time.Duration
	maxRSS int64 // bytes
}

func (c *consumer) usage() usage {
	ps := c.cmd.ProcessState
	u := usage{user: ps.UserTime(), sys: ps.SystemTime()}
	u.cpu = u.user + u.sys
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		u.maxRSS = ru.Maxrss * 1024 // KiB on Linux
	}
	return u
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// processCPU returns the user+system CPU time of process pid so far, from
// /proc (clock ticks of 1/100 s).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count fields after its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// listeningPID returns the pid of the local process listening on TCP port,
// or 0 when none is found (another host, or /proc hidden).
func listeningPID(port int) int {
	inodes := make(map[string]bool)
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			fs := strings.Fields(line)
			if len(fs) < 10 || fs[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fs[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); ok && err == nil && int(p) == port {
				inodes["socket:["+fs[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return 0
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		if l, err := os.Readlink(fd); err == nil && inodes[l] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}

// peakRSS returns the VmHWM of process pid in bytes, 0 if unknown.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// machineCPU returns the busy CPU time of the whole machine so far (all
// cores, /proc/stat: everything but idle, iowait and steal) and the time the
// hypervisor gave this machine's CPUs to others (steal), 0 if unknown.
func machineCPU() (busy, steal time.Duration) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0
	}
	var ticks, stolen int64
	for i, v := range f[1:9] {
		n, _ := strconv.ParseInt(v, 10, 64)
		switch i {
		case 3, 4: // idle, iowait
		case 7:
			stolen = n
		default:
			ticks += n
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond, time.Duration(stolen) * 10 * time.Millisecond
}
