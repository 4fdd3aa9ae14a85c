package schemas

import (
	"os"
	"regexp"
	"testing"
	"time"
)

// TestReadmeExamples decodes every ```json block of README.md: the contract's
// examples must be valid events.
func TestReadmeExamples(t *testing.T) {
	md, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(md, -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no json example")
	}
	now := time.Date(2024, 8, 13, 12, 0, 0, 0, time.UTC)
	d := NewDecoder()
	for i, b := range blocks {
		var ev Event
		if err := d.Decode(ContentTypeJSON, b[1], &ev, now); err != nil {
			t.Errorf("example %d of README.md is invalid: %v\n%s", i+1, err, b[1])
		}
	}
}
