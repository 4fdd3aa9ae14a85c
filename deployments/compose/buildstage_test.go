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
	"strings"
	"syscall"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

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
