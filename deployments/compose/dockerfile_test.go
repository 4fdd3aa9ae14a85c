package compose_test

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
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
