package warehouse

import (
	"strings"
	"testing"
)

func TestExpandFragments(t *testing.T) {
	fragments := map[string]string{"f": "SELECT {a} + {b}, {a}"}
	f := func(in, want, wantErr string) {
		t.Helper()
		got, err := expandFragments(in, fragments)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("expandFragments(%q) error %v, want one containing %q", in, err, wantErr)
			}
			return
		}
		if err != nil || got != want {
			t.Fatalf("expandFragments(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	f("SELECT 1", "SELECT 1", "")
	f("FROM (\n    {f: a = @x; b = toDateTime(0, 'UTC')}\n)", "FROM (\nSELECT @x + toDateTime(0, 'UTC'), @x\n)", "")
	f("{f: a = 1; b = 'x', 'y'}", "SELECT 1 + 'x', 'y', 1", "")
	f("{g: a = 1}", "", `unknown fragment "g"`)
	f("{f: a = 1}", "", "no value for {b}")
	f("{f: a = 1; b = 2; c = 3}", "", "fragment has no {c}")
	f("{f: a 1; b = 2}", "", "want name = expression")
	f("SELECT '{f: a = 1}' AS s", "SELECT '{f: a = 1}' AS s", "") // not a line of its own
}

// TestQueriesIncludeCells: every query that reads space_second's uniqExact states does it
// through fragments/cells.sql (sealed counts where they hold), none merges them itself.
func TestQueriesIncludeCells(t *testing.T) {
	for _, name := range []string{"concurrency", "concurrency_buckets", "peak", "failure_rate", "activity", "summary"} {
		text := queries[name]
		if !strings.Contains(text, "space_second_sealed") {
			t.Errorf("query %s does not read sealed counts", name)
		}
		if strings.Contains(text, "{cells") || strings.Contains(text, "{lo}") {
			t.Errorf("query %s has an unexpanded include", name)
		}
	}
}
