// Package e2e tests the plugin the way Grafana runs it: the built gpx_spacepulse binary started
// with hashicorp/go-plugin and the SDK's handshake, called over gRPC, against a real ClickHouse
// (the warehousetest gate: SPACEPULSE_INTEGRATION unset runs if it answers, 0 skips, 1 must).
package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/spacepulse/spacepulse/schemas"
	"github.com/spacepulse/spacepulse/sql/warehouse"
	"github.com/spacepulse/spacepulse/sql/warehouse/warehousetest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// pluginBinary builds grafana/pkg once per test binary (or uses SPACEPULSE_PLUGIN_BINARY, e.g.
// grafana/dist/gpx_spacepulse_linux_amd64 from `make -C grafana build`).
func pluginBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("SPACEPULSE_PLUGIN_BINARY"); p != "" {
			binPath = p
			return
		}
		dir, err := os.MkdirTemp("", "spacepulse-plugin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gpx_spacepulse")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/spacepulse/spacepulse/grafana/pkg")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build plugin: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// client is a running plugin process and its gRPC clients.
type client struct {
	data   pluginv2.DataClient
	diag   pluginv2.DiagnosticsClient
	res    pluginv2.ResourceClient
	stream pluginv2.StreamClient
}

// launch starts the plugin binary as Grafana does: go-plugin with the SDK's handshake
// (grafana_plugin_type=datasource, protocol 2), gRPC only. It is killed when t ends.
func launch(t testing.TB) *client {
	t.Helper()
	pset := goplugin.PluginSet{
		"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
		"resource":    &grpcplugin.ResourceGRPCPlugin{},
		"data":        &grpcplugin.DataGRPCPlugin{},
		"stream":      &grpcplugin.StreamGRPCPlugin{},
	}
	pc := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{grpcplugin.ProtocolVersion: pset},
		Cmd:              exec.Command(pluginBinary(t)),
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Error}),
		SyncStdout:       io.Discard,
		SyncStderr:       io.Discard,
	})
	t.Cleanup(pc.Kill)
	rpc, err := pc.Client()
	if err != nil {
		t.Fatalf("start plugin: %v", err)
	}
	c := &client{}
	for name, dst := range map[string]any{"data": &c.data, "diagnostics": &c.diag, "resource": &c.res, "stream": &c.stream} {
		raw, err := rpc.Dispense(name)
		if err != nil {
			t.Fatalf("dispense %s: %v", name, err)
		}
		switch d := dst.(type) {
		case *pluginv2.DataClient:
			*d = raw.(pluginv2.DataClient)
		case *pluginv2.DiagnosticsClient:
			*d = raw.(pluginv2.DiagnosticsClient)
		case *pluginv2.ResourceClient:
			*d = raw.(pluginv2.ResourceClient)
		case *pluginv2.StreamClient:
			*d = raw.(pluginv2.StreamClient)
		}
	}
	return c
}

// instance is one datasource configuration as Grafana passes it in the plugin context.
type instance struct {
	pc backend.PluginContext
}

var instanceSeq int

// newInstance makes a datasource configuration for cfg's database; extra jsonData overrides.
func newInstance(cfg warehouse.Config, password string, extra map[string]any) instance {
	instanceSeq++
	js := map[string]any{"addr": cfg.Addr, "database": cfg.Database, "user": cfg.User, "timeoutSeconds": 60}
	for k, v := range extra {
		js[k] = v
	}
	b, _ := json.Marshal(js)
	return instance{pc: backend.PluginContext{
		OrgID:    1,
		PluginID: "spacepulse-spacepulse-datasource",
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID: int64(instanceSeq), UID: fmt.Sprintf("ds%d", instanceSeq), Name: "SpacePulse",
			JSONData: b, DecryptedSecureJSONData: map[string]string{"password": password},
			Updated: time.Now(),
		},
	}}
}

func (c *client) checkHealth(t testing.TB, in instance) *backend.CheckHealthResult {
	t.Helper()
	resp, err := c.diag.CheckHealth(ctx(t), &pluginv2.CheckHealthRequest{PluginContext: backend.ToProto().PluginContext(in.pc)})
	if err != nil {
		t.Fatalf("CheckHealth: %v", err)
	}
	return backend.FromProto().CheckHealthResponse(resp)
}

