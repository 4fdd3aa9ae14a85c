package plugin

import (
	"fmt"
	"testing"
	"time"
)

func TestQuerySettings(t *testing.T) {
	f := func(ro Readonly, raw bool, want string) {
		t.Helper()
		s := querySettings(ro, 30*time.Second, 1000, raw)
		if got := fmt.Sprint(map[string]any(s)); got != want {
			t.Errorf("readonly %d, raw %v: settings %s, want %s", ro, raw, got, want)
		}
	}
	f(ReadWrite, true, "map[max_execution_time:30 max_result_rows:1000 readonly:2]")
	f(ReadWrite, false, "map[max_execution_time:30]")
	f(ReadOnlySettable, true, "map[max_execution_time:30 max_result_rows:1000]")
	f(ReadOnlySettable, false, "map[max_execution_time:30]")
	// A readonly = 1 user may change no setting: its profile's limits apply.
	f(ReadOnlyFixed, true, "map[]")
	f(ReadOnlyFixed, false, "map[]")
}
