package compose_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// repoRoot is the build context of the Dockerfile (docker-compose.yml: context ../..).
const repoRoot = "../.."

// buildTimeout bounds the build stage: a cold build of the four binaries took about 2 minutes
// on the 2-core machine; with the shared Go build cache warm, seconds.
const buildTimeout = 8 * time.Minute

// parseDockerfile reads the Dockerfile with BuildKit's own parser into its stages.
func parseDockerfile(t *testing.T) []instructions.Stage {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s), want a build stage and a runtime stage", len(stages))
	}
	return stages
}

// image is what the runtime stage (the last) takes from the build stage.
type image struct {
	build      instructions.Stage
	fromBuild  []string // container paths in the build stage that the runtime stage copies
	dest       string   // where they land
	entrypoint []string
}

func runtimeImage(t *testing.T, stages []instructions.Stage) image {
	t.Helper()
	rt := stages[len(stages)-1]
	var im image
	for _, c := range rt.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			if c.From == "" {
				t.Errorf("runtime stage: %s copies from the context, want binaries from the build stage only", c)
				continue
			}
			i := slices.IndexFunc(stages, func(s instructions.Stage) bool { return s.Name == c.From })
			if i < 0 || i == len(stages)-1 {
				t.Fatalf("runtime stage: COPY --from=%s names no earlier stage", c.From)
			}
			if im.build.Name != "" && im.build.Name != c.From {
				t.Errorf("runtime stage copies from %s and %s, want one build stage", im.build.Name, c.From)
			}
			im.build = stages[i]
			im.fromBuild = append(im.fromBuild, c.SourcePaths...)
			im.dest = c.DestPath
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				t.Errorf("runtime stage: ENTRYPOINT %v is the shell form: want the exec form, so signals reach the binary", c.CmdLine)
			}
			im.entrypoint = c.CmdLine
		}
	}
	if len(im.fromBuild) == 0 {
		t.Fatal("runtime stage copies nothing from a build stage")
	}
	return im
}

// binaries are the names the runtime image has on its PATH.
func (im image) binaries() []string {
	var names []string
	for _, p := range im.fromBuild {
		names = append(names, path.Base(p))
	}
	slices.Sort(names)
	return names
}

// stageRun is a build stage run outside a container: container path P is root+P.
type stageRun struct {
	root string
	err  error
}

var (
	buildOnce sync.Once
	built     stageRun
)

// buildStage runs the build stage once per test binary and returns its result; TestMain removes
// the directory.
func buildStage(t *testing.T, st instructions.Stage) stageRun {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the build stage compiles the binaries")
	}
	buildOnce.Do(func() {
		root, err := os.MkdirTemp("", "spacepulse-dockerfile-")
		if err != nil {
			built.err = err
			return
		}
		built.root = root
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		start := time.Now()
		built.err = runStage(ctx, st, root)
		t.Logf("build stage %s ran in %.1f s", st.Name, time.Since(start).Seconds())
	})
	if built.err != nil {
		t.Fatalf("build stage: %v", built.err)
	}
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.root != "" {
		os.RemoveAll(built.root)
	}
	os.Exit(code)
}

