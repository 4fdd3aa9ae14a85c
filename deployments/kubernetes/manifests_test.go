package kubernetes

import (
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the Grafana ConfigMaps from grafana/provisioning")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if flagsDir != "" {
		os.RemoveAll(flagsDir)
	}
	os.Exit(code)
}

// loadFolder reads and decodes the folder's manifests, with the binaries' flags.
func loadFolder(t *testing.T) (map[string][]byte, map[string]flagSet) {
	t.Helper()
	if *update {
		gen, err := grafanaConfigMaps()
		if err != nil {
			t.Fatal(err)
		}
		for f, b := range gen {
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, err := readDir(".")
	if err != nil {
		t.Fatal(err)
	}
	bins, err := binaryFlags()
	if err != nil {
		t.Fatal(err)
	}
	return files, bins
}

// TestManifests decodes every manifest of the folder strictly and checks their references to
// each other, to the binaries' flags and to grafana/provisioning.
func TestManifests(t *testing.T) {
	files, bins := loadFolder(t)
	m, errs := load(files)
	for _, err := range errs {
		t.Error(err)
	}
	for _, err := range check(m, bins) {
		t.Error(err)
	}
	kinds := map[string]int{}
	for _, d := range m.docs {
		kinds[d.kind]++
	}
	// Every kind the issue asks for is there (a file dropped from the folder would otherwise pass).
	for _, k := range []string{
		"apps/v1/Deployment", "batch/v1/Job", "policy/v1/PodDisruptionBudget", "v1/Service", "v1/ConfigMap",
		"kafka.strimzi.io/v1/Kafka", "kafka.strimzi.io/v1/KafkaNodePool", "kafka.strimzi.io/v1/KafkaTopic", "kafka.strimzi.io/v1/KafkaUser",
		"clickhouse.altinity.com/v1/ClickHouseInstallation", "keda.sh/v1alpha1/ScaledObject",
	} {
		if kinds[k] == 0 {
			t.Errorf("no %s among the manifests", k)
		}
	}
	t.Logf("%d documents in %d files decoded strictly and cross-checked: %v", len(m.docs), len(files), kinds)
}

// TestCheckerRejectsBrokenCopies breaks one thing in a copy of the manifests at a time and wants
// the decoder or the checker to say so.
func TestCheckerRejectsBrokenCopies(t *testing.T) {
	files, bins := loadFolder(t)
	f := func(file, old, new, want string) {
		t.Helper()
		src, ok := files[file]
		if !ok || !strings.Contains(string(src), old) {
			t.Fatalf("%s does not contain %q: the case is out of date", file, old)
		}
		broken := make(map[string][]byte, len(files))
		for k, v := range files {
			broken[k] = v
		}
		broken[file] = []byte(strings.Replace(string(src), old, new, 1))
		m, errs := load(broken)
		errs = append(errs, check(m, bins)...)
		err := errors.Join(errs...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s with %q for %q: want an error containing %q, got %v", file, new, old, want, err)
			return
		}
		t.Logf("%s, %q for %q: %d error(s): %v", file, new, old, len(errs), strings.ReplaceAll(err.Error(), "\n", " | "))
	}
	// Strict decoding: a misspelt field of a built-in kind and of a custom resource.
	f("consumer.yaml", "livenessProbe:", "livenesProbe:", `unknown field "spec.template.spec.containers[0].livenesProbe"`)
	f("kafka.yaml", "metadataVersion:", "metaDataVersion:", `unknown field "spec.kafka.metaDataVersion"`)
	f("keda.yaml", "lagThreshold: \"500000\"", "lagThreshold: \"1\"\n        lagThreshold: \"500000\"", `key "lagThreshold" already set in map`)
	f("keda.yaml", "lagThreshold:", "lagTreshold:", `"lagTreshold" is not a parameter of KEDA's kafka scaler`)
	f("clickhouse.yaml", "replicasCount: 2", "replicaCount: 2", `unknown field "spec.configuration.clusters[0].layout.replicaCount"`)
	f("kafka.yaml", "type: scram-sha-512", "type: scram-sha-256", `listener authentication type "scram-sha-256"`)
	// Ports: the probes' named port, the metrics address.
	f("consumer.yaml", "- name: metrics\n              containerPort: 9464", "- name: metric\n              containerPort: 9464", "livenessProbe port metrics is not a port of the container")
	f("consumer.yaml", "containerPort: 9464", "containerPort: 9465", "port 9464 is not a container port")
	f("consumer.yaml", "path: /readyz", "path: /healthz", "readinessProbe path /healthz, want /readyz")
	// Secrets: a missing one, a key Strimzi does not write.
	f("consumer.yaml", "secretName: spacepulse-clickhouse", "secretName: spacepulse-clickhous", `Secret "spacepulse-clickhous" is neither in the manifests`)
	f("consumer.yaml", "- key: ca.crt", "- key: ca.pem", `has no key "ca.pem"`)
	f("keda.yaml", "name: spacepulse-consumer\n      key: password", "name: spacepulse-kafka-user\n      key: password", `Secret "spacepulse-kafka-user" is neither`)
	// Kafka: the bootstrap port, a topic, an ACL, the broker's session floor.
	f("consumer.yaml", "spacepulse-kafka-bootstrap:9093", "spacepulse-kafka-bootstrap:9092", "is not the bootstrap address of a Kafka listener")
	f("kafka-topics.yaml", "topicName: spaces.events.dlq", "topicName: spaces.dlq", "-dlq-topic spaces.events.dlq is no KafkaTopic")
	f("kafka-user.yaml", "operations: [Describe, Write]", "operations: [Describe]", "may not Write topic spaces.events.dlq")
	f("kafka.yaml", "group.min.session.timeout.ms: 6000", "group.min.session.timeout.ms: 10000", "below the broker's group.min.session.timeout.ms")
	f("kafka-topics.yaml", "replicas: 3\n  config:\n    min.insync.replicas: 2\n    retention.ms: 604800000", "replicas: 2\n  config:\n    min.insync.replicas: 2\n    retention.ms: 604800000", "min.insync.replicas 2 with 2 replicas")
	// Flags: a variable no flag binds.
	f("consumer.yaml", "name: SPACEPULSE_KAFKA_GROUP\n", "name: SPACEPULSE_KAFKA_GROUPS\n", "SPACEPULSE_KAFKA_GROUPS is not the variable of any flag of spacepulse-consumer")
	f("migrate-job.yaml", "SPACEPULSE_CLICKHOUSE_DATABASE", "SPACEPULSE_CLICKHOUSE_DB", "SPACEPULSE_CLICKHOUSE_DB is not the variable of any flag of spacepulse-migrate")
	// The cluster schema: a replicated installation needs -cluster, and one of its clusters.
	f("migrate-job.yaml", "            - name: SPACEPULSE_CLUSTER\n              value: main\n", "", "set SPACEPULSE_CLUSTER to it")
	f("consumer.yaml", "name: SPACEPULSE_CLUSTER\n              value: main\n", "name: SPACEPULSE_CLUSTER\n              value: spacepulse\n", `SPACEPULSE_CLUSTER "spacepulse" is not a cluster of ClickHouseInstallation spacepulse`)
	f("clickhouse.yaml", "spacepulse/load_balancing: in_order", "spacepulse/load_balancing: random", "needs load_balancing: in_order with -cluster")
	// Selectors.
	f("consumer.yaml", "  maxUnavailable: 1\n  unhealthyPodEvictionPolicy: AlwaysAllow\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: spacepulse-consumer",
		"  maxUnavailable: 1\n  unhealthyPodEvictionPolicy: AlwaysAllow\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: spacepulse-consumers", "selector selects the pods of no Deployment")
	f("consumer.yaml", "targetPort: metrics", "targetPort: http", "targetPort http is no container port")
	// Shutdown and memory.
	f("consumer.yaml", "terminationGracePeriodSeconds: 35", "terminationGracePeriodSeconds: 20", "is not above the consumer's shutdown bound")
	f("consumer.yaml", "value: 256MiB", "value: 1GiB", "is not below the container's memory limit")
	f("consumer.yaml", "name: SPACEPULSE_MIGRATE\n              value: \"false\"", "name: SPACEPULSE_MIGRATE\n              value: \"true\"", "must not migrate")
	// KEDA.
	f("keda.yaml", "maxReplicaCount: 12", "maxReplicaCount: 30", "above the 24 partitions")
	f("keda.yaml", "consumerGroup: spacepulse-consumer", "consumerGroup: spacepulse", `consumerGroup "spacepulse", the consumer's group is "spacepulse-consumer"`)
	f("keda.yaml", "name: spacepulse-consumer\n  pollingInterval", "name: spacepulse-consumers\n  pollingInterval", "scaleTargetRef spacepulse-consumers is no Deployment")
	f("keda.yaml", "name: SPACEPULSE_KAFKA_SASL_USER", "name: SPACEPULSE_KAFKA_USER", "sets no SPACEPULSE_KAFKA_USER")
	// ClickHouse: the service name, the port, the Keeper, the user's secret.
	f("consumer.yaml", "clickhouse-spacepulse:9000", "clickhouse-spacepulse:9440", "port 9440, want ClickHouse's native port 9000")
	f("migrate-job.yaml", "clickhouse-spacepulse:9000", "chi-spacepulse:9000", "names no service of a ClickHouseInstallation")
	f("clickhouse.yaml", "host: keeper-spacepulse", "host: zookeeper", "is not keeper-<name>:2181")
	f("clickhouse.yaml", "key: password\n      spacepulse/networks", "key: pass\n      spacepulse/networks", "ClickHouseInstallation spacepulse reads user spacepulse's from spacepulse-clickhouse/pass")
	// Grafana: a dashboard that drifted from grafana/provisioning.
	f("grafana-dashboards.yaml", `"title"`, `"titel"`, "grafana-dashboards.yaml differs from what grafana/provisioning makes of it")
	// The kustomization and the secrets.
	f("kustomization.yaml", "  - keda.yaml\n", "", "kustomization.yaml: resources")
	f("secret.example.yaml", "password: CHANGE-ME", "password: hunter2", "never commit a secret")
}
