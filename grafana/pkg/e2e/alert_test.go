package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
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
// in minutes 4, 5 and 12: not on business errors, not on minutes under 25 attempts, and it clears
// as soon as one of the last two complete minutes is back under 5 %.
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
	if a.DatasourceUID != "spacepulse" || b.Model["reducer"] != "min" || c.Model["type"] != "threshold" {
		t.Fatalf("unexpected rule shape: %+v", rule)
	}
	settings := b.Model["settings"].(map[string]any)
	replaceWith := float64(settings["replaceWithValue"].(int))
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
			ts, rates := series[*float64](t, f, "rate")
			// Only complete minutes: the two before the current one.
			if m >= 2 && (len(ts) != 2 || !ts[1].Equal(t0.Add(time.Duration(m-1)*time.Minute))) {
				t.Errorf("minute %d: buckets %v, want the 2 complete minutes before %s", m, ts, now)
			}
			low := 0.0
			for i, r := range rates {
				v := replaceWith
				if r != nil {
					v = *r
				}
				if i == 0 || v < low {
					low = v
				}
			}
			if len(rates) > 0 && low > threshold {
				fired = append(fired, m)
			}
		}
	}
	if !slices.Equal(fired, alertFiresAt) {
		t.Errorf("alert fired in minutes %v, want %v", fired, alertFiresAt)
	}
}
