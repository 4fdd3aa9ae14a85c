package kubernetes

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The checks of the operators' resources and of the references to the names they make.

// kustomization checks that kustomization.yaml lists every manifest but the *.example.yaml, that
// each image the containers name is one it sets, and that no Secret is applied.
func (c *checker) kustomization() {
	k := c.m.kust
	if k == nil {
		c.errs = append(c.errs, fmt.Errorf("kustomization.yaml is missing"))
		return
	}
	var want []string
	for f := range c.m.files {
		if f != "kustomization.yaml" && !strings.HasSuffix(f, ".example.yaml") {
			want = append(want, f)
		}
	}
	sort.Strings(want)
	got := slices.Sorted(slices.Values(k.Resources))
	if !slices.Equal(got, want) {
		c.errs = append(c.errs, fmt.Errorf("kustomization.yaml: resources %q, want the folder's manifests %q", got, want))
	}
	for _, d := range c.m.docs {
		if strings.HasSuffix(d.file, ".example.yaml") {
			continue
		}
		if _, ok := d.obj.(*corev1.Secret); ok {
			c.errorf(d, "a Secret in an applied manifest: secrets are created by hand (secret.example.yaml) or by the operators")
		}
		if ns := d.meta.Namespace; ns != "" && ns != k.Namespace {
			c.errorf(d, "namespace %q, but kustomization.yaml puts everything in %q", ns, k.Namespace)
		}
	}
	for _, ct := range c.containers() {
		name, _, _ := strings.Cut(ct.c.Image, ":")
		if !slices.ContainsFunc(k.Images, func(i kustImage) bool { return i.Name == name }) {
			c.errorf(ct.owner, "container %s: image %q is not among kustomization.yaml's images", ct.c.Name, ct.c.Image)
		}
	}
}

// placeholder is the only value a Secret of an *.example.yaml may hold.
const placeholder = "CHANGE-ME"

func (c *checker) exampleSecrets() {
	for _, d := range c.m.docs {
		s, ok := d.obj.(*corev1.Secret)
		if !ok || !strings.HasSuffix(d.file, ".example.yaml") {
			continue
		}
		if len(s.Data) > 0 {
			c.errorf(d, "an example Secret with data: give placeholders in stringData only")
		}
		for k, v := range s.StringData {
			if v != placeholder {
				c.errorf(d, "stringData %s is not the placeholder %q: never commit a secret", k, placeholder)
			}
		}
	}
}

// kafka is the Kafka whose bootstrap service and listener the address host:port names
// (<name>-kafka-bootstrap:<listener port>, Strimzi's naming).
func (c *checker) kafka(addr string) (*strimziKafka, *strimziListener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	var have []string
	for _, k := range all[*strimziKafka](c.m) {
		for i, l := range k.Spec.Kafka.Listeners {
			have = append(have, fmt.Sprintf("%s-kafka-bootstrap:%d", k.Name, l.Port))
			if host == k.Name+"-kafka-bootstrap" && port == strconv.Itoa(int(l.Port)) {
				return k, &k.Spec.Kafka.Listeners[i], nil
			}
		}
	}
	return nil, nil, fmt.Errorf("%s is not the bootstrap address of a Kafka listener in the manifests (%q)", addr, have)
}

