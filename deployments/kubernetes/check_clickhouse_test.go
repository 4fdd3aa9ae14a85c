package kubernetes

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The checks of the Altinity resources and of the ClickHouse settings of the containers.

// chiHost says whether host is a service the Altinity operator makes for chi:
// clickhouse-<chi> (every replica), cluster-<chi>-<cluster> or chi-<chi>-<cluster>-<shard>-<replica>.
func chiHost(chi *clickHouseInstallation, host string) (ok, installation bool) {
	if host == "clickhouse-"+chi.Name {
		return true, true
	}
	for _, cl := range chi.Spec.Configuration.Clusters {
		if host == "cluster-"+chi.Name+"-"+cl.Name {
			return true, false
		}
		for s := range max(cl.Layout.ShardsCount, 1) {
			for r := range max(cl.Layout.ReplicasCount, 1) {
				if host == fmt.Sprintf("chi-%s-%s-%d-%d", chi.Name, cl.Name, s, r) {
					return true, false
				}
			}
		}
	}
	return false, false
}

// chiAddr finds the ClickHouseInstallation a host:port names, and checks the port: 9000, or 9440
// with TLS, and one of the installation service's ports when its template lists them.
func (c *checker) chiAddr(addr string, tls bool) (*clickHouseInstallation, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	want := "9000"
	if tls {
		want = "9440"
	}
	if port != want {
		return nil, fmt.Errorf("%s: port %s, want ClickHouse's native port %s", addr, port, want)
	}
	for _, chi := range all[*clickHouseInstallation](c.m) {
		ok, inst := chiHost(chi, host)
		if !ok {
			continue
		}
		if st := chi.Spec.Defaults; inst && st != nil && st.Templates.ServiceTemplate != "" && chi.Spec.Templates != nil {
			for _, t := range chi.Spec.Templates.ServiceTemplates {
				if t.Name == st.Templates.ServiceTemplate && len(t.Spec.Ports) > 0 &&
					!slices.ContainsFunc(t.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == port }) {
					return nil, fmt.Errorf("%s: service template %s has no port %s", addr, t.Name, port)
				}
			}
		}
		return chi, nil
	}
	return nil, fmt.Errorf("%s names no service of a ClickHouseInstallation in the manifests (clickhouse-<chi>, cluster-<chi>-<cluster> or chi-<chi>-<cluster>-<shard>-<replica>)", addr)
}

// chiUserSecret is the Secret and key of user's password in the installation's users.
func chiUserSecret(chi *clickHouseInstallation, user string) (secret, key string, ok bool) {
	v, ok := chi.Spec.Configuration.Users[user+"/password"].(map[string]any)
	if !ok {
		return "", "", false
	}
	vf, _ := v["valueFrom"].(map[string]any)
	ref, _ := vf["secretKeyRef"].(map[string]any)
	name, _ := ref["name"].(string)
	key, _ = ref["key"].(string)
	return name, key, name != ""
}

func chiHasUser(chi *clickHouseInstallation, user string) bool {
	for k := range chi.Spec.Configuration.Users {
		if strings.HasPrefix(k, user+"/") {
			return true
		}
	}
	return false
}

// clickHouseClient checks a container's ClickHouse address, user and password against the
// ClickHouseInstallation.
func (c *checker) clickHouseClient(k container) {
	d := k.owner
	addrs, _ := k.setting("clickhouse-addr")
	tls := k.set("clickhouse-tls-ca-file") || k.set("clickhouse-tls-cert-file") || k.set("clickhouse-tls-server-name")
	if v, _ := k.setting("clickhouse-tls"); v == "true" {
		tls = true
	}
	user, _ := k.setting("clickhouse-user")
	for _, a := range strings.Split(addrs, ",") {
		chi, err := c.chiAddr(strings.TrimSpace(a), tls)
		if err != nil {
			c.errorf(d, "%s: SPACEPULSE_CLICKHOUSE_ADDR: %v", k, err)
			continue
		}
		c.clickHouseCluster(k, chi)
		if user == "default" {
			continue
		}
		if !chiHasUser(chi, user) {
			c.errorf(d, "%s: ClickHouse user %q is not a user of ClickHouseInstallation %s", k, user, chi.Name)
			continue
		}
		ws, wk, ok := chiUserSecret(chi, user)
		if !ok {
			c.errorf(d, "%s: ClickHouseInstallation %s gives user %s no password from a Secret", k, chi.Name, user)
			continue
		}
		s, key, err := k.secretOf("clickhouse-password")
		if err != nil {
			c.errorf(d, "%s: the ClickHouse password: %v", k, err)
		} else if s != ws || key != wk {
			c.errorf(d, "%s: the ClickHouse password is %s/%s, but ClickHouseInstallation %s reads user %s's from %s/%s", k, s, key, chi.Name, user, ws, wk)
		}
	}
}

