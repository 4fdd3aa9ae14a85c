package sql_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spacepulse/spacepulse/schemas"
)

// The business codes have one definition, schemas.BusinessCodes. ClickHouse 18.16 has no
// parameterised views, so the SQL that classifies an event (the rollup views of the migrations,
// the reconcile statements that mirror them) and the chdb test model write the codes literally;
// this test holds every such list to the Go one, so a code added in one place fails here until it
// is added everywhere (with a new migration for the views: applied migrations are history).
func TestBusinessCodeListsMatchSchemas(t *testing.T) {
	want := schemas.BusinessCodes()
	slices.Sort(want)
	sqlList := regexp.MustCompile(`(?i)\bcode\s+(?:NOT\s+)?IN\s*\(([^)]*)\)`)
	pyList := regexp.MustCompile(`BUSINESS\s*=\s*\{([^}]*)\}`)
	found := 0
	check := func(path string, re *regexp.Regexp) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			var got []string
			for _, c := range strings.Split(m[1], ",") {
				got = append(got, strings.Trim(strings.TrimSpace(c), `'"`))
			}
			slices.Sort(got)
			found++
			if !slices.Equal(got, want) {
				t.Errorf("%s: business codes %q, schemas.BusinessCodes() is %q", path, got, want)
			}
		}
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.IsDir() && (d.Name() == "__pycache__" || strings.HasPrefix(d.Name(), ".")) && path != ".":
			return filepath.SkipDir
		case strings.HasSuffix(path, ".sql"), strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			check(path, sqlList)
		case strings.HasSuffix(path, ".py"):
			check(path, pyList)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// migrations 0002-0005 (9 lists), reconcile.go (2), test_chdb.py (1) at the time of writing:
	// fewer means the patterns stopped matching and the test would check nothing.
	if found < 12 {
		t.Errorf("found %d lists of business codes, want at least 12: did the SQL change shape?", found)
	}
}
