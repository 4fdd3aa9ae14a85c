package compose_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// clickhouseNativePort is the native-protocol port of the clickhouse/clickhouse-server image
// (its tcp_port; the compose file changes no ClickHouse port).
const clickhouseNativePort = "9000"

// prometheusPort is where prom/prometheus listens unless --web.listen-address says otherwise.
const prometheusPort = "9090"

// pluginDist is the one mounted path that is not in a checkout: `make grafana` builds it.
const pluginDist = "../../grafana/dist"

// crossReferences checks what docker-compose config cannot: that the names, ports, mounts and
// secrets of c agree with each other, with the files they mount and with the repository.
// binaries are the spacepulse image's (runtime stage). It returns what is wrong.
func crossReferences(c *composeFile, binaries []string) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	svc := func(name string) *service {
		if s := c.Services[name]; s != nil {
			return s
		}
		bad("no service %s", name)
		return &service{}
	}

	// depends_on: the services exist; a condition can be met.
	for name, s := range c.Services {
		for dep, cond := range s.DependsOn {
			d, ok := c.Services[dep]
			switch {
			case !ok:
				bad("%s depends on %s, which is not a service", name, dep)
			case cond == "service_healthy" && d.Healthcheck == nil:
				bad("%s waits for %s to be healthy, which has no healthcheck", name, dep)
			case cond == "service_completed_successfully" && d.Restart != "no":
				bad(`%s waits for %s to complete, which is not a one-shot (restart: "no")`, name, dep)
			case !slices.Contains([]string{"service_started", "service_healthy", "service_completed_successfully"}, cond):
				bad("%s depends on %s with condition %q", name, dep, cond)
			}
		}
	}

	// Mounts: bind sources exist in the repository; named volumes are declared.
	for name, s := range c.Services {
		for _, m := range s.mounts() {
			switch {
			case m.src == pluginDist:
				if !regexp.MustCompile(`(?m)^DIST\s*:=\s*dist$`).MatchString(mustRead("../../grafana/Makefile")) {
					bad("%s mounts %s, which grafana/Makefile (DIST) does not build", name, m.src)
				}
			case m.bind():
				if _, err := os.Stat(m.src); err != nil {
					bad("%s mounts %s, which is not in the repository", name, m.src)
				}
			default:
				if _, ok := c.Volumes[m.src]; !ok {
					bad("%s mounts the volume %s, which is not declared", name, m.src)
				}
			}
		}
	}

	// Secrets: declared, made by secrets.sh, and granted to every service whose settings read them.
	made := regexp.MustCompile(`(?m)^for name in (.*); do$`).FindStringSubmatch(mustRead("secrets.sh"))
	for secret, def := range c.Secrets {
		if made == nil || !slices.Contains(strings.Fields(made[1]), strings.TrimSuffix(strings.TrimPrefix(def.File, "./secrets/"), ".password")) {
			bad("secret %s: secrets.sh does not make %s", secret, def.File)
		}
	}
	secretRef := regexp.MustCompile(`/run/secrets/([a-z0-9_]+)`)
	for name, s := range c.Services {
		refs := map[string]string{}
		for k := range s.Environment {
			for _, m := range secretRef.FindAllStringSubmatch(s.env(k), -1) {
				refs[m[1]] = k
			}
		}
		for _, m := range s.mounts() {
			if m.bind() && m.src != pluginDist && strings.HasSuffix(m.src, ".yaml") {
				for _, r := range secretRef.FindAllStringSubmatch(mustRead(m.src), -1) {
					refs[r[1]] = m.src
				}
			}
		}
		for _, sec := range s.Secrets {
			if _, ok := c.Secrets[sec]; !ok {
				bad("%s uses the secret %s, which is not declared", name, sec)
			}
		}
		for sec, where := range refs {
			if !slices.Contains(s.Secrets, sec) {
				bad("%s reads /run/secrets/%s (%s) but is not given that secret", name, sec, where)
			}
		}
	}

	// The spacepulse image: built from this Dockerfile, each service running one of its binaries.
	for name, s := range c.Services {
		if s.Build == nil {
			continue
		}
		if s.Build.Context != "../.." || s.Build.Dockerfile != "deployments/compose/Dockerfile" {
			bad("%s builds %+v, want context ../.. and deployments/compose/Dockerfile", name, *s.Build)
		}
		if len(s.Entrypoint) > 0 && !slices.Contains(binaries, s.Entrypoint[0]) {
			bad("%s runs %s, which is not one of the image's binaries %v", name, s.Entrypoint[0], binaries)
		}
	}

	// Prometheus scrapes the consumer's metrics address; the healthcheck asks the same port.
	consumer, prom, grafana := svc("consumer"), svc("prometheus"), svc("grafana")
	_, metricsPort, err := net.SplitHostPort(consumer.env("SPACEPULSE_METRICS_ADDR"))
	if err != nil {
		bad("consumer: SPACEPULSE_METRICS_ADDR %q is not host:port", consumer.env("SPACEPULSE_METRICS_ADDR"))
	}
	if !slices.Contains(prom.mounts(), mount{"./prometheus.yml", "/etc/prometheus/prometheus.yml"}) {
		bad("prometheus does not mount ./prometheus.yml at /etc/prometheus/prometheus.yml")
	}
	if targets := scrapeTargets(mustRead("prometheus.yml")); !reflect.DeepEqual(targets, []string{"consumer:" + metricsPort}) {
		bad("prometheus.yml scrapes %v, want [consumer:%s] (the consumer's SPACEPULSE_METRICS_ADDR)", targets, metricsPort)
	}
	if a, b := withoutTargets(mustRead("prometheus.yml")), withoutTargets(mustRead("../monitoring/prometheus.yml")); a != b {
		bad("prometheus.yml differs from deployments/monitoring/prometheus.yml beyond its targets:\n%s\n%s", a, b)
	}
	if consumer.Healthcheck == nil {
		bad("consumer has no healthcheck")
	} else {
		check := strings.Join(consumer.Healthcheck.Test, " ")
		for _, p := range []string{"/healthz", "/readyz"} {
			if !strings.Contains(check, "127.0.0.1:"+metricsPort+p) {
				bad("consumer's healthcheck %q does not ask 127.0.0.1:%s%s", check, metricsPort, p)
			}
		}
	}

	// Grafana: the SpacePulse datasource reaches the clickhouse service at the address the
	// consumer writes to, and differs from the repository's only in that and its password.
	chAddr := consumer.env("SPACEPULSE_CLICKHOUSE_ADDR")
	if chAddr != "clickhouse:"+clickhouseNativePort || !strings.HasPrefix(svc("clickhouse").Image, "clickhouse/clickhouse-server:") {
		bad("the consumer writes to %q, want the clickhouse service (clickhouse/clickhouse-server) at clickhouse:%s", chAddr, clickhouseNativePort)
	}
	for _, name := range []string{"migrate", "report"} {
		if a := svc(name).env("SPACEPULSE_CLICKHOUSE_ADDR"); a != chAddr {
			bad("%s reads ClickHouse at %q, the consumer writes to %q", name, a, chAddr)
		}
	}
	ours, theirs := datasource("grafana/datasources/spacepulse.yaml"), datasource("../../grafana/provisioning/datasources/spacepulse.yaml")
	if addr := ours.JSONData["addr"]; addr != chAddr {
		bad("Grafana's SpacePulse datasource reads %v, the consumer writes to %s", addr, chAddr)
	}
	if db := ours.JSONData["database"]; db != consumer.env("SPACEPULSE_CLICKHOUSE_DATABASE") {
		bad("Grafana reads the database %v, the consumer writes to %s", db, consumer.env("SPACEPULSE_CLICKHOUSE_DATABASE"))
	}
	delete(ours.JSONData, "addr")
	delete(theirs.JSONData, "addr")
	ours.SecureJSONData, theirs.SecureJSONData = nil, nil
	if !reflect.DeepEqual(ours, theirs) {
		bad("grafana/datasources/spacepulse.yaml differs from grafana/provisioning's beyond addr and password:\n%+v\n%+v", ours, theirs)
	}
	if !slices.Contains(grafana.mounts(), mount{"./grafana/datasources/spacepulse.yaml", "/etc/grafana/provisioning/datasources/spacepulse.yaml"}) {
		bad("grafana does not mount grafana/datasources/spacepulse.yaml as its SpacePulse datasource")
	}
	promURL, err := url.Parse(grafana.env("SPACEPULSE_PROMETHEUS_URL"))
	if err != nil || promURL.Host != "prometheus:"+prometheusPort || !strings.HasPrefix(prom.Image, "prom/prometheus:") {
		bad("grafana: SPACEPULSE_PROMETHEUS_URL %q, want http://prometheus:%s (the prometheus service)", grafana.env("SPACEPULSE_PROMETHEUS_URL"), prometheusPort)
	}
	if !strings.Contains(mustRead("../../grafana/provisioning/datasources/prometheus.yaml"), "$SPACEPULSE_PROMETHEUS_URL") {
		bad("grafana/provisioning/datasources/prometheus.yaml no longer reads $SPACEPULSE_PROMETHEUS_URL")
	}
	var plugin struct{ ID string }
	if err := json.Unmarshal([]byte(mustRead("../../grafana/src/plugin.json")), &plugin); err != nil || plugin.ID == "" {
		bad("grafana/src/plugin.json: no id (%v)", err)
	}
	if got := grafana.env("GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"); got != plugin.ID {
		bad("grafana allows the unsigned plugin %q, the plugin's id is %q", got, plugin.ID)
	}
	if !slices.Contains(grafana.mounts(), mount{pluginDist, "/var/lib/grafana/plugins/" + plugin.ID}) {
		bad("grafana does not mount %s at /var/lib/grafana/plugins/%s", pluginDist, plugin.ID)
	}
	var provider struct {
		Providers []struct{ Options struct{ Path string } }
	}
	if err := yaml.Unmarshal([]byte(mustRead("../../grafana/provisioning/dashboards/spacepulse.yaml")), &provider); err != nil || len(provider.Providers) == 0 {
		bad("grafana/provisioning/dashboards/spacepulse.yaml: no provider (%v)", err)
	}
	for _, p := range provider.Providers {
		if dashboards, _ := filepath.Glob(filepath.Join(hostPath(grafana, p.Options.Path), "*.json")); len(dashboards) == 0 {
			bad("the dashboard provider reads %s, where grafana's mounts put no dashboard", p.Options.Path)
		}
	}
	if rules, _ := filepath.Glob(filepath.Join(hostPath(grafana, "/etc/grafana/provisioning/alerting"), "*.yaml")); len(rules) == 0 {
		bad("grafana's mounts put no alert rule in /etc/grafana/provisioning/alerting")
	}

	// Kafka: the clients reach the kafka service on its advertised internal listener; kafka-init
	// makes the topics the consumer reads and writes; the replay writes where the consumer reads.
	kafka := svc("kafka")
	for name, s := range c.Services {
		b := s.env("SPACEPULSE_KAFKA_BROKERS")
		if b != "" && !slices.Contains(strings.Split(kafka.env("KAFKA_ADVERTISED_LISTENERS"), ","), "INTERNAL://"+b) {
			bad("%s reaches Kafka at %s, which the kafka service does not advertise as INTERNAL (%s)", name, b, kafka.env("KAFKA_ADVERTISED_LISTENERS"))
		}
	}
	created := regexp.MustCompile(`--create --if-not-exists --topic (\S+)`).FindAllStringSubmatch(fmt.Sprint(svc("kafka-init").Command), -1)
	var topics []string
	for _, m := range created {
		topics = append(topics, m[1])
	}
	for _, k := range []string{"SPACEPULSE_KAFKA_TOPIC", "SPACEPULSE_DLQ_TOPIC"} {
		if !slices.Contains(topics, consumer.env(k)) {
			bad("kafka-init creates %v, not the consumer's %s %q", topics, k, consumer.env(k))
		}
	}
	if r := svc("replay").env("SPACEPULSE_KAFKA_TOPIC"); r != consumer.env("SPACEPULSE_KAFKA_TOPIC") {
		bad("replay writes to %q, the consumer reads %q", r, consumer.env("SPACEPULSE_KAFKA_TOPIC"))
	}

	// Versions: the broker the tests run, the Grafana the plugin is built against.
	if m := regexp.MustCompile(`KAFKA_VERSION="\$\{SPACEPULSE_KAFKA_VERSION:-([0-9.]+)\}"`).FindStringSubmatch(mustRead("../local/kafka.sh")); m == nil || kafka.Image != "apache/kafka:"+m[1] {
		bad("kafka runs %s, want the version deployments/local/kafka.sh runs in the tests (%v)", kafka.Image, m)
	}
	var pkg struct {
		Dependencies map[string]string
	}
	_ = json.Unmarshal([]byte(mustRead("../../grafana/package.json")), &pkg)
	if want := "grafana/grafana:" + pkg.Dependencies["@grafana/runtime"]; grafana.Image != want {
		bad("grafana runs %s, want %s (the @grafana/runtime the plugin is built with)", grafana.Image, want)
	}
	return problems
}

