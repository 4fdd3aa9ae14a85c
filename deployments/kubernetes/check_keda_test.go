package kubernetes

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The checks of the kustomization, the example Secret, KEDA and the Grafana ConfigMaps.

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