// kafkaClient checks the consumer's Kafka settings against the Kafka, KafkaUser and KafkaTopic
// resources: the bootstrap address, TLS and its CA, SASL and the user's secret, the topics and
// the user's ACLs on them, the session timeout.
func (c *checker) kafkaClient(k container) {
	d := k.owner
	brokers, _ := k.setting("kafka-brokers")
	for _, b := range strings.Split(brokers, ",") {
		kafka, l, err := c.kafka(strings.TrimSpace(b))
		if err != nil {
			c.errorf(d, "%s: SPACEPULSE_KAFKA_BROKERS: %v", k, err)
			continue
		}
		tlsOn := k.set("kafka-tls-ca-file") || k.set("kafka-tls-cert-file") || k.set("kafka-tls-server-name")
		if v, _ := k.setting("kafka-tls"); v == "true" {
			tlsOn = true
		}
		if tlsOn != l.TLS {
			c.errorf(d, "%s: Kafka TLS is %v, but listener %s of %s has tls: %v", k, tlsOn, l.Name, kafka.Name, l.TLS)
		}
		if l.TLS {
			if ca, _ := k.setting("kafka-tls-ca-file"); ca == "" {
				c.errorf(d, "%s: Strimzi's cluster CA is its own: set SPACEPULSE_KAFKA_TLS_CA_FILE from %s-cluster-ca-cert", k, kafka.Name)
			} else if s, key, err := k.secretFile(ca); err != nil {
				c.errorf(d, "%s: SPACEPULSE_KAFKA_TLS_CA_FILE: %v", k, err)
			} else if s != kafka.Name+"-cluster-ca-cert" || key != "ca.crt" {
				c.errorf(d, "%s: the Kafka CA is %s/%s, want Strimzi's %s-cluster-ca-cert/ca.crt", k, s, key, kafka.Name)
			}
		}
		mech, _ := k.setting("kafka-sasl-mechanism")
		user, _ := k.setting("kafka-sasl-user")
		switch {
		case l.Authentication == nil:
			if mech != "" {
				c.errorf(d, "%s: SASL %s, but listener %s of %s has no authentication", k, mech, l.Name, kafka.Name)
			}
		case l.Authentication.Type == "scram-sha-512":
			if mech != "SCRAM-SHA-512" {
				c.errorf(d, "%s: listener %s of %s wants SCRAM-SHA-512, the consumer says %q", k, l.Name, kafka.Name, mech)
			}
			c.kafkaUser(k, kafka, user)
		}
		group, _ := k.setting("kafka-group")
		topic, _ := k.setting("kafka-topic")
		dlq, _ := k.setting("dlq-topic")
		u := c.user(kafka, user)
		for _, t := range []struct{ flag, name, op string }{{"kafka-topic", topic, "Read"}, {"dlq-topic", dlq, "Write"}} {
			if c.topic(kafka, t.name) == nil {
				c.errorf(d, "%s: -%s %s is no KafkaTopic of Kafka %s", k, t.flag, t.name, kafka.Name)
			}
			if u != nil && !u.allows("topic", t.name, t.op) {
				c.errorf(d, "%s: KafkaUser %s may not %s topic %s", k, u.Name, t.op, t.name)
			}
		}
		if u != nil && !u.allows("group", group, "Read") {
			c.errorf(d, "%s: KafkaUser %s may not Read group %s", k, u.Name, group)
		}
		st, _ := k.setting("kafka-session-timeout")
		session, err := time.ParseDuration(st)
		if ms, ok := kafka.Spec.Kafka.Config["group.min.session.timeout.ms"]; ok && err == nil {
			if min := toInt(ms); session < time.Duration(min)*time.Millisecond {
				c.errorf(d, "%s: session timeout %s is below the broker's group.min.session.timeout.ms %d: the broker refuses the join", k, session, min)
			}
		}
	}
}

func (c *checker) user(kafka *strimziKafka, name string) *strimziUser {
	for _, u := range all[*strimziUser](c.m) {
		if u.Name == name && u.Labels["strimzi.io/cluster"] == kafka.Name {
			return u
		}
	}
	return nil
}

func (c *checker) topic(kafka *strimziKafka, name string) *strimziTopic {
	for _, t := range all[*strimziTopic](c.m) {
		if t.topic() == name && t.Labels["strimzi.io/cluster"] == kafka.Name {
			return t
		}
	}
	return nil
}