// query is one panel query for queryData.
type query struct {
	refID    string
	model    map[string]any
	from, to time.Time
	interval time.Duration
}

func (c *client) queryData(t testing.TB, in instance, headers map[string]string, qs ...query) *backend.QueryDataResponse {
	t.Helper()
	req := &backend.QueryDataRequest{PluginContext: in.pc, Headers: headers}
	for _, q := range qs {
		m := map[string]any{"refId": q.refID}
		for k, v := range q.model {
			m[k] = v
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		qt, _ := m["queryType"].(string)
		req.Queries = append(req.Queries, backend.DataQuery{
			RefID: q.refID, QueryType: qt, JSON: b, Interval: q.interval, MaxDataPoints: 100_000,
			TimeRange: backend.TimeRange{From: q.from, To: q.to},
		})
	}
	resp, err := c.data.QueryData(ctx(t), backend.ToProto().QueryDataRequest(req))
	if err != nil {
		t.Fatalf("QueryData: %v", err)
	}
	out, err := backend.FromProto().QueryDataResponse(resp)
	if err != nil {
		t.Fatalf("decode QueryData response: %v", err)
	}
	return out
}

// one runs a single query and returns its frames, failing t on an error response.
func (c *client) one(t testing.TB, in instance, q query) data.Frames {
	t.Helper()
	q.refID = "A"
	r := c.queryData(t, in, nil, q).Responses["A"]
	if r.Error != nil {
		t.Fatalf("query %v: %v", q.model, r.Error)
	}
	return r.Frames
}

func (c *client) resource(t testing.TB, in instance, path string) (int, []byte) {
	t.Helper()
	req := &backend.CallResourceRequest{PluginContext: in.pc, Path: path, Method: "GET", URL: path}
	if i := indexByte(path, '?'); i >= 0 {
		req.Path = path[:i]
	}
	stream, err := c.res.CallResource(ctx(t), backend.ToProto().CallResourceRequest(req))
	if err != nil {
		t.Fatalf("CallResource %s: %v", path, err)
	}
	var status int
	var body []byte
	for {
		r, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("CallResource %s: %v", path, err)
		}
		if r.Code != 0 {
			status = int(r.Code)
		}
		body = append(body, r.Body...)
	}
	return status, body
}

func indexByte(s string, b byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return i
		}
	}
	return -1
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// event is one row of the events table, as the consumer writes it.
type event struct {
	id      uuid.UUID
	kind    string // join, leave, error
	ts      time.Time
	space   string
	session uuid.UUID
	user    string
	client  string
	region  string
	country string
	joinMs  int64
	reason  string
	phase   string
	code    string
}

func (e event) attempt() bool { return e.kind == "join" || (e.kind == "error" && e.phase == "join") }

func business(code string) bool {
	return schemas.IsBusinessCode(code)
}

// insert writes evs in one batch with warehouse.InsertEvents, as the consumer does.
func insert(t testing.TB, conn driver.Conn, evs []event) {
	t.Helper()
	batch, err := conn.PrepareBatch(ctx(t), warehouse.InsertEvents)
	if err != nil {
		t.Fatalf("prepare batch: %v", err)
	}
	for i, e := range evs {
		role := "listener"
		err := batch.Append(e.id, e.kind, e.ts.UTC(), e.ts.UnixMilli(), e.space, e.session, e.user, role,
			e.client, "1.0", e.region, e.country, e.joinMs, uint16(1), e.reason, e.phase, e.code,
			uint16(0), int32(0), int64(i))
		if err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("send %d events: %v", len(evs), err)
	}
}

// newDB is a fresh migrated database (warehousetest) and the datasource instance for it.
func newDB(t testing.TB) (driver.Conn, warehouse.Config, instance) {
	t.Helper()
	conn, cfg := warehousetest.NewDatabase(t)
	return conn, cfg, newInstance(cfg, cfg.Password, nil)
}

func withUser(cfg warehouse.Config, u string) warehouse.Config { cfg.User = u; return cfg }
func withDB(cfg warehouse.Config, db string) warehouse.Config  { cfg.Database = db; return cfg }
func withAddr(cfg warehouse.Config, a string) warehouse.Config { cfg.Addr = a; return cfg }

var mu sync.Mutex

func newID() uuid.UUID { return uuid.New() }

func b64(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }
