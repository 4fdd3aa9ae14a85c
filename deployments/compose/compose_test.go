package compose_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of docker-compose.yml the checks read.
type composeFile struct {
	Services map[string]*service
	Secrets  map[string]struct{ File string }
	Volumes  map[string]any
}

type service struct {
	Image       string
	Build       *struct{ Context, Dockerfile string }
	Entrypoint  []string
	Command     any
	Environment map[string]any
	DependsOn   dependsOn `yaml:"depends_on"`
	Ports       []string
	Volumes     []string
	Secrets     []string
	Healthcheck *struct{ Test []string }
	Profiles    []string
	Restart     string
	// StopGracePeriod is how long compose waits after SIGTERM before SIGKILL.
	StopGracePeriod string `yaml:"stop_grace_period"`
}

// env is the value of the service's variable k, "" when unset.
func (s *service) env(k string) string {
	v, ok := s.Environment[k]
	if !ok || v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// mount is one short-syntax volume: a bind mount when src is a path, else a named volume.
type mount struct{ src, dst string }

func (s *service) mounts() []mount {
	var ms []mount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			continue
		}
		ms = append(ms, mount{parts[0], parts[1]})
	}
	return ms
}

func (m mount) bind() bool { return strings.HasPrefix(m.src, ".") || strings.HasPrefix(m.src, "/") }

// dependsOn maps each service depended on to its condition, from the list or the map form.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	switch n.Kind {
	case yaml.SequenceNode:
		var names []string
		if err := n.Decode(&names); err != nil {
			return err
		}
		for _, name := range names {
			(*d)[name] = "service_started"
		}
	case yaml.MappingNode:
		var m map[string]struct{ Condition string }
		if err := n.Decode(&m); err != nil {
			return err
		}
		for name, v := range m {
			if v.Condition == "" {
				v.Condition = "service_started"
			}
			(*d)[name] = v.Condition
		}
	default:
		return fmt.Errorf("depends_on: want a list or a map")
	}
	return nil
}

func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal([]byte(readFile(t, "docker-compose.yml")), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return &c
}

// TestComposeConfig validates docker-compose.yml with Debian's docker-compose (1.29), which
// checks it against the Compose schema and resolves anchors, paths and depends_on without a
// Docker engine; and makes sure that check can fail, on a misspelt key and an unknown service.
// SPACEPULSE_INTEGRATION=1 (make test) fails when docker-compose is missing; otherwise the test
// skips (deployments/local/tools.sh install installs it).
func TestComposeConfig(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("SPACEPULSE_INTEGRATION") == "1" {
			t.Fatal("docker-compose not found (SPACEPULSE_INTEGRATION=1): deployments/local/tools.sh install installs Debian's docker-compose")
		}
		t.Skip("docker-compose not found: deployments/local/tools.sh install installs it")
	}
	config := func(file string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "--project-directory", ".", "-f", file, "config")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := config("docker-compose.yml")
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	var resolved struct {
		Services map[string]struct {
			Environment map[string]string
		}
	}
	if err := yaml.Unmarshal([]byte(out), &resolved); err != nil {
		t.Fatalf("docker-compose config printed what is not YAML: %v", err)
	}
	c := loadCompose(t)
	if len(resolved.Services) != len(c.Services) {
		t.Errorf("docker-compose config resolved %d services, the file has %d", len(resolved.Services), len(c.Services))
	}
	// The anchors merged as intended: the consumer has the ClickHouse settings and its own.
	if env := resolved.Services["consumer"].Environment; env["SPACEPULSE_CLICKHOUSE_ADDR"] == "" || env["SPACEPULSE_KAFKA_BROKERS"] == "" {
		t.Errorf("docker-compose config: the consumer's environment %v lacks the merged ClickHouse or its own Kafka settings", env)
	}
	v, _ := exec.CommandContext(context.Background(), bin, "version", "--short").Output()
	t.Logf("docker-compose %s: config resolved %d services", strings.TrimSpace(string(v)), len(resolved.Services))

	raw := readFile(t, "docker-compose.yml")
	f := func(name, old, new, want string) {
		t.Helper()
		if !strings.Contains(raw, old) {
			t.Fatalf("%s: %q is not in docker-compose.yml", name, old)
		}
		p := filepath.Join(t.TempDir(), "docker-compose.yml")
		if err := os.WriteFile(p, []byte(strings.Replace(raw, old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := config(p)
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("%s: docker-compose config %v, output %q, want a failure saying %q", name, err, out, want)
		}
	}
	f("misspelt key", "    stop_grace_period: 30s", "    stop_grace_perod: 30s", "stop_grace_perod")
	f("unknown service", "      migrate:\n        condition: service_completed_successfully", "      migrat:\n        condition: service_completed_successfully", "migrat")
}
