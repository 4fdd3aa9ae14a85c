package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// servers are the run's own ClickHouse and Kafka, started, stopped and restarted through
// deployments/local/clickhouse.sh and kafka.sh with a run dir and ports of their own, so that
// the shared servers (9000, 9092) are never touched.
type servers struct {
	repo   string // repository root: deployments/local is below it
	runDir string // SPACEPULSE_RUN_DIR of the scripts
	ports  ports
	log    *os.File // the scripts' output
}

// ports are the run's server ports.
type ports struct {
	ClickHouse, ClickHouseHTTP, ClickHouseTLS int
	Kafka, KafkaController, KafkaSASL         int
}

func (p ports) clickhouseAddr() string { return "127.0.0.1:" + strconv.Itoa(p.ClickHouse) }
func (p ports) kafkaAddr() string      { return "127.0.0.1:" + strconv.Itoa(p.Kafka) }

func newServers(repo, runDir string, p ports) (*servers, error) {
	if _, err := os.Stat(filepath.Join(repo, "deployments/local/clickhouse.sh")); err != nil {
		return nil, fmt.Errorf("cannot find deployments/local/clickhouse.sh in the module at %s: run from the spacepulse repository", repo)
	}
	abs, f, err := openRunDir(runDir)
	if err != nil {
		return nil, err
	}
	return &servers{repo: repo, runDir: abs, ports: p, log: f}, nil
}

// openRunDir creates runDir if needed and opens its servers.log (appending), where the scripts'
// output goes; it returns runDir made absolute.
func openRunDir(runDir string) (string, *os.File, error) {
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return "", nil, fmt.Errorf("cannot create the run dir: %w", err)
	}
	abs, err := filepath.Abs(runDir)
	if err != nil {
		return "", nil, err
	}
	f, err := os.OpenFile(filepath.Join(abs, "servers.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", nil, fmt.Errorf("cannot open the servers' log: %w", err)
	}
	return abs, f, nil
}

// script runs deployments/local/NAME.sh VERB with the run's environment; its output goes to
// servers.log and, when it fails, into the error.
func (s *servers) script(ctx context.Context, name, verb string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(s.repo, "deployments/local", name+".sh"), verb)
	cmd.Env = append(cleanEnv(),
		"SPACEPULSE_RUN_DIR="+s.runDir,
		"SPACEPULSE_CLICKHOUSE_PORT="+strconv.Itoa(s.ports.ClickHouse),
		"SPACEPULSE_CLICKHOUSE_HTTP_PORT="+strconv.Itoa(s.ports.ClickHouseHTTP),
		"SPACEPULSE_CLICKHOUSE_TLS_PORT="+strconv.Itoa(s.ports.ClickHouseTLS),
		"SPACEPULSE_KAFKA_PORT="+strconv.Itoa(s.ports.Kafka),
		"SPACEPULSE_KAFKA_CONTROLLER_PORT="+strconv.Itoa(s.ports.KafkaController),
		"SPACEPULSE_KAFKA_SASL_PORT="+strconv.Itoa(s.ports.KafkaSASL),
		"SPACEPULSE_KAFKA_HEAP=-Xms256m -Xmx768m",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	fmt.Fprintf(s.log, "--- %s %s.sh %s\n%s", time.Now().Format(time.TimeOnly), name, verb, out.Bytes())
	if err != nil {
		return fmt.Errorf("%s.sh %s: %w\n%s", name, verb, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// start starts both servers and makes sure they are the run's own: a port answered by a server
// of another run dir (someone else's) would be stopped by nobody and must not be used.
func (s *servers) start(ctx context.Context) error {
	for _, name := range []string{"clickhouse", "kafka"} {
		if err := s.script(ctx, name, "install"); err != nil {
			return err
		}
		if err := s.script(ctx, name, "start"); err != nil {
			return err
		}
		if err := s.owned(name); err != nil {
			return err
		}
	}
	return nil
}

// owned checks that the pid file of the run dir names the live server the script just found.
func (s *servers) owned(name string) error {
	pidfile, pattern := filepath.Join(s.runDir, "clickhouse/clickhouse-server.pid"), filepath.Join(s.runDir, "clickhouse/etc/config.xml")
	if name == "kafka" {
		pidfile, pattern = filepath.Join(s.runDir, "kafka/kafka.pid"), filepath.Join(s.runDir, "kafka/server.properties")
	}
	pid, err := os.ReadFile(pidfile)
	if err == nil {
		var cmdline []byte
		cmdline, err = os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/cmdline")
		if err == nil && bytes.Contains(cmdline, []byte(pattern)) {
			return nil
		}
	}
	return fmt.Errorf("the %s answering on the run's port was not started from %s (another run dir's?): choose other ports (-clickhouse-port, -kafka-port, …)", name, s.runDir)
}

// stop stops both servers (Kafka first), for the end of a run; it reports the first failure.
func (s *servers) stop(ctx context.Context) error {
	errK := s.script(ctx, "kafka", "stop")
	errC := s.script(ctx, "clickhouse", "stop")
	if errK != nil {
		return errK
	}
	return errC
}

// cleanEnv is this process's environment without SPACEPULSE_* and GOMEMLIMIT, so that the
// Makefile's addresses of the shared servers reach neither the scripts nor the consumers.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SPACEPULSE_") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	return env
}
