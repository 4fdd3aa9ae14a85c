package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/spacepulse/spacepulse/sql/report"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// alertRule is the part of the provisioned rule the test replays.
type alertRule struct {
	Groups []struct {
		Rules []struct {
			UID  string `yaml:"uid"`
			Data []struct {
				RefID             string `yaml:"refId"`
				RelativeTimeRange struct {
					From int `yaml:"from"`
					To   int `yaml:"to"`
				} `yaml:"relativeTimeRange"`
				DatasourceUID string         `yaml:"datasourceUid"`
				Model         map[string]any `yaml:"model"`
			} `yaml:"data"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// grafanaDir is the grafana/ folder of the repository.
func grafanaDir(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// TestAlertFiresAndClears replays room-a's failure window minute by minute through the
// provisioned alert rule, as Grafana's alert engine would evaluate it (the FromAlert header, the
// rule's relative time range, the reduce and threshold expressions), and checks it fires exactly
// in minutes 4, 5, 12 and 13: not on business errors, not on minutes under 25 attempts, kept
// firing by a minute with no data and cleared by a good one. The plugin's minutes must be the
// report's, minute by minute (one query, sql/queries/alert_state.sql).
func TestAlertFiresAndClears(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(grafanaDir(t), "provisioning", "alerting", "join-failure-rate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file alertRule
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	rule := file.Groups[0].Rules[0]
	a, b, c := rule.Data[0], rule.Data[1], rule.Data[2]
	if a.DatasourceUID != "spacepulse" || a.Model["queryType"] != "alertState" || b.Model["reducer"] != "last" || c.Model["type"] != "threshold" {
		t.Fatalf("unexpected rule shape: %+v", rule)
	}
	threshold := c.Model["conditions"].([]any)[0].(map[string]any)["evaluator"].(map[string]any)["params"].([]any)[0].(float64)

	l := load(t)
	var fired []int
	for m := 0; m <= len(replay)+1; m++ {
		now := t0.Add(time.Duration(m)*time.Minute + 29*time.Second)
		resp := l.c.queryData(t, l.in, map[string]string{"FromAlert": "true"}, query{
			refID: "A", model: a.Model, interval: time.Second,
			from: now.Add(-time.Duration(a.RelativeTimeRange.From) * time.Second),
			to:   now.Add(-time.Duration(a.RelativeTimeRange.To) * time.Second),
		})
		r := resp.Responses["A"]
		if r.Error != nil {
			t.Fatalf("minute %d: %v", m, r.Error)
		}
		for _, f := range r.Frames {
			if label(f, "room") != "room-a" {
				continue
			}
			if len(f.Fields) != 2 {
				t.Fatalf("minute %d: the alert engine gets %d fields, want time and firing only (one series per room)", m, len(f.Fields))
			}
			_, firing := series[float64](t, f, "firing")
			if len(firing) > 0 && firing[len(firing)-1] > threshold {
				fired = append(fired, m)
			}
		}
	}
	if !slices.Equal(fired, alertFiresAt) {
		t.Errorf("alert fired in minutes %v, want %v", fired, alertFiresAt)
	}

	// A panel over the whole night and the report: the same minutes.
	end := t0.Add(time.Duration(len(replay)+2)*time.Minute - time.Second)
	resp := l.c.queryData(t, l.in, nil, query{refID: "A", model: map[string]any{"queryType": "alertState", "rooms": []string{"room-a"}},
		interval: time.Minute, from: t0.Add(-time.Hour), to: end})
	r := resp.Responses["A"]
	if r.Error != nil || len(r.Frames) != 1 {
		t.Fatalf("alertState panel: %v, %d frames", r.Error, len(r.Frames))
	}
	rep, err := report.Build(t.Context(), l.conn, report.Options{Space: "room-a", To: end})
	if err != nil {
		t.Fatal(err)
	}
	ts, firing := series[float64](t, r.Frames[0], "firing")
	_, states := series[string](t, r.Frames[0], "state")
	var want []warehouse.AlertMinute
	for _, m := range rep.AlertMinutes {
		if len(ts) > 0 && !m.Start.Before(ts[0]) {
			want = append(want, m)
		}
	}
	if len(ts) == 0 || len(want) != len(ts) {
		t.Fatalf("panel has %d minutes, the report %d", len(ts), len(want))
	}
	for i, m := range want {
		if !ts[i].Equal(m.Start) || (firing[i] == 1) != m.Firing || states[i] != m.State {
			t.Fatalf("minute %s: panel firing=%v %s, report %+v", ts[i], firing[i], states[i], m)
		}
	}
}