// clickHouseCluster checks a container's -cluster against chi: a cluster of more than one shard
// or replica needs the Replicated and Distributed schema and synchronous inserts, so the container
// must name it (README, "Running on a cluster"); a named cluster must be one of chi's.
func (c *checker) clickHouseCluster(k container, chi *clickHouseInstallation) {
	name, _ := k.setting("cluster")
	if name == "" {
		for _, cl := range chi.Spec.Configuration.Clusters {
			if cl.Layout.ShardsCount > 1 || cl.Layout.ReplicasCount > 1 {
				c.errorf(k.owner, "%s: ClickHouseInstallation %s has cluster %s of %d shards x %d replicas: set SPACEPULSE_CLUSTER to it", k, chi.Name, cl.Name, cl.Layout.ShardsCount, cl.Layout.ReplicasCount)
			}
		}
		return
	}
	if !slices.ContainsFunc(chi.Spec.Configuration.Clusters, func(cl chiCluster) bool { return cl.Name == name }) {
		c.errorf(k.owner, "%s: SPACEPULSE_CLUSTER %q is not a cluster of ClickHouseInstallation %s", k, name, chi.Name)
	}
	user, _ := k.setting("clickhouse-user")
	profile, _ := chi.Spec.Configuration.Users[user+"/profile"].(string)
	if lb, _ := chi.Spec.Configuration.Profiles[profile+"/load_balancing"].(string); lb != "in_order" {
		c.errorf(k.owner, "%s: ClickHouse user %q (profile %q) of ClickHouseInstallation %s needs load_balancing: in_order with -cluster, so that reads and writes go to the same replica", k, user, profile, chi.Name)
	}
}

// clickHouse checks the installations: replicated clusters have a Keeper, the Keeper is the
// ClickHouseKeeperInstallation's service (keeper-<chk>:2181), users' secrets exist.
func (c *checker) clickHouse() {
	chks := all[*clickHouseKeeperInstallation](c.m)
	for _, chi := range all[*clickHouseInstallation](c.m) {
		d := c.docOf(chi)
		cfg := chi.Spec.Configuration
		replicated := false
		for _, cl := range cfg.Clusters {
			replicated = replicated || cl.Layout.ReplicasCount > 1
		}
		if replicated && (cfg.Zookeeper == nil || len(cfg.Zookeeper.Nodes) == 0) {
			c.errorf(d, "replicated clusters but no zookeeper nodes: Replicated tables need a Keeper")
		}
		if cfg.Zookeeper != nil {
			for _, n := range cfg.Zookeeper.Nodes {
				if !slices.ContainsFunc(chks, func(k *clickHouseKeeperInstallation) bool { return n.Host == "keeper-"+k.Name }) || (n.Port != 0 && n.Port != 2181) {
					c.errorf(d, "zookeeper node %s:%d is not keeper-<name>:2181 of a ClickHouseKeeperInstallation in the manifests", n.Host, n.Port)
				}
			}
		}
		for k := range cfg.Users {
			if user, ok := strings.CutSuffix(k, "/password"); ok {
				if s, key, ok := chiUserSecret(chi, user); ok {
					c.secretHas(d, "user "+user, s, key)
				}
			}
		}
	}
}
