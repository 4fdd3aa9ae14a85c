package plugin

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"gopkg.in/yaml.v3"
)

const provisioning = "../../provisioning"

// TestProvisioningFiles parses every provisioning file and dashboard and checks that every query
// of this datasource in them (panel targets, variables, the alert rule) is valid for the plugin:
// it unmarshals strictly into Query (or VariableQuery) and passes Validate. Panels on the
// Prometheus datasource must name a provisioned one; that their PromQL uses only metrics the
// consumer exports is checked in deployments/monitoring (this package may not import consumers/).
func TestProvisioningFiles(t *testing.T) {
	var files []string
	err := filepath.WalkDir(provisioning, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	pagesSeen := map[string]bool{}
	uids := map[string]string{} // provisioned datasources: uid -> type
	var dashboards []string
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(path, ".json"):
			seen["dashboard"]++
			dashboards = append(dashboards, path)
		case strings.HasSuffix(path, ".yaml"):
			var doc map[string]any
			if err := yaml.Unmarshal(raw, &doc); err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			if doc["apiVersion"] != 1 {
				t.Errorf("%s: apiVersion %v, want 1", path, doc["apiVersion"])
			}
			switch {
			case doc["datasources"] != nil:
				seen["datasources"]++
				checkDatasources(t, path, raw, uids)
			case doc["providers"] != nil:
				seen["providers"]++
				checkProviders(t, path, raw)
			case doc["groups"] != nil:
				seen["alerting"]++
				checkAlerts(t, path, raw, pagesSeen)
			default:
				t.Errorf("%s: not a datasource, dashboard provider or alerting file", path)
			}
		default:
			t.Errorf("%s: unexpected file in provisioning/", path)
		}
	}
	for _, path := range dashboards {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkDashboard(t, path, raw, uids)
	}
	for _, kind := range []string{"dashboard", "datasources", "providers", "alerting"} {
		if seen[kind] == 0 {
			t.Errorf("no %s file under %s", kind, provisioning)
		}
	}
	for _, uid := range []string{"spacepulse-join-failure-rate", "spacepulse-retry-amplification", "spacepulse-ccl-drop"} {
		if !pagesSeen[uid] {
			t.Errorf("no provisioned alert rule %s (the pages of sql/README.md)", uid)
		}
	}
	if seen["dashboard"] != 2 {
		t.Errorf("%d dashboards, want Space live and Pipeline health", seen["dashboard"])
	}
}

// prometheusUID is the provisioned Prometheus datasource that scrapes the consumer.
const prometheusUID = "spacepulse-prometheus"

// checkDatasources checks the SpacePulse and Prometheus datasources of path and adds their
// uids to uids (uid -> type).
func checkDatasources(t *testing.T, path string, raw []byte, uids map[string]string) {
	var doc struct {
		Datasources []struct {
			Name, Type, UID, URL, Access string
			JSONData                     map[string]any    `yaml:"jsonData"`
			SecureJSONData               map[string]string `yaml:"secureJsonData"`
		}
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, ds := range doc.Datasources {
		if _, dup := uids[ds.UID]; dup {
			t.Errorf("%s: datasource uid %q provisioned twice", path, ds.UID)
		}
		uids[ds.UID] = ds.Type
		if ds.Type == "prometheus" {
			checkPrometheus(t, path, ds.UID, ds.URL, ds.Access)
			continue
		}
		if ds.Type != ID || ds.UID != "spacepulse" {
			t.Errorf("%s: datasource %s type %q uid %q, want %s uid spacepulse", path, ds.Name, ds.Type, ds.UID, ID)
		}
		js, _ := json.Marshal(ds.JSONData)
		if _, err := ParseSettings(backend.DataSourceInstanceSettings{JSONData: js, DecryptedSecureJSONData: ds.SecureJSONData}); err != nil {
			t.Errorf("%s: datasource %s: %v", path, ds.Name, err)
		}
		if _, ok := ds.SecureJSONData["password"]; !ok {
			t.Errorf("%s: the password belongs in secureJsonData", path)
		}
	}
}

// checkPrometheus checks the Prometheus datasource: its uid is the one the dashboards use, and
// its URL comes from $SPACEPULSE_PROMETHEUS_URL, expanded as Grafana does (os.ExpandEnv: no
// ${VAR:-default} form, so a default written that way would silently give an empty URL).
func checkPrometheus(t *testing.T, path, uid, raw, access string) {
	if uid != prometheusUID || access != "proxy" {
		t.Errorf("%s: Prometheus datasource uid %q access %q, want uid %s access proxy", path, uid, access, prometheusUID)
	}
	unset := os.Expand(raw, func(string) string { return "" })
	set := os.Expand(raw, func(name string) string {
		if name == "SPACEPULSE_PROMETHEUS_URL" {
			return "http://127.0.0.1:9090"
		}
		return ""
	})
	u, err := url.Parse(set)
	if unset != "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		t.Errorf("%s: Prometheus url %q: want it from $SPACEPULSE_PROMETHEUS_URL (got %q with it set, %q unset)", path, raw, set, unset)
	}
}

