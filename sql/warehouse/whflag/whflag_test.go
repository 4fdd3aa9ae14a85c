package whflag

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spacepulse/spacepulse/schemas/cli"
	"github.com/spacepulse/spacepulse/sql/warehouse"
)

func TestBind(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := func(env map[string]string, args []string, want warehouse.Config) {
		t.Helper()
		for _, k := range []string{warehouse.EnvAddr, warehouse.EnvDatabase, warehouse.EnvUser, warehouse.EnvPassword, warehouse.EnvPassword + "_FILE"} {
			t.Setenv(k, env[k])
		}
		fs := cli.New("test")
		var c warehouse.Config
		Bind(fs, &c)
		if err := fs.Parse(args); err != nil {
			t.Fatalf("parse %v: %v", args, err)
		}
		if c != want {
			t.Fatalf("env %v args %v: %+v, want %+v", env, args, c, want)
		}
	}
	def := warehouse.NewConfig()
	f(nil, nil, def)
	env := map[string]string{warehouse.EnvAddr: "ch:9001", warehouse.EnvDatabase: "sp2", warehouse.EnvUser: "bob", warehouse.EnvPassword: "pw"}
	fromEnv := def
	fromEnv.Addr, fromEnv.Database, fromEnv.User, fromEnv.Password = "ch:9001", "sp2", "bob", "pw"
	f(env, nil, fromEnv)
	fromFlags := fromEnv
	fromFlags.Addr, fromFlags.DialTimeout = "other:9000", time.Second
	f(env, []string{"-clickhouse-addr", "other:9000", "-clickhouse-dial-timeout", "1s"}, fromFlags)
	fromFile := def
	fromFile.Password = "from-file"
	f(map[string]string{warehouse.EnvPassword + "_FILE": pw}, nil, fromFile)
	tls := def
	tls.Addr, tls.TLS.Enable, tls.TLS.ServerName = "a:9440,b:9440", true, "ch.example"
	f(nil, []string{"-clickhouse-addr", "a:9440,b:9440", "-clickhouse-tls", "-clickhouse-tls-server-name", "ch.example"}, tls)
}
