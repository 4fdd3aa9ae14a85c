package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pluginID is the type of this plugin's panels in the dashboards.
const pluginID = "spacepulse-spacepulse-datasource"

// TestDashboardQueriesRun runs every SpacePulse panel query of the provisioned dashboards through
// the plugin against ClickHouse ($room set to room-a), so a dashboard never ships a query the server
// refuses (raw SQL included, on 18.16). Panels on other datasources (Pipeline health's Prometheus
// row) are left to deployments/monitoring, which checks their metrics against the consumer's.
func TestDashboardQueriesRun(t *testing.T) {
	l := load(t)
	paths, _ := filepath.Glob(filepath.Join(grafanaDir(t), "provisioning", "dashboards", "*", "*.json"))
	if len(paths) == 0 {
		t.Fatal("no dashboards")
	}
	ran, skipped := 0, 0
	for _, path := range paths {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Panels []struct {
				Title      string
				Datasource *struct{ Type string }
				Targets    []map[string]any
			}
		}
		if err := json.Unmarshal([]byte(strings.ReplaceAll(string(raw), "$room", "room-a")), &d); err != nil {
			t.Fatal(err)
		}
		// Pipeline health reads inserted_at (now); Space live the scenario's night.
		from, to := t0.Add(-time.Hour), t0.Add(2*time.Hour)
		if strings.Contains(path, "pipeline") {
			from, to = time.Now().Add(-time.Hour), time.Now().Add(time.Minute)
		}
		for _, p := range d.Panels {
			if p.Datasource != nil && p.Datasource.Type != pluginID {
				skipped += len(p.Targets)
				continue
			}
			for _, target := range p.Targets {
				if ds, ok := target["datasource"].(map[string]any); ok && ds["type"] != pluginID {
					skipped++
					continue
				}
				delete(target, "datasource")
				resp := l.c.queryData(t, l.in, nil, query{refID: "A", model: target, interval: 10 * time.Second, from: from, to: to})
				if r := resp.Responses["A"]; r.Error != nil {
					t.Errorf("%s: panel %q: %v", filepath.Base(path), p.Title, r.Error)
				} else if len(r.Frames) == 0 || r.Frames[0].Rows() == 0 {
					t.Errorf("%s: panel %q: no rows", filepath.Base(path), p.Title)
				}
				ran++
			}
		}
	}
	t.Logf("ran %d panel queries (%d on other datasources skipped)", ran, skipped)
}
