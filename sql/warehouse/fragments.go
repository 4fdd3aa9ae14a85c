package warehouse

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// includeLine matches a fragment include in a query file: a line holding only
// `{name: arg = expr; arg = expr}`.
var includeLine = regexp.MustCompile(`(?m)^([ \t]*)\{([a-z_]+):([^{}\n]*)\}[ \t]*$`)

// fragmentArg matches a `{arg}` placeholder in a fragment's text.
var fragmentArg = regexp.MustCompile(`\{([a-z_]+)\}`)

// loadFragments reads fragments/*.sql of fsys: name (without .sql) to its text with the leading
// comment block removed (the file's documentation; the rest is inserted verbatim).
func loadFragments(fsys fs.FS) (map[string]string, error) {
	names, err := fs.Glob(fsys, "fragments/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list fragments: %w", err)
	}
	out := make(map[string]string, len(names))
	for _, name := range names {
		text, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("read fragment %s: %w", name, err)
		}
		lines := strings.Split(string(text), "\n")
		for len(lines) > 0 && strings.HasPrefix(strings.TrimSpace(lines[0]), "--") {
			lines = lines[1:]
		}
		out[strings.TrimSuffix(path.Base(name), ".sql")] = strings.TrimRight(strings.Join(lines, "\n"), "\n")
	}
	return out, nil
}

// expandFragments replaces every include line of a query with its fragment, each {arg} of the
// fragment replaced by the expression the include gives it. Every argument the fragment uses
// must be given, and only those: a typo fails loudly here rather than as SQL at run time.
func expandFragments(query string, fragments map[string]string) (string, error) {
	var expandErr error
	out := includeLine.ReplaceAllStringFunc(query, func(line string) string {
		m := includeLine.FindStringSubmatch(line)
		name, argText := m[2], m[3]
		body, ok := fragments[name]
		if !ok {
			expandErr = fmt.Errorf("include of unknown fragment %q", name)
			return line
		}
		args := map[string]string{}
		for _, part := range strings.Split(argText, ";") {
			k, v, ok := strings.Cut(part, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" || v == "" {
				expandErr = fmt.Errorf("include of %s: argument %q: want name = expression", name, strings.TrimSpace(part))
				return line
			}
			args[k] = v
		}
		used := map[string]bool{}
		text := fragmentArg.ReplaceAllStringFunc(body, func(ph string) string {
			k := ph[1 : len(ph)-1]
			v, ok := args[k]
			if !ok {
				expandErr = fmt.Errorf("include of %s: no value for {%s}", name, k)
				return ph
			}
			used[k] = true
			return v
		})
		for k := range args {
			if !used[k] {
				expandErr = fmt.Errorf("include of %s: fragment has no {%s}", name, k)
			}
		}
		return text
	})
	return out, expandErr
}
