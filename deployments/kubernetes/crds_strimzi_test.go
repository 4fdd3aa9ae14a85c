package kubernetes

import (
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// The Strimzi 1.2.0 resources (kafka.strimzi.io/v1), after
// packaging/install/cluster-operator/04*-Crd-*.yaml; see crds_test.go.

type strimziKafka struct {
	object
	Spec struct {
		Kafka struct {
			Version         string            `json:"version,omitempty"`
			MetadataVersion string            `json:"metadataVersion,omitempty"`
			Listeners       []strimziListener `json:"listeners"`
			Authorization   *struct {
				Type       string   `json:"type"`
				SuperUsers []string `json:"superUsers,omitempty"`
			} `json:"authorization,omitempty"`
			Config map[string]any `json:"config,omitempty"`
		} `json:"kafka"`
		EntityOperator *struct {
			TopicOperator *struct {
				WatchedNamespace string `json:"watchedNamespace,omitempty"`
			} `json:"topicOperator,omitempty"`
			UserOperator *struct {
				WatchedNamespace string `json:"watchedNamespace,omitempty"`
				SecretPrefix     string `json:"secretPrefix,omitempty"`
			} `json:"userOperator,omitempty"`
		} `json:"entityOperator,omitempty"`
	} `json:"spec"`
}

type strimziListener struct {
	Name           string `json:"name"`
	Port           int32  `json:"port"`
	Type           string `json:"type"`
	TLS            bool   `json:"tls"`
	Authentication *struct {
		Type string `json:"type"`
	} `json:"authentication,omitempty"`
}

func (k *strimziKafka) validate() error {
	if len(k.Spec.Kafka.Listeners) == 0 {
		return fmt.Errorf("spec.kafka.listeners: required")
	}
	for _, l := range k.Spec.Kafka.Listeners {
		if l.Name == "" || l.Port == 0 {
			return fmt.Errorf("spec.kafka.listeners: name and port are required")
		}
		if err := oneOf("listener type", l.Type, "internal", "route", "tlsroute", "loadbalancer", "nodeport", "ingress", "cluster-ip"); err != nil {
			return err
		}
		if l.Authentication != nil {
			if err := oneOf("listener authentication type", l.Authentication.Type, "tls", "scram-sha-512", "custom"); err != nil {
				return err
			}
		}
	}
	if a := k.Spec.Kafka.Authorization; a != nil {
		return oneOf("authorization type", a.Type, "simple", "custom")
	}
	return nil
}

type strimziNodePool struct {
	object
	Spec struct {
		Replicas  int32                        `json:"replicas"`
		Roles     []string                     `json:"roles"`
		Storage   strimziStorage               `json:"storage"`
		Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	} `json:"spec"`
}

type strimziStorage struct {
	Type          string           `json:"type"`
	Size          string           `json:"size,omitempty"`
	Class         string           `json:"class,omitempty"`
	DeleteClaim   *bool            `json:"deleteClaim,omitempty"`
	ID            *int32           `json:"id,omitempty"`
	KraftMetadata string           `json:"kraftMetadata,omitempty"`
	Volumes       []strimziStorage `json:"volumes,omitempty"`
}

func (p *strimziNodePool) validate() error {
	if len(p.Spec.Roles) == 0 {
		return fmt.Errorf("spec.roles: required")
	}
	for _, r := range p.Spec.Roles {
		if err := oneOf("role", r, "controller", "broker"); err != nil {
			return err
		}
	}
	if err := oneOf("storage type", p.Spec.Storage.Type, "ephemeral", "persistent-claim", "jbod"); err != nil {
		return err
	}
	for _, v := range p.Spec.Storage.Volumes {
		if err := oneOf("volume type", v.Type, "ephemeral", "persistent-claim"); err != nil {
			return err
		}
		if v.KraftMetadata != "" {
			if err := oneOf("kraftMetadata", v.KraftMetadata, "shared"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *strimziNodePool) hasRole(r string) bool { return slices.Contains(p.Spec.Roles, r) }

type strimziTopic struct {
	object
	Spec struct {
		TopicName  string         `json:"topicName,omitempty"`
		Partitions int32          `json:"partitions,omitempty"`
		Replicas   int32          `json:"replicas,omitempty"`
		Config     map[string]any `json:"config,omitempty"`
	} `json:"spec"`
}

func (t *strimziTopic) validate() error { return nil }

// topic is the Kafka topic's name: spec.topicName, or else the resource's name.
func (t *strimziTopic) topic() string {
	if t.Spec.TopicName != "" {
		return t.Spec.TopicName
	}
	return t.Name
}

type strimziUser struct {
	object
	Spec struct {
		Authentication *struct {
			Type string `json:"type"`
		} `json:"authentication,omitempty"`
		Authorization *struct {
			Type string       `json:"type"`
			ACLs []strimziACL `json:"acls"`
		} `json:"authorization,omitempty"`
	} `json:"spec"`
}

type strimziACL struct {
	Type     string `json:"type,omitempty"`
	Resource struct {
		Type        string `json:"type"`
		Name        string `json:"name,omitempty"`
		PatternType string `json:"patternType,omitempty"`
	} `json:"resource"`
	Host       string   `json:"host,omitempty"`
	Operations []string `json:"operations"`
}

func (u *strimziUser) validate() error {
	if a := u.Spec.Authentication; a != nil {
		if err := oneOf("authentication type", a.Type, "tls", "tls-external", "scram-sha-512"); err != nil {
			return err
		}
	}
	if a := u.Spec.Authorization; a != nil {
		if err := oneOf("authorization type", a.Type, "simple"); err != nil {
			return err
		}
		for _, acl := range a.ACLs {
			if err := oneOf("acl resource type", acl.Resource.Type, "topic", "group", "cluster", "transactionalId"); err != nil {
				return err
			}
			if acl.Resource.PatternType != "" {
				if err := oneOf("acl patternType", acl.Resource.PatternType, "literal", "prefix"); err != nil {
					return err
				}
			}
			if acl.Type != "" {
				if err := oneOf("acl type", acl.Type, "allow", "deny"); err != nil {
					return err
				}
			}
			for _, op := range acl.Operations {
				if err := oneOf("acl operation", op, "Read", "Write", "Create", "Delete", "Alter", "Describe",
					"ClusterAction", "AlterConfigs", "DescribeConfigs", "IdempotentWrite", "All"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// allows says whether the user's ACLs allow op on the resource of type typ named name (an
// allow rule, literal or prefix, with op or All; deny rules are not modelled: none is used).
func (u *strimziUser) allows(typ, name, op string) bool {
	if u.Spec.Authorization == nil {
		return true // no authorization on the user: the cluster's decides (superusers)
	}
	for _, acl := range u.Spec.Authorization.ACLs {
		r := acl.Resource
		match := r.Name == name || r.Name == "*" ||
			(r.PatternType == "prefix" && len(name) >= len(r.Name) && name[:len(r.Name)] == r.Name)
		if r.Type == typ && match && (acl.Type == "" || acl.Type == "allow") &&
			(slices.Contains(acl.Operations, op) || slices.Contains(acl.Operations, "All")) {
			return true
		}
	}
	return false
}