func checkProviders(t *testing.T, path string, raw []byte) {
	var doc struct {
		Providers []struct {
			Name, Type string
			Options    struct{ Path string }
		}
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, p := range doc.Providers {
		local := filepath.Join(provisioning, strings.TrimPrefix(p.Options.Path, "/etc/grafana/provisioning/"))
		if p.Type != "file" || !strings.HasPrefix(p.Options.Path, "/etc/grafana/provisioning/") {
			t.Errorf("%s: provider %s: want type file under /etc/grafana/provisioning", path, p.Name)
		} else if st, err := os.Stat(local); err != nil || !st.IsDir() {
			t.Errorf("%s: provider %s: %s is not a folder of this repository", path, p.Name, local)
		}
	}
}

func checkAlerts(t *testing.T, path string, raw []byte, pagesSeen map[string]bool) {
	var doc struct {
		Groups []struct {
			Rules []struct {
				UID, Title, Condition string
				Data                  []struct {
					RefID         string         `yaml:"refId"`
					DatasourceUID string         `yaml:"datasourceUid"`
					Model         map[string]any `yaml:"model"`
				}
			}
		}
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			ours := 0
			for _, d := range r.Data {
				if d.DatasourceUID != "spacepulse" {
					continue
				}
				ours++
				js, _ := json.Marshal(d.Model)
				q, err := ParseQuery(js, "")
				if err != nil {
					t.Errorf("%s: rule %s query %s: %v", path, r.UID, d.RefID, err)
					continue
				}
				pages := map[string]string{"spacepulse-join-failure-rate": "", "spacepulse-retry-amplification": AlertRetryAmplification,
					"spacepulse-ccl-drop": AlertCCLDrop}
				if want, ok := pages[r.UID]; ok && (q.QueryType != TypeAlertState || q.Rule != want) {
					t.Errorf("%s: rule %s: the page must threshold alertState with rule %q (sql/queries/alert_state.sql), not a query of its own", path, r.UID, want)
				}
				pagesSeen[r.UID] = true
			}
			if ours == 0 {
				t.Errorf("%s: rule %s queries no SpacePulse datasource", path, r.UID)
			}
		}
	}
}

// checkDashboard checks every panel and variable of a dashboard: SpacePulse queries parse and
// validate; Prometheus panels use a provisioned Prometheus datasource (uids: uid -> type) and
// each of their targets has a refId and an expression.
func checkDashboard(t *testing.T, path string, raw []byte, uids map[string]string) {
	var d struct {
		UID, Title string
		Panels     []struct {
			ID         int
			Title      string
			Type       string
			Datasource *struct{ Type, UID string }
			Targets    []json.RawMessage
			Panels     []json.RawMessage // a collapsed row's panels
		}
		Templating struct {
			List []struct {
				Name       string
				Type       string
				Datasource *struct{ Type, UID string }
				Query      json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("%s: a dashboard needs a uid and a title", path)
	}
	for _, p := range d.Panels {
		if p.Type == "row" && len(p.Panels) > 0 {
			t.Errorf("%s: row %q: keep rows expanded (panels at the top level), this test reads only those", path, p.Title)
		}
		if p.Type == "text" || p.Type == "row" {
			continue
		}
		if p.Datasource != nil && p.Datasource.Type == "prometheus" {
			if uids[p.Datasource.UID] != "prometheus" {
				t.Errorf("%s: panel %q: datasource uid %q is not a provisioned Prometheus datasource", path, p.Title, p.Datasource.UID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", path, p.Title)
			}
			for _, raw := range p.Targets {
				var q struct {
					RefID      string `json:"refId"`
					Expr       string
					Datasource *struct{ Type, UID string }
				}
				if err := json.Unmarshal(raw, &q); err != nil || q.RefID == "" || strings.TrimSpace(q.Expr) == "" {
					t.Errorf("%s: panel %q: target %s: want a refId and a PromQL expr (%v)", path, p.Title, raw, err)
				} else if q.Datasource != nil && *q.Datasource != *p.Datasource {
					t.Errorf("%s: panel %q: query %s datasource %v, the panel's is %v", path, p.Title, q.RefID, *q.Datasource, *p.Datasource)
				}
			}
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "spacepulse" || p.Datasource.Type != ID || uids[p.Datasource.UID] != ID {
			t.Errorf("%s: panel %q: datasource %v, want the SpacePulse one", path, p.Title, p.Datasource)
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: panel %q has no query", path, p.Title)
		}
		for _, target := range p.Targets {
			if _, err := ParseQuery(target, ""); err != nil {
				t.Errorf("%s: panel %q: %v", path, p.Title, err)
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" || v.Datasource == nil || v.Datasource.UID != "spacepulse" {
			continue
		}
		if _, err := ParseVariableQuery(v.Query); err != nil {
			t.Errorf("%s: variable %s: %v", path, v.Name, err)
		}
	}
}
