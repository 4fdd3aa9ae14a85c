package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/sql/warehouse"
)

func TestAlertsInTextAndJSON(t *testing.T) {
	t0 := time.Date(2024, 8, 13, 0, 0, 0, 0, time.UTC)
	f := func(alerts []warehouse.AlertTransition, wantText []string, wantJSON string) {
		t.Helper()
		r := &Report{Rule: warehouse.PageRule, Alerts: alerts,
			Summary: warehouse.SpaceSummary{Space: "room", From: t0, To: t0.Add(time.Hour - time.Second)}}
		var text, js bytes.Buffer
		if err := r.WriteText(&text); err != nil {
			t.Fatalf("WriteText: %v", err)
		}
		for _, want := range wantText {
			if !strings.Contains(text.String(), want) {
				t.Fatalf("text lacks %q:\n%s", want, text.String())
			}
		}
		if err := r.WriteJSON(&js); err != nil {
			t.Fatalf("WriteJSON: %v", err)
		}
		var doc struct {
			Alerts json.RawMessage `json:"alerts"`
		}
		if err := json.Unmarshal(js.Bytes(), &doc); err != nil || string(doc.Alerts) != wantJSON {
			t.Fatalf("alerts = %s (%v), want %s", doc.Alerts, err, wantJSON)
		}
	}
	f(nil, []string{"alert (> 5.0 % for 2 min)  never fired"}, `[]`)
	f([]warehouse.AlertTransition{{FiredAt: t0.Add(2 * time.Minute), ClearedAt: t0.Add(31 * time.Minute)}, {FiredAt: t0.Add(50 * time.Minute)}},
		[]string{"fired 2024-08-13T00:02:00Z, cleared 2024-08-13T00:31:00Z (29m0s)",
			"fired 2024-08-13T00:50:00Z, still firing at the end (10m0s so far)"},
		`[{"fired_at":"2024-08-13T00:02:00Z","cleared_at":"2024-08-13T00:31:00Z"},{"fired_at":"2024-08-13T00:50:00Z","cleared_at":null}]`)
}
