package compose_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/schemas/cli"
)

// unboundEnv returns the SPACEPULSE_* variables of the spacepulse services that their binary
// does not bind. flags maps a command line ("spacepulse-producer replay") to its flags.
func unboundEnv(c *composeFile, entrypoint []string, flags map[string][]string) []string {
	var problems []string
	for name, s := range c.Services {
		if s.Build == nil {
			continue
		}
		ep := s.Entrypoint
		if len(ep) == 0 {
			ep = entrypoint
		}
		fl, ok := flags[strings.Join(ep, " ")]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: no flags known for %v", name, ep))
			continue
		}
		for k := range s.Environment {
			if !strings.HasPrefix(k, cli.EnvPrefix+"_") {
				continue
			}
			if !slices.ContainsFunc(fl, func(f string) bool { return cli.Env(f) == k }) {
				problems = append(problems, fmt.Sprintf("%s: %s is not a variable of %s (-h lists its flags)", name, k, strings.Join(ep, " ")))
			}
		}
	}
	return problems
}

// helpOf runs bin args... -h and returns what it printed.
func helpOf(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, append(args, "-h")...).CombinedOutput() // -h exits non-zero
	if len(cli.ParseUsage(out)) == 0 {
		t.Fatalf("%s %v -h printed no flags:\n%s", bin, args, out)
	}
	return string(out)
}

// TestComposeEnvBoundByBinaries runs each binary the Dockerfile builds with -h (with the
// arguments its service's entrypoint gives it) and checks that every SPACEPULSE_* variable the
// service sets is one that binary binds (schemas/cli: -kafka-brokers is SPACEPULSE_KAFKA_BROKERS),
// so a misspelt or dropped setting cannot be silently ignored; and that the consumer's
// stop_grace_period covers the whole shutdown its -h promises.
func TestComposeEnvBoundByBinaries(t *testing.T) {
	c := loadCompose(t)
	im := runtimeImage(t, parseDockerfile(t))
	res := buildStage(t, im.build)
	bin := func(name string) string { return filepath.Join(res.root, filepath.Dir(im.fromBuild[0]), name) }

	flags := map[string][]string{}
	help := map[string]string{}
	for _, s := range c.Services {
		ep := s.Entrypoint
		if s.Build == nil {
			continue
		}
		if len(ep) == 0 {
			ep = im.entrypoint
		}
		key := strings.Join(ep, " ")
		if _, done := flags[key]; done {
			continue
		}
		help[key] = helpOf(t, bin(ep[0]), ep[1:]...)
		for name := range cli.ParseUsage([]byte(help[key])) {
			flags[key] = append(flags[key], name)
		}
	}
	for _, p := range unboundEnv(c, im.entrypoint, flags) {
		t.Error(p)
	}

	// -drain-timeout (default 15s) "… takes at most this plus 8s".
	h := help["spacepulse-consumer"]
	drain := regexp.MustCompile(`-drain-timeout duration\n.*plus (\d+s)\).*\(default (\w+)\)`).FindStringSubmatch(h)
	if drain == nil {
		t.Fatalf("spacepulse-consumer -h no longer says how long the shutdown takes:\n%s", h)
	}
	if v := c.Services["consumer"].env("SPACEPULSE_DRAIN_TIMEOUT"); v != "" {
		drain[2] = v
	}
	plus, _ := time.ParseDuration(drain[1])
	d, _ := time.ParseDuration(drain[2])
	grace, err := time.ParseDuration(c.Services["consumer"].StopGracePeriod)
	if err != nil || grace < d+plus {
		t.Errorf("consumer: stop_grace_period %q, want at least the drain %s plus %s, or compose kills it before it has committed", c.Services["consumer"].StopGracePeriod, d, plus)
	}
	for k, f := range flags {
		t.Logf("%s: %d flags", k, len(f))
	}
}