// kafkaUser checks that the SCRAM user is a KafkaUser of kafka and that the password comes from
// the Secret Strimzi writes for it.
func (c *checker) kafkaUser(k container, kafka *strimziKafka, name string) {
	d := k.owner
	u := c.user(kafka, name)
	if u == nil {
		c.errorf(d, "%s: SASL user %q is no KafkaUser of Kafka %s", k, name, kafka.Name)
		return
	}
	if u.Spec.Authentication == nil || u.Spec.Authentication.Type != "scram-sha-512" {
		c.errorf(d, "%s: KafkaUser %s does not authenticate with scram-sha-512", k, u.Name)
	}
	prefix := ""
	if eo := kafka.Spec.EntityOperator; eo == nil || eo.UserOperator == nil {
		c.errorf(d, "%s: Kafka %s has no User Operator (spec.entityOperator.userOperator): nothing writes the user's Secret", k, kafka.Name)
	} else {
		prefix = eo.UserOperator.SecretPrefix
	}
	s, key, err := k.secretOf("kafka-sasl-password")
	if err != nil {
		c.errorf(d, "%s: the Kafka password: %v", k, err)
	} else if s != prefix+u.Name || key != "password" {
		c.errorf(d, "%s: the Kafka password is %s/%s, want %s%s/password (the Secret Strimzi writes for KafkaUser %s)", k, s, key, prefix, u.Name, u.Name)
	}
}

func toInt(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int64:
		return int(n)
	case int:
		return n
	case string:
		i, _ := strconv.Atoi(n)
		return i
	}
	return 0
}

// strimzi checks the Kafka resources among themselves: the cluster label of each names a Kafka,
// the brokers are enough for the replication factors, and min.insync.replicas leaves one
// replica to lose.
func (c *checker) strimzi() {
	kafkas := all[*strimziKafka](c.m)
	brokers := map[string]int{}
	byName := map[string]*strimziKafka{}
	for _, k := range kafkas {
		byName[k.Name] = k
	}
	cluster := func(d doc) *strimziKafka {
		k := byName[d.meta.Labels["strimzi.io/cluster"]]
		if k == nil {
			c.errorf(d, "label strimzi.io/cluster %q names no Kafka in the manifests", d.meta.Labels["strimzi.io/cluster"])
		}
		return k
	}
	for _, p := range all[*strimziNodePool](c.m) {
		if k := cluster(c.docOf(p)); k != nil && p.hasRole("broker") {
			brokers[k.Name] += int(p.Spec.Replicas)
		}
	}
	for _, k := range kafkas {
		d, cfg, n := c.docOf(k), k.Spec.Kafka.Config, brokers[k.Name]
		if n == 0 {
			c.errorf(d, "no KafkaNodePool with the broker role")
			continue
		}
		rf, isr := toInt(cfg["default.replication.factor"]), toInt(cfg["min.insync.replicas"])
		if rf > n || toInt(cfg["offsets.topic.replication.factor"]) > n {
			c.errorf(d, "replication factor above the %d brokers", n)
		}
		if isr >= rf && rf > 0 {
			c.errorf(d, "min.insync.replicas %d with replication factor %d: losing one broker stops the writes", isr, rf)
		}
	}
	for _, t := range all[*strimziTopic](c.m) {
		d := c.docOf(t)
		k := cluster(d)
		if k == nil {
			continue
		}
		isr := toInt(k.Spec.Kafka.Config["min.insync.replicas"])
		if v, ok := t.Spec.Config["min.insync.replicas"]; ok {
			isr = toInt(v)
		}
		if int(t.Spec.Replicas) > brokers[k.Name] {
			c.errorf(d, "replicas %d above the %d brokers", t.Spec.Replicas, brokers[k.Name])
		}
		if t.Spec.Replicas > 0 && isr >= int(t.Spec.Replicas) {
			c.errorf(d, "min.insync.replicas %d with %d replicas: losing one broker stops the writes", isr, t.Spec.Replicas)
		}
	}
	for _, u := range all[*strimziUser](c.m) {
		if k := cluster(c.docOf(u)); k != nil && u.Spec.Authorization != nil && k.Spec.Kafka.Authorization == nil {
			c.errorf(c.docOf(u), "ACLs on a user of Kafka %s, which has no authorization: they are not enforced", k.Name)
		}
	}
}

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