// runStage runs st's instructions against this checkout, as docker build would in a container:
// COPY from the context filtered by Dockerfile.dockerignore into root, WORKDIR and RUN in root.
// ARG and ENV values that are absolute paths name container paths and are moved under root, so
// the commands must reach container paths through them (the Dockerfile says so). RUN cache
// mounts are left to the host's Go caches; any other instruction or mount is refused, rather
// than pretended.
func runStage(ctx context.Context, st instructions.Stage, root string) error {
	ignore, err := readIgnore()
	if err != nil {
		return err
	}
	env := map[string]string{}
	workdir := "/"
	expand := func(s string) string { return os.Expand(s, func(k string) string { return env[k] }) }
	setVar := func(k, v string) {
		if path.IsAbs(v) {
			v = filepath.Join(root, v)
		}
		env[k] = v
	}
	for _, c := range st.Commands {
		switch c := c.(type) {
		case *instructions.ArgCommand:
			for _, a := range c.Args {
				setVar(a.Key, expand(a.ValueString()))
			}
		case *instructions.EnvCommand:
			for _, kv := range c.Env {
				setVar(kv.Key, expand(kv.Value))
			}
		case *instructions.WorkdirCommand:
			workdir = path.Join(workdir, expand(c.Path))
			if err := os.MkdirAll(filepath.Join(root, workdir), 0o755); err != nil {
				return err
			}
		case *instructions.CopyCommand:
			if c.From != "" || len(c.SourceContents) > 0 {
				return fmt.Errorf("%s: only COPY from the build context is emulated", c)
			}
			dest := expand(c.DestPath)
			intoDir := strings.HasSuffix(dest, "/") || dest == "." || len(c.SourcePaths) > 1
			if !path.IsAbs(dest) {
				dest = path.Join(workdir, dest)
			}
			for _, src := range c.SourcePaths {
				if err := copyFromContext(path.Clean(expand(src)), filepath.Join(root, dest), intoDir, ignore); err != nil {
					return fmt.Errorf("%s: %w", c, err)
				}
			}
		case *instructions.RunCommand:
			// The mounts are parsed when the command is expanded (BuildKit does it per build).
			if err := c.Expand(func(w string) (string, error) { return expand(w), nil }); err != nil {
				return fmt.Errorf("%s: %w", c, err)
			}
			for _, m := range instructions.GetMounts(c) {
				if m.Type != instructions.MountTypeCache {
					return fmt.Errorf("%s: a %s mount is not emulated", c, m.Type)
				}
			}
			if err := run(ctx, c, filepath.Join(root, workdir), env); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: not emulated in the build stage (ARG, ENV, WORKDIR, COPY and RUN are)", c)
		}
	}
	return nil
}

// run runs one RUN instruction on the host, in its own process group so that the timeout
// kills go build's children too.
func run(ctx context.Context, c *instructions.RunCommand, dir string, env map[string]string) error {
	argv := c.CmdLine
	if c.PrependShell {
		argv = []string{"/bin/sh", "-c", strings.Join(c.CmdLine, " ")}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return fmt.Errorf("%s: not done within %s: %w\n%s", c, buildTimeout, ctx.Err(), out)
	}
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", c, err, out)
	}
	return nil
}

// readIgnore reads Dockerfile.dockerignore, the context filter BuildKit uses for this Dockerfile.
func readIgnore() (*patternmatcher.PatternMatcher, error) {
	f, err := os.Open("Dockerfile.dockerignore")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("Dockerfile.dockerignore: %w", err)
	}
	return patternmatcher.New(patterns)
}

// copyFromContext copies the context path src ("." for all of it), without what ignore leaves
// out, to dst: a directory's content into dst, a file to dst or, when intoDir, into it.
func copyFromContext(src, dst string, intoDir bool, ignore *patternmatcher.PatternMatcher) error {
	excluded := func(rel string) bool {
		ok, err := ignore.MatchesOrParentMatches(rel)
		return err != nil || ok
	}
	if src != "." && excluded(src) {
		return fmt.Errorf("%s is not in the build context (Dockerfile.dockerignore leaves it out)", src)
	}
	base := filepath.Join(repoRoot, src)
	info, err := os.Stat(base)
	if err != nil {
		return fmt.Errorf("%s is not in the build context: %w", src, err)
	}
	if !info.IsDir() {
		if intoDir {
			dst = filepath.Join(dst, filepath.Base(src))
		}
		return copyFile(base, dst, info.Mode())
	}
	return filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		if rel == "." || !excluded(filepath.ToSlash(rel)) {
			if d.IsDir() {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			inner, _ := filepath.Rel(base, p)
			return copyFile(p, filepath.Join(dst, inner), fi.Mode())
		}
		if d.IsDir() && !mayReinclude(ignore, filepath.ToSlash(rel)) {
			return filepath.SkipDir // .git, .run, node_modules: never walked
		}
		return nil
	})
}

// mayReinclude reports whether a !pattern of ignore could bring back something under dir.
func mayReinclude(ignore *patternmatcher.PatternMatcher, dir string) bool {
	for _, p := range ignore.Patterns() {
		if p.Exclusion() && (strings.HasPrefix(p.String(), dir+"/") || strings.ContainsAny(p.String(), "*?[")) {
			return true
		}
	}
	return false
}

