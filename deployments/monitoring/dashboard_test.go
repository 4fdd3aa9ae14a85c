package monitoring_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/spacepulse/spacepulse/consumers/ingest"
)

const provisioning = "../../grafana/provisioning"

// metricName is how a PromQL expression of ours names a metric: every metric
// the consumer exports is spacepulse_consumer_*.
var metricName = regexp.MustCompile(`spacepulse_[a-z_]+`)

// overTime matches the range functions a counter must be read through, right
// before the metric name.
var overTime = regexp.MustCompile(`\b(rate|irate|increase)\(\s*$`)

type fakeLag struct{}

func (fakeLag) Lag() int64 { return 0 }

// Partitions makes fakeLag a lag poller, as the consumer serves one (per-partition series).
func (fakeLag) Partitions() []ingest.PartitionLag { return []ingest.PartitionLag{{Partition: 0}} }

// consumerMetrics is what the consumer serves on -metrics-addr: name -> type
// (COUNTER, GAUGE), from RegisterMetrics on a fresh registry (with a reader,
// so the lag gauge is there too).
func consumerMetrics(t *testing.T) map[string]string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := ingest.RegisterMetrics(reg, &ingest.Stats{}, fakeLag{}); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, mf := range mfs {
		m[mf.GetName()] = mf.GetType().String()
	}
	if len(m) == 0 {
		t.Fatal("RegisterMetrics registered nothing")
	}
	return m
}

// datasources reads grafana/provisioning/datasources: uid -> type.
func datasources(t *testing.T) map[string]string {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(provisioning, "datasources", "*.yaml"))
	if len(paths) == 0 {
		t.Fatalf("no datasource files under %s", provisioning)
	}
	uids := map[string]string{}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Datasources []struct{ UID, Type string }
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, ds := range doc.Datasources {
			uids[ds.UID] = ds.Type
		}
	}
	return uids
}

type dsRef struct{ Type, UID string }

type panel struct {
	Title      string
	Type       string
	Datasource *dsRef
	Targets    []struct {
		RefID      string `json:"refId"`
		Datasource *dsRef
		Expr       string
	}
	Panels []panel // a collapsed row's panels
}

// checkPanels checks the Prometheus panels among ps: their datasource is a
// provisioned Prometheus one, every expression names only metrics of metrics
// (name -> type), counters only through rate/irate/increase and gauges never,
// brackets balance. It returns the metric names used and what is wrong.
func checkPanels(ps []panel, sources, metrics map[string]string) (used map[string]bool, problems []string) {
	used = map[string]bool{}
	bad := func(p panel, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("panel %q: ", p.Title)+fmt.Sprintf(format, args...))
	}
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Datasource == nil || p.Datasource.Type != "prometheus" {
				continue
			}
			if sources[p.Datasource.UID] != "prometheus" {
				bad(p, "datasource uid %q is not a Prometheus datasource of %s/datasources", p.Datasource.UID, provisioning)
			}
			if len(p.Targets) == 0 {
				bad(p, "no query")
			}
			for _, q := range p.Targets {
				if q.Datasource != nil && *q.Datasource != *p.Datasource {
					bad(p, "query %s: datasource %v, the panel's is %v", q.RefID, *q.Datasource, *p.Datasource)
				}
				if err := balanced(q.Expr); err != nil {
					bad(p, "query %s: %v", q.RefID, err)
				}
				locs := metricName.FindAllStringIndex(q.Expr, -1)
				if len(locs) == 0 {
					bad(p, "query %s: %q names no spacepulse_ metric", q.RefID, q.Expr)
				}
				for _, loc := range locs {
					name := q.Expr[loc[0]:loc[1]]
					used[name] = true
					inRate := overTime.MatchString(q.Expr[:loc[0]])
					switch kind, ok := metrics[name]; {
					case !ok:
						bad(p, "query %s: %s is not a metric the consumer exports", q.RefID, name)
					case kind == "COUNTER" && !inRate:
						bad(p, "query %s: counter %s outside rate/irate/increase", q.RefID, name)
					case kind != "COUNTER" && inRate:
						bad(p, "query %s: %s %s inside rate/irate/increase", q.RefID, strings.ToLower(kind), name)
					}
				}
			}
		}
	}
	walk(ps)
	return used, problems
}

// balanced reports the first unbalanced (), [] or {} of expr.
func balanced(expr string) error {
	var open []rune
	pair := map[rune]rune{')': '(', ']': '[', '}': '{'}
	for _, r := range expr {
		switch r {
		case '(', '[', '{':
			open = append(open, r)
		case ')', ']', '}':
			if len(open) == 0 || open[len(open)-1] != pair[r] {
				return fmt.Errorf("%q: unbalanced %c", expr, r)
			}
			open = open[:len(open)-1]
		}
	}
	if len(open) > 0 {
		return fmt.Errorf("%q: unclosed %c", expr, open[len(open)-1])
	}
	return nil
}

