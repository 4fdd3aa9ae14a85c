package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModuleRoot returns the root of the module the command runs in (go env GOMOD): the
// repository, where deployments/local and the commands are.
func ModuleRoot(ctx context.Context) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the spacepulse module (go env GOMOD): %w", err)
	}
	mod := strings.TrimSpace(string(gomod))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the spacepulse module: run from the repository")
	}
	return filepath.Dir(mod), nil
}

// Build compiles the commands pkgs (./consumers/cmd/spacepulse-consumer, …) of the module rooted
// at root into dir, each as the binary named after its folder, and returns their paths.
func Build(ctx context.Context, root, dir string, pkgs ...string) ([]string, error) {
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	cmd := exec.CommandContext(ctx, "go", append(args, pkgs...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build %s in %s: %w\n%s", strings.Join(pkgs, " "), root, err, out)
	}
	bins := make([]string, len(pkgs))
	for i, p := range pkgs {
		bins[i] = filepath.Join(dir, filepath.Base(p))
	}
	return bins, nil
}