// keda checks each ScaledObject: it targets a Deployment of the manifests, its kafka trigger
// reads the consumer's brokers, group and topic with the consumer's security, it never asks for
// more consumers than partitions, and its TriggerAuthentication's references resolve.
func (c *checker) keda(consumers []container) {
	for _, so := range all[*scaledObject](c.m) {
		d := c.docOf(so)
		ref := so.Spec.ScaleTargetRef
		if (ref.Kind != "" && ref.Kind != "Deployment") || (ref.APIVersion != "" && ref.APIVersion != "apps/v1") {
			c.errorf(d, "scaleTargetRef %s %s: want an apps/v1 Deployment", ref.APIVersion, ref.Kind)
			continue
		}
		var k *container
		for i := range consumers {
			if consumers[i].owner.kind == "apps/v1/Deployment" && consumers[i].owner.meta.Name == ref.Name {
				k = &consumers[i]
			}
		}
		if k == nil {
			c.errorf(d, "scaleTargetRef %s is no Deployment of spacepulse-consumer in the manifests", ref.Name)
			continue
		}
		minR, maxR := int32(0), int32(100) // KEDA's defaults
		if so.Spec.MinReplicaCount != nil {
			minR = *so.Spec.MinReplicaCount
		}
		if so.Spec.MaxReplicaCount != nil {
			maxR = *so.Spec.MaxReplicaCount
		}
		if minR > maxR {
			c.errorf(d, "minReplicaCount %d above maxReplicaCount %d", minR, maxR)
		}
		for _, t := range so.Spec.Triggers {
			if t.Type != "kafka" {
				continue
			}
			md := t.Metadata
			for key := range md {
				if !slices.Contains(kafkaScalerKeys, key) {
					c.errorf(d, "trigger %s: %q is not a parameter of KEDA's kafka scaler (%q)", t.Name, key, kafkaScalerKeys)
				}
			}
			brokers, _ := k.setting("kafka-brokers")
			group, _ := k.setting("kafka-group")
			topic, _ := k.setting("kafka-topic")
			if !sameList(md["bootstrapServers"], brokers) {
				c.errorf(d, "trigger %s: bootstrapServers %q, the consumer's brokers are %q", t.Name, md["bootstrapServers"], brokers)
			}
			if md["consumerGroup"] != group {
				c.errorf(d, "trigger %s: consumerGroup %q, the consumer's group is %q", t.Name, md["consumerGroup"], group)
			}
			if md["topic"] != topic {
				c.errorf(d, "trigger %s: topic %q, the consumer's topic is %q", t.Name, md["topic"], topic)
			}
			if _, err := strconv.ParseInt(md["lagThreshold"], 10, 64); err != nil {
				c.errorf(d, "trigger %s: lagThreshold %q: want a whole number", t.Name, md["lagThreshold"])
			}
			if kafka, _, err := c.kafka(strings.Split(brokers, ",")[0]); err == nil {
				if tp := c.topic(kafka, topic); tp != nil && maxR > tp.Spec.Partitions && md["allowIdleConsumers"] != "true" {
					c.errorf(d, "maxReplicaCount %d above the %d partitions of %s: the extra consumers would idle", maxR, tp.Spec.Partitions, topic)
				}
			}
			mech, _ := k.setting("kafka-sasl-mechanism")
			sasl := map[string]string{"": "", "PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}[mech]
			if md["sasl"] != sasl {
				c.errorf(d, "trigger %s: sasl %q, the consumer's mechanism %q is %q to KEDA", t.Name, md["sasl"], mech, sasl)
			}
			if tlsOn := k.set("kafka-tls-ca-file"); tlsOn != (md["tls"] == "enable") {
				c.errorf(d, "trigger %s: tls %q, but the consumer's TLS is %v", t.Name, md["tls"], tlsOn)
			}
			if t.AuthenticationRef != nil {
				c.triggerAuth(d, t.AuthenticationRef.Name, k)
			} else if sasl != "" {
				c.errorf(d, "trigger %s: SASL without an authenticationRef", t.Name)
			}
		}
	}
}

// kafkaScalerKeys are the trigger metadata KEDA 2.20.2's kafka scaler reads
// (pkg/scalers/kafka_scaler.go, its keda:"name=..." tags, triggerMetadata ones; the trigger's
// metadata is free-form in the CRD, so a misspelt key would be silently ignored).
var kafkaScalerKeys = []string{
	"bootstrapServers", "bootstrapServersFromEnv", "consumerGroup", "consumerGroupFromEnv", "topic", "topicFromEnv",
	"partitionLimitation", "lagThreshold", "activationLagThreshold", "offsetResetPolicy", "allowIdleConsumers",
	"excludePersistentLag", "scaleToZeroOnInvalidOffset", "limitToPartitionsWithLag",
	"ensureEvenDistributionOfPartitions", "version", "tls", "unsafeSsl", "sasl", "saslTokenProvider", "awsRegion",
}

func sameList(a, b string) bool {
	split := func(s string) []string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			out = append(out, strings.TrimSpace(p))
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(split(a), split(b))
}

func (c *checker) triggerAuth(d doc, name string, k *container) {
	for _, ta := range all[*triggerAuthentication](c.m) {
		if ta.Name != name {
			continue
		}
		td := c.docOf(ta)
		for _, e := range ta.Spec.Env {
			if e.ContainerName != "" && e.ContainerName != k.c.Name {
				c.errorf(td, "env %s: containerName %q is not the consumer's container %q", e.Parameter, e.ContainerName, k.c.Name)
			}
			if !slices.ContainsFunc(k.c.Env, func(v corev1.EnvVar) bool { return v.Name == e.Name }) {
				c.errorf(td, "env %s: the consumer's container sets no %s", e.Parameter, e.Name)
			}
		}
		for _, s := range ta.Spec.SecretTargetRef {
			c.secretHas(td, "secretTargetRef "+s.Parameter, s.Name, s.Key)
		}
		return
	}
	c.errorf(d, "authenticationRef %s: no TriggerAuthentication of that name in the manifests", name)
}

// grafana checks the Grafana ConfigMaps against the provisioning files they are generated from,
// and the datasource's ClickHouse address and user against the installation.
func (c *checker) grafana() {
	want, err := grafanaConfigMaps()
	if err != nil {
		c.errs = append(c.errs, err)
		return
	}
	for f, b := range want {
		if got, ok := c.m.files[f]; !ok || string(got) != string(b) {
			c.errs = append(c.errs, fmt.Errorf("%s differs from what grafana/provisioning makes of it: go test ./deployments/kubernetes -run TestManifests -update", f))
		}
	}
	for _, cm := range all[*corev1.ConfigMap](c.m) {
		src, ok := cm.Data["spacepulse.yaml"]
		if !ok {
			continue
		}
		d := c.docOf(cm)
		var ds struct {
			Datasources []struct {
				Type     string `json:"type"`
				JSONData struct {
					Addr string `json:"addr"`
					User string `json:"user"`
					TLS  bool   `json:"tls"`
				} `json:"jsonData"`
			} `json:"datasources"`
		}
		if err := yaml.Unmarshal([]byte(src), &ds); err != nil {
			c.errorf(d, "spacepulse.yaml: %v", err)
			continue
		}
		for _, s := range ds.Datasources {
			chi, err := c.chiAddr(s.JSONData.Addr, s.JSONData.TLS)
			if err != nil {
				c.errorf(d, "datasource addr: %v", err)
			} else if !chiHasUser(chi, s.JSONData.User) {
				c.errorf(d, "datasource user %q is not a user of ClickHouseInstallation %s", s.JSONData.User, chi.Name)
			}
		}
	}
}