// TestDashboardMetricsExist checks every Prometheus panel of the provisioned
// dashboards against the provisioned datasources and the metrics the consumer
// exports, and that Pipeline health shows the consumer's lag, dead letters,
// ingest rate, retries, landing time per batch and last commit.
func TestDashboardMetricsExist(t *testing.T) {
	metrics := consumerMetrics(t)
	sources := datasources(t)
	paths, _ := filepath.Glob(filepath.Join(provisioning, "dashboards", "*", "*.json"))
	if len(paths) == 0 {
		t.Fatalf("no dashboards under %s", provisioning)
	}
	used := map[string]bool{}
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var d struct{ Panels []panel }
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		u, problems := checkPanels(d.Panels, sources, metrics)
		for _, p := range problems {
			t.Errorf("%s: %s", filepath.Base(path), p)
		}
		for name := range u {
			used[name] = true
		}
	}
	for _, name := range []string{
		"spacepulse_consumer_lag_messages",
		"spacepulse_consumer_dead_letters_total",
		"spacepulse_consumer_events_total",
		"spacepulse_consumer_retries_total",
		"spacepulse_consumer_land_seconds_total",
		"spacepulse_consumer_batches_total",
		"spacepulse_consumer_last_commit_timestamp_seconds",
	} {
		if !used[name] {
			t.Errorf("no dashboard panel uses %s", name)
		}
	}
	var names []string
	for name := range used {
		names = append(names, name)
	}
	sort.Strings(names)
	t.Logf("dashboards use %d of the consumer's %d metrics: %s", len(names), len(metrics), strings.Join(names, ", "))
}

// TestCheckPanelsFails makes sure the check above can fail: each broken panel
// must be reported, the good one must not.
func TestCheckPanelsFails(t *testing.T) {
	sources := map[string]string{"spacepulse-prometheus": "prometheus", "spacepulse": "spacepulse-spacepulse-datasource"}
	metrics := map[string]string{
		"spacepulse_consumer_events_total": "COUNTER",
		"spacepulse_consumer_lag_messages": "GAUGE",
	}
	f := func(uid, expr, want string) {
		t.Helper()
		var p panel
		p.Title, p.Type = "p", "timeseries"
		p.Datasource = &dsRef{Type: "prometheus", UID: uid}
		p.Targets = append(p.Targets, struct {
			RefID      string `json:"refId"`
			Datasource *dsRef
			Expr       string
		}{RefID: "A", Expr: expr})
		_, problems := checkPanels([]panel{{Type: "row", Panels: []panel{p}}}, sources, metrics)
		got := strings.Join(problems, "; ")
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("uid %s expr %q: problems %q, want %q", uid, expr, got, want)
		}
	}
	f("spacepulse-prometheus", `sum(rate(spacepulse_consumer_events_total[$__rate_interval]))`, "")
	f("spacepulse-prometheus", `max(spacepulse_consumer_lag_messages)`, "")
	f("spacepulse-prometheus", `sum(spacepulse_consumer_lag)`, "spacepulse_consumer_lag is not a metric the consumer exports")
	f("spacepulse-prometheus", `spacepulse_consumer_dead_letter_total`, "not a metric the consumer exports")
	f("prometheus", `max(spacepulse_consumer_lag_messages)`, `uid "prometheus" is not a Prometheus datasource`)
	f("spacepulse", `max(spacepulse_consumer_lag_messages)`, "is not a Prometheus datasource")
	f("spacepulse-prometheus", `sum(spacepulse_consumer_events_total)`, "outside rate")
	f("spacepulse-prometheus", `rate(spacepulse_consumer_lag_messages[5m])`, "gauge spacepulse_consumer_lag_messages inside rate")
	f("spacepulse-prometheus", `sum(rate(spacepulse_consumer_events_total[5m])`, "unclosed (")
	f("spacepulse-prometheus", `up{job="spacepulse-consumer"}`, "names no spacepulse_ metric")
}

// TestScrapeConfig checks prometheus.yml: it scrapes the consumer's /metrics
// at a host:port (the -metrics-addr form), and its scrape interval is the
// timeInterval the Grafana Prometheus datasource assumes.
func TestScrapeConfig(t *testing.T) {
	raw, err := os.ReadFile("prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Global struct {
			ScrapeInterval string `yaml:"scrape_interval"`
		}
		ScrapeConfigs []struct {
			JobName       string                       `yaml:"job_name"`
			MetricsPath   string                       `yaml:"metrics_path"`
			StaticConfigs []struct{ Targets []string } `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName != "spacepulse-consumer" {
			continue
		}
		found = true
		if sc.MetricsPath != "/metrics" {
			t.Errorf("metrics_path %q: the consumer serves /metrics", sc.MetricsPath)
		}
		n := 0
		for _, s := range sc.StaticConfigs {
			for _, target := range s.Targets {
				n++
				if ok, _ := regexp.MatchString(`^[^:/\s]+:\d+$`, target); !ok {
					t.Errorf("target %q is not host:port (as -metrics-addr takes)", target)
				}
			}
		}
		if n == 0 {
			t.Error("job spacepulse-consumer has no target")
		}
	}
	if !found {
		t.Error("no scrape job spacepulse-consumer")
	}

	ds, err := os.ReadFile(filepath.Join(provisioning, "datasources", "prometheus.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Datasources []struct {
			UID      string
			JSONData struct {
				TimeInterval string `yaml:"timeInterval"`
			} `yaml:"jsonData"`
		}
	}
	if err := yaml.Unmarshal(ds, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Datasources) != 1 || doc.Datasources[0].JSONData.TimeInterval != cfg.Global.ScrapeInterval {
		t.Errorf("Grafana's Prometheus datasource timeInterval should be the scrape_interval %s: %+v", cfg.Global.ScrapeInterval, doc.Datasources)
	}
}