// hostPath is the repository path that s's mounts put at the container path p ("" if none).
func hostPath(s *service, p string) string {
	for _, m := range s.mounts() {
		if rel, ok := strings.CutPrefix(p, m.dst); ok && m.bind() && (rel == "" || rel[0] == '/') {
			return filepath.Join(m.src, rel)
		}
	}
	return ""
}

type provisionedDatasource struct {
	Name, Type, UID, Access string
	IsDefault, Editable     bool           `yaml:",omitempty"`
	JSONData                map[string]any `yaml:"jsonData"`
	SecureJSONData          map[string]any `yaml:"secureJsonData"`
}

func datasource(p string) provisionedDatasource {
	var doc struct{ Datasources []provisionedDatasource }
	if err := yaml.Unmarshal([]byte(mustRead(p)), &doc); err != nil || len(doc.Datasources) != 1 {
		return provisionedDatasource{Name: fmt.Sprintf("%s: %v, %d datasources", p, err, len(doc.Datasources))}
	}
	return doc.Datasources[0]
}

type promConfig struct {
	Global        map[string]string
	ScrapeConfigs []struct {
		JobName       string `yaml:"job_name"`
		MetricsPath   string `yaml:"metrics_path"`
		Scheme        string
		StaticConfigs []struct{ Targets []string } `yaml:"static_configs"`
	} `yaml:"scrape_configs"`
}

