package kubernetes

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// The checks of the Strimzi resources and of the consumer's Kafka settings.

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
