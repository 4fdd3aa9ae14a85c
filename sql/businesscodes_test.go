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
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

// The business codes have one definition, schemas.BusinessCodes. The SQL that classifies an
// event (the rollup views of the migrations, the reconcile statements that mirror them) writes
// {business_codes}, which warehouse.Migrate and warehouse.Reconcile fill in from it; the chdb
// test model keeps a copy of its own. This test fails on any list of codes written out in SQL or
// Go, and on a Python copy that differs.
func TestBusinessCodeListsMatchSchemas(t *testing.T) {
	want := schemas.BusinessCodes()
	slices.Sort(want)
	sqlList := regexp.MustCompile(`(?i)\bcode\s+(?:NOT\s+)?IN\s*\(([^)]*)\)`)
	pyList := regexp.MustCompile(`BUSINESS\s*=\s*\{([^}]*)\}`)
	comments := regexp.MustCompile(`(--|//)[^\n]*`)
	placeholders, copies := 0, 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "__pycache__" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		isSQL := strings.HasSuffix(path, ".sql") || strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go")
		isPy := strings.HasSuffix(path, ".py")
		if !isSQL && !isPy {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if isSQL {
			code := comments.ReplaceAllString(string(b), "") // a comment may name the codes
			for _, m := range sqlList.FindAllStringSubmatch(code, -1) {
				if strings.TrimSpace(m[1]) != "{business_codes}" {
					t.Errorf("%s: %s: write IN ({business_codes}), filled in from schemas.BusinessCodes", path, m[0])
				}
				placeholders++
			}
			return nil
		}
		for _, m := range pyList.FindAllStringSubmatch(string(b), -1) {
			var got []string
			for _, c := range strings.Split(m[1], ",") {
				got = append(got, strings.Trim(strings.TrimSpace(c), `'"`))
			}
			slices.Sort(got)
			copies++
			if !slices.Equal(got, want) {
				t.Errorf("%s: business codes %q, schemas.BusinessCodes() is %q", path, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// migrations 0002-0005 (8 lists) and reconcile.go (2), the chdb model (1) at the time of
	// writing: fewer means the patterns stopped matching and the test would check nothing.
	if placeholders < 10 || copies < 1 {
		t.Errorf("found %d {business_codes} lists and %d Python copies, want at least 10 and 1: did the SQL change shape?", placeholders, copies)
	}
	var quoted []string
	for _, c := range schemas.BusinessCodes() {
		quoted = append(quoted, "'"+c+"'")
	}
	if got := warehouse.BusinessCodesSQL(); got != strings.Join(quoted, ", ") {
		t.Errorf("BusinessCodesSQL() = %s, want %s", got, strings.Join(quoted, ", "))
	}
}
