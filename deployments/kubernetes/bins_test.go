package kubernetes

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/spacepulse/spacepulse/schemas/cli"
)

// binaries are the programs the manifests run: their flags are read from their own -h, so an
// environment variable a manifest sets is checked against what the binary really binds.
var binaries = []string{"consumers/cmd/spacepulse-consumer", "sql/cmd/spacepulse-migrate"}

// flagSet is a binary's flags: name -> default as -h prints it ("" when it prints none).
type flagSet map[string]string

var (
	flagsOnce sync.Once
	flagsDir  string
	flagsOf   map[string]flagSet // binary name -> flags
	flagsErr  error
)

// binaryFlags builds the binaries once (into a directory TestMain removes) and reads each one's
// flags from its -h.
func binaryFlags() (map[string]flagSet, error) {
	flagsOnce.Do(func() {
		flagsDir, flagsErr = os.MkdirTemp("", "spacepulse-k8s-bins-")
		if flagsErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		args := []string{"build", "-o", flagsDir + string(os.PathSeparator)}
		for _, b := range binaries {
			args = append(args, "./"+b)
		}
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			flagsErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		flagsOf = make(map[string]flagSet)
		for _, b := range binaries {
			name := filepath.Base(b)
			cmd := exec.CommandContext(ctx, filepath.Join(flagsDir, name), "-h")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")} // no SPACEPULSE_* from the test's environment
			out, err := cmd.Output()
			if err != nil {
				flagsErr = fmt.Errorf("%s -h: %v", name, err)
				return
			}
			fs := flagSet(cli.ParseUsage(out))
			if len(fs) < 5 {
				flagsErr = fmt.Errorf("%s -h: found %d flags in %q: the usage format changed", name, len(fs), out)
				return
			}
			flagsOf[name] = fs
		}
	})
	return flagsOf, flagsErr
}

// envFlag is the flag an environment variable binds (SPACEPULSE_KAFKA_GROUP: kafka-group), in
// the binary's flags; "" if none.
func (fs flagSet) envFlag(env string) string {
	for name := range fs {
		if cli.Env(name) == env {
			return name
		}
	}
	return ""
}
