package plugin

import (
	"encoding/json"
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
// it unmarshals strictly into Query (or VariableQuery) and passes Validate.
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
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(path, ".json"):
			seen["dashboard"]++
			checkDashboard(t, path, raw)
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
				checkDatasources(t, path, raw)
			case doc["providers"] != nil:
				seen["providers"]++
				checkProviders(t, path, raw)
			case doc["groups"] != nil:
				seen["alerting"]++
				checkAlerts(t, path, raw)
			default:
				t.Errorf("%s: not a datasource, dashboard provider or alerting file", path)
			}
		default:
			t.Errorf("%s: unexpected file in provisioning/", path)
		}
	}
	for _, kind := range []string{"dashboard", "datasources", "providers", "alerting"} {
		if seen[kind] == 0 {
			t.Errorf("no %s file under %s", kind, provisioning)
		}
	}
	if seen["dashboard"] != 2 {
		t.Errorf("%d dashboards, want Space live and Pipeline health", seen["dashboard"])
	}
}

func checkDatasources(t *testing.T, path string, raw []byte) {
	var doc struct {
		Datasources []struct {
			Name, Type, UID string
			JSONData        map[string]any    `yaml:"jsonData"`
			SecureJSONData  map[string]string `yaml:"secureJsonData"`
		}
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, ds := range doc.Datasources {
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

func checkAlerts(t *testing.T, path string, raw []byte) {
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
				if q.QueryType == TypeJoinFailureRate && (q.Rate == RatePerUser || q.CompleteBuckets < 1 || q.IncludeCounts) {
					t.Errorf("%s: rule %s: the paging query must be the per-attempt rate of complete buckets, rate only", path, r.UID)
				}
			}
			if ours == 0 {
				t.Errorf("%s: rule %s queries no SpacePulse datasource", path, r.UID)
			}
		}
	}
}

func checkDashboard(t *testing.T, path string, raw []byte) {
	var d struct {
		UID, Title string
		Panels     []struct {
			ID         int
			Title      string
			Type       string
			Datasource *struct{ Type, UID string }
			Targets    []json.RawMessage
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
		if p.Type == "text" || p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "spacepulse" || p.Datasource.Type != ID {
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
