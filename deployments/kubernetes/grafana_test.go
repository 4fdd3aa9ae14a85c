package kubernetes

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// provisioning is the plugin's Grafana provisioning, which the Grafana ConfigMaps carry.
var provisioning = filepath.Join("..", "..", "grafana", "provisioning")

// clusterClickHouse is the datasource's address in the cluster: the ClickHouseInstallation's
// service (check verifies it against clickhouse.yaml), where the provisioning file has the local
// server's.
const (
	localClickHouse   = "addr: 127.0.0.1:9000"
	clusterClickHouse = "addr: clickhouse-spacepulse:9000"
)

// grafanaConfigMap is one generated ConfigMap: its file, name, sidecar label, annotations, and
// the provisioning files it carries (key: the file's base name).
type grafanaConfigMap struct {
	file, name, label string
	annotations       map[string]string
	sources           []string // under provisioning
	edit              func(key string, b []byte) ([]byte, error)
}

var grafanaMaps = []grafanaConfigMap{
	{
		file: "grafana-datasources.yaml", name: "spacepulse-grafana-datasources", label: "grafana_datasource",
		sources: []string{"datasources/prometheus.yaml", "datasources/spacepulse.yaml"},
		edit: func(key string, b []byte) ([]byte, error) {
			if key != "spacepulse.yaml" {
				return b, nil
			}
			if bytes.Count(b, []byte(localClickHouse)) != 1 {
				return nil, fmt.Errorf("grafana/provisioning/datasources/spacepulse.yaml: want one %q to point at the cluster's ClickHouse: update grafana_test.go", localClickHouse)
			}
			return bytes.Replace(b, []byte(localClickHouse), []byte(clusterClickHouse), 1), nil
		},
	},
	{
		file: "grafana-dashboards.yaml", name: "spacepulse-grafana-dashboards", label: "grafana_dashboard",
		annotations: map[string]string{"grafana_folder": "SpacePulse"},
		sources:     []string{"dashboards/spacepulse/pipeline-health.json", "dashboards/spacepulse/space-live.json"},
	},
	{
		file: "grafana-alerts.yaml", name: "spacepulse-grafana-alerts", label: "grafana_alert",
		sources: []string{"alerting/ccl-drop.yaml", "alerting/join-failure-rate.yaml", "alerting/retry-amplification.yaml"},
	},
}

// grafanaConfigMaps makes the Grafana ConfigMap files from grafana/provisioning: each file's
// bytes as they are (the datasource's ClickHouse address aside), as a literal block, so that the
// ConfigMap's data equals the file byte for byte.
func grafanaConfigMaps() (map[string][]byte, error) {
	out := make(map[string][]byte)
	for _, g := range grafanaMaps {
		var b strings.Builder
		fmt.Fprintf(&b, "# Generated from grafana/provisioning by `go test ./deployments/kubernetes -run TestManifests -update`:\n")
		fmt.Fprintf(&b, "# do not edit; the test fails when it differs from the files. The Grafana sidecar\n")
		fmt.Fprintf(&b, "# (k8s-sidecar, as in the grafana Helm chart) loads ConfigMaps labelled %s.\n", g.label)
		fmt.Fprintf(&b, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  labels:\n    %s: \"1\"\n    app.kubernetes.io/part-of: spacepulse\n", g.name, g.label)
		if len(g.annotations) > 0 {
			b.WriteString("  annotations:\n")
			for k, v := range g.annotations {
				fmt.Fprintf(&b, "    %s: %s\n", k, v)
			}
		}
		b.WriteString("data:\n")
		for _, src := range g.sources {
			content, err := os.ReadFile(filepath.Join(provisioning, src))
			if err != nil {
				return nil, err
			}
			key := filepath.Base(src)
			if g.edit != nil {
				if content, err = g.edit(key, content); err != nil {
					return nil, err
				}
			}
			block, err := literalBlock(content)
			if err != nil {
				return nil, fmt.Errorf("grafana/provisioning/%s: %w", src, err)
			}
			fmt.Fprintf(&b, "  %s: %s", key, block)
		}
		out[g.file] = []byte(b.String())
	}
	return out, nil
}

// literalBlock is content as a YAML literal block scalar at indentation 4 (the header and the
// lines), whose value is content exactly.
func literalBlock(content []byte) (string, error) {
	s := string(content)
	if strings.ContainsAny(s, "\r\t") || strings.ContainsRune(s, '\ufeff') {
		return "", fmt.Errorf("carriage returns, tabs or a byte-order mark do not survive a literal block")
	}
	chomp := "" // clip: one final line break
	switch {
	case !strings.HasSuffix(s, "\n"):
		chomp = "-"
	case strings.HasSuffix(s, "\n\n"):
		chomp = "+"
	}
	var b strings.Builder
	b.WriteString("|2" + chomp + "\n")
	for _, line := range strings.SplitAfter(s, "\n") {
		if line == "" {
			continue
		}
		if line != "\n" {
			b.WriteString("    ")
		}
		b.WriteString(line)
	}
	if chomp == "-" {
		b.WriteString("\n")
	}
	return b.String(), nil
}