func scrapeTargets(raw string) []string {
	var cfg promConfig
	_ = yaml.Unmarshal([]byte(raw), &cfg)
	var targets []string
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName == "spacepulse-consumer" {
			for _, s := range sc.StaticConfigs {
				targets = append(targets, s.Targets...)
			}
		}
	}
	return targets
}

// withoutTargets is the Prometheus config with the scrape targets dropped, as comparable text.
func withoutTargets(raw string) string {
	var cfg promConfig
	if err := yaml.Unmarshal([]byte(raw), &cfg); err != nil {
		return err.Error()
	}
	for i := range cfg.ScrapeConfigs {
		cfg.ScrapeConfigs[i].StaticConfigs = nil
	}
	return fmt.Sprintf("%+v", cfg)
}

// mustRead reads a file of the repository; a missing file reads as its error, which every
// check that reads it then reports.
func mustRead(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return string(b)
}

// TestComposeCrossReferences checks docker-compose.yml against itself, the files it mounts,
// the repository and the image's binaries (from the Dockerfile; see crossReferences).
func TestComposeCrossReferences(t *testing.T) {
	c := loadCompose(t)
	binaries := runtimeImage(t, parseDockerfile(t)).binaries()
	for _, p := range crossReferences(c, binaries) {
		t.Error(p)
	}
	t.Logf("%d services, %d secrets, %d volumes; image binaries %v", len(c.Services), len(c.Secrets), len(c.Volumes), binaries)
}

// TestCrossReferencesFail makes sure each kind of check can fail: every mutation must be
// reported, with the words given.
func TestCrossReferencesFail(t *testing.T) {
	binaries := runtimeImage(t, parseDockerfile(t)).binaries()
	f := func(name string, mutate func(c *composeFile), want string) {
		t.Helper()
		c := loadCompose(t)
		mutate(c)
		got := strings.Join(crossReferences(c, binaries), "\n")
		if !strings.Contains(got, want) {
			t.Errorf("%s: problems %q, want one saying %q", name, got, want)
		}
	}
	f("unknown dependency", func(c *composeFile) { c.Services["consumer"].DependsOn["migrat"] = "service_started" }, "migrat, which is not a service")
	f("healthy without healthcheck", func(c *composeFile) { c.Services["clickhouse"].Healthcheck = nil }, "which has no healthcheck")
	f("missing mount", func(c *composeFile) {
		c.Services["prometheus"].Volumes[0] = "./prometheus.yaml:/etc/prometheus/prometheus.yml:ro"
	}, "./prometheus.yaml, which is not in the repository")
	f("undeclared volume", func(c *composeFile) { delete(c.Volumes, "kafka-data") }, "volume kafka-data, which is not declared")
	f("secret not given", func(c *composeFile) { c.Services["migrate"].Secrets = nil }, "migrate reads /run/secrets/clickhouse_password")
	f("metrics port", func(c *composeFile) { c.Services["consumer"].Environment["SPACEPULSE_METRICS_ADDR"] = ":9465" }, "want [consumer:9465]")
	f("clickhouse addr", func(c *composeFile) {
		c.Services["consumer"].Environment["SPACEPULSE_CLICKHOUSE_ADDR"] = "clickhouse:9440"
	}, "Grafana's SpacePulse datasource reads clickhouse:9000")
	f("prometheus url", func(c *composeFile) {
		c.Services["grafana"].Environment["SPACEPULSE_PROMETHEUS_URL"] = "http://prometheus:9091"
	}, "SPACEPULSE_PROMETHEUS_URL")
	f("plugin id", func(c *composeFile) {
		c.Services["grafana"].Environment["GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS"] = "spacepulse-datasource"
	}, "the plugin's id is")
	f("dashboards not mounted", func(c *composeFile) {
		c.Services["grafana"].Volumes = slices.DeleteFunc(c.Services["grafana"].Volumes, func(v string) bool { return strings.Contains(v, "dashboards") })
	}, "where grafana's mounts put no dashboard")
	f("kafka listener", func(c *composeFile) { c.Services["consumer"].Environment["SPACEPULSE_KAFKA_BROKERS"] = "kafka:9092" }, "does not advertise")
	f("topic", func(c *composeFile) { c.Services["consumer"].Environment["SPACEPULSE_DLQ_TOPIC"] = "dlq" }, `DLQ_TOPIC "dlq"`)
	f("binary", func(c *composeFile) { c.Services["migrate"].Entrypoint = []string{"spacepulse-migrator"} }, "not one of the image's binaries")
	f("kafka version", func(c *composeFile) { c.Services["kafka"].Image = "apache/kafka:3.9.0" }, "deployments/local/kafka.sh")
}