// TestUnboundEnvFails makes sure the check above can fail.
func TestUnboundEnvFails(t *testing.T) {
	c := loadCompose(t)
	flags := map[string][]string{
		"spacepulse-consumer":        {"kafka-brokers", "kafka-topic", "dlq-topic", "kafka-group", "metrics-addr", "clickhouse-addr", "clickhouse-database", "clickhouse-user", "clickhouse-password-file"},
		"spacepulse-migrate":         {"clickhouse-addr", "clickhouse-database", "clickhouse-user", "clickhouse-password-file"},
		"spacepulse-report":          {"clickhouse-addr", "clickhouse-database", "clickhouse-user", "clickhouse-password-file"},
		"spacepulse-producer replay": {"kafka-brokers", "kafka-topic"},
	}
	if p := unboundEnv(c, []string{"spacepulse-consumer"}, flags); len(p) > 0 {
		t.Fatalf("the file as it is: %v", p)
	}
	c.Services["consumer"].Environment["SPACEPULSE_BATCH_ROW"] = "5000"
	c.Services["replay"].Environment["SPACEPULSE_CLICKHOUSE_ADDR"] = "clickhouse:9000"
	got := strings.Join(unboundEnv(c, []string{"spacepulse-consumer"}, flags), "\n")
	for _, want := range []string{"consumer: SPACEPULSE_BATCH_ROW is not a variable of spacepulse-consumer", "replay: SPACEPULSE_CLICKHOUSE_ADDR is not a variable of spacepulse-producer replay"} {
		if !strings.Contains(got, want) {
			t.Errorf("problems %q, want %q", got, want)
		}
	}
}

// xnode is any XML element.
type xnode struct {
	XMLName xml.Name
	Text    string  `xml:",chardata"`
	Nodes   []xnode `xml:",any"`
}

func (n xnode) child(path ...string) xnode {
	for _, name := range path {
		i := slices.IndexFunc(n.Nodes, func(c xnode) bool { return c.XMLName.Local == name })
		if i < 0 {
			return xnode{}
		}
		n = n.Nodes[i]
	}
	return n
}

// settings are an element's children as name -> text.
func (n xnode) settings() map[string]string {
	m := map[string]string{}
	for _, c := range n.Nodes {
		m[c.XMLName.Local] = strings.TrimSpace(c.Text)
	}
	return m
}

func readXML(t *testing.T, p string) xnode {
	t.Helper()
	var n xnode
	if err := xml.Unmarshal([]byte(readFile(t, p)), &n); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return n
}

// TestClickHouseUsers checks the compose ClickHouse's users against the datasource and the
// local server: Grafana's user has the local server's read-only profile (less the 18.16-only
// setting), may read the database the datasource reads, and start.sh sets the passwords of the
// users the datasource and the spacepulse binaries log in as, from the secrets the clickhouse
// service is given.
func TestClickHouseUsers(t *testing.T) {
	c := loadCompose(t)
	ours := readXML(t, "clickhouse/users.xml")
	local := readXML(t, "../local/clickhouse/users.xml")
	ds := datasource("grafana/datasources/spacepulse.yaml")
	user, _ := ds.JSONData["user"].(string)

	want := local.child("profiles", user).settings()
	delete(want, "allow_experimental_low_cardinality_type") // 18.16 only; current servers refuse it
	if got := ours.child("profiles", user).settings(); len(want) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("profile %s: %v, want the local server's %v", user, got, want)
	}
	u := ours.child("users", user)
	if u.child("profile").Text != user {
		t.Errorf("user %s has the profile %q, want %q", user, u.child("profile").Text, user)
	}
	if dbs := u.child("allow_databases").settings(); dbs["database"] != ds.JSONData["database"] {
		t.Errorf("user %s may read %v, the datasource reads %v", user, dbs, ds.JSONData["database"])
	}

	start := readFile(t, "clickhouse/start.sh")
	for login, secret := range map[string]string{
		user: "clickhouse_grafana_password",
		c.Services["consumer"].env("SPACEPULSE_CLICKHOUSE_USER"): "clickhouse_password",
	} {
		if !strings.Contains(start, "<"+login+">") || !strings.Contains(start, "/run/secrets/"+secret) {
			t.Errorf("start.sh sets no password for %s from /run/secrets/%s", login, secret)
		}
		if !slices.Contains(c.Services["clickhouse"].Secrets, secret) {
			t.Errorf("the clickhouse service is not given the secret %s", secret)
		}
	}
	if !slices.Contains(c.Services["clickhouse"].mounts(), mount{"./clickhouse/users.xml", "/etc/clickhouse-server/users.d/spacepulse.xml"}) {
		t.Error("the clickhouse service does not mount clickhouse/users.xml into users.d")
	}
}