func copyFile(src, dst string, mode fs.FileMode) error {
	if !mode.IsRegular() {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode.Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// mainPackages are the commands under producers/cmd, consumers/cmd and sql/cmd: the binaries
// the image is for (README: make build), by directory name, found without the Dockerfile.
func mainPackages(t *testing.T) []string {
	t.Helper()
	var names []string
	for _, tree := range []string{"producers/cmd", "consumers/cmd", "sql/cmd"} {
		entries, err := os.ReadDir(filepath.Join(repoRoot, tree))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() {
				names = append(names, e.Name())
			}
		}
	}
	slices.Sort(names)
	return names
}

// TestDockerfileBuildStage runs the build stage's instructions against this checkout (the
// context filtered by Dockerfile.dockerignore), so a wrong package path, flag or ignore pattern
// fails here as it would in docker build; then checks that the runtime stage copies exactly the
// binaries the build produced, that they are the commands of producers/cmd, consumers/cmd and
// sql/cmd, that ENTRYPOINT names one of them, and that the Go image is go.mod's Go.
func TestDockerfileBuildStage(t *testing.T) {
	stages := parseDockerfile(t)
	im := runtimeImage(t, stages)

	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)(\.\d+)?$`).FindStringSubmatch(readFile(t, repoRoot+"/go.mod"))
	if tag, ok := strings.CutPrefix(im.build.BaseName, "golang:"); !ok || goVersion == nil || !strings.HasPrefix(tag, goVersion[1]+"-") && tag != goVersion[1] {
		t.Errorf("build stage FROM %s: want golang:%s (go.mod's go line)", im.build.BaseName, goVersion[1])
	}

	dirs := map[string]bool{}
	for _, p := range im.fromBuild {
		dirs[path.Dir(p)] = true
	}
	if len(dirs) != 1 {
		t.Fatalf("runtime stage copies from %d directories of the build stage, want its one output directory", len(dirs))
	}
	var outDir string
	for d := range dirs {
		outDir = d
	}

	res := buildStage(t, im.build)
	entries, err := os.ReadDir(filepath.Join(res.root, outDir))
	if err != nil {
		t.Fatalf("the build stage wrote no %s: %v (a command that names the directory literally instead of through its ARG writes outside the test's root)", outDir, err)
	}
	var produced []string
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s/%s is not an executable file", outDir, e.Name())
		}
		produced = append(produced, e.Name())
	}
	slices.Sort(produced)
	if !slices.Equal(produced, im.binaries()) {
		t.Errorf("the build stage produces %v, the runtime stage copies %v: want the same", produced, im.binaries())
	}
	if want := mainPackages(t); !slices.Equal(produced, want) {
		t.Errorf("the build stage produces %v, want the commands %v", produced, want)
	}
	if len(im.entrypoint) == 0 || !slices.Contains(produced, path.Base(im.entrypoint[0])) {
		t.Errorf("ENTRYPOINT %v names none of the binaries %v", im.entrypoint, produced)
	}
	if !path.IsAbs(im.entrypoint[0]) && !slices.Contains([]string{"/usr/local/bin/", "/usr/bin/", "/bin/"}, im.dest) {
		t.Errorf("ENTRYPOINT %s is found on PATH, but the binaries are copied to %s", im.entrypoint[0], im.dest)
	}
	t.Logf("image binaries %v in %s, entrypoint %v", produced, im.dest, im.entrypoint)
}

// TestRunStageFails makes sure the emulation can fail: a package path the build cannot find,
// an ignore file that leaves out a package the binaries import, and a flag go build refuses.
func TestRunStageFails(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs go build")
	}
	stages := parseDockerfile(t)
	build := runtimeImage(t, stages).build
	f := func(name, dockerfile, want string) {
		t.Helper()
		res, err := parser.Parse(strings.NewReader(dockerfile))
		if err != nil {
			t.Fatal(err)
		}
		st, _, err := instructions.Parse(res.AST, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err = runStage(ctx, st[0], t.TempDir())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want it to say %q", name, err, want)
		}
	}
	from := "FROM " + build.BaseName + " AS build\nARG OUT=/out\nWORKDIR /src\n"
	f("wrong package", from+"COPY . .\nRUN go build -o \"$OUT/\" ./consumers/cmd/spacepulse-consume\n", "directory not found")
	f("not in context", from+"COPY deployments deployments\n", "not in the build context")
	f("wrong flag", from+"COPY . .\nRUN go build -trimpth -o \"$OUT/\" ./sql/cmd/spacepulse-migrate\n", "flag provided but not defined")
	f("unemulated", from+"USER nobody\n", "not emulated")
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
