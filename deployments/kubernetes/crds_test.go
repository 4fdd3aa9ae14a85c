package kubernetes

import (
	"fmt"
	"slices"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The custom resources the manifests use, as Go structs of the fields they use, written after the
// operators' CRD schemas: Strimzi 1.2.0 (kafka.strimzi.io/v1:
// packaging/install/cluster-operator/04*-Crd-*.yaml), the Altinity ClickHouse operator 0.25.6
// (clickhouse.altinity.com/v1 and clickhouse-keeper.altinity.com/v1:
// deploy/operator/parts/crd.yaml) and KEDA 2.20.2 (keda.sh/v1alpha1:
// config/crd/bases/keda.sh_*.yaml). Decoded strictly, a field the struct lacks is an error: a
// field the schema has but no manifest uses yet must be added here (from the schema) before a
// manifest may use it. Where a schema embeds a Kubernetes type (a pod template's spec, an HPA
// behaviour) the struct embeds that type from k8s.io/api, so it is checked in full. validate
// checks the schema's required fields and enums among the modelled ones.

// crd is a decoded custom resource.
type crd interface {
	meta() *metav1.ObjectMeta
	validate() error
}

// crdKinds maps apiVersion and kind to a new value of the struct for it.
var crdKinds = map[string]func() crd{
	"kafka.strimzi.io/v1/Kafka":                                      func() crd { return new(strimziKafka) },
	"kafka.strimzi.io/v1/KafkaNodePool":                              func() crd { return new(strimziNodePool) },
	"kafka.strimzi.io/v1/KafkaTopic":                                 func() crd { return new(strimziTopic) },
	"kafka.strimzi.io/v1/KafkaUser":                                  func() crd { return new(strimziUser) },
	"clickhouse.altinity.com/v1/ClickHouseInstallation":              func() crd { return new(clickHouseInstallation) },
	"clickhouse-keeper.altinity.com/v1/ClickHouseKeeperInstallation": func() crd { return new(clickHouseKeeperInstallation) },
	"keda.sh/v1alpha1/ScaledObject":                                  func() crd { return new(scaledObject) },
	"keda.sh/v1alpha1/TriggerAuthentication":                         func() crd { return new(triggerAuthentication) },
	"kustomize.config.k8s.io/v1beta1/Kustomization":                  func() crd { return new(kustomization) },
}

type object struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
}

func (o *object) meta() *metav1.ObjectMeta { return &o.ObjectMeta }

// oneOf says whether v is among the schema's enum values; field names the field for the error.
func oneOf(field, v string, enum ...string) error {
	if !slices.Contains(enum, v) {
		return fmt.Errorf("%s %q: want one of %q", field, v, enum)
	}
	return nil
}

// Altinity clickhouse-operator 0.25.6.

type chiTemplates struct {
	PodTemplates []struct {
		Name     string             `json:"name"`
		Metadata *metav1.ObjectMeta `json:"metadata,omitempty"`
		Spec     corev1.PodSpec     `json:"spec"`
	} `json:"podTemplates,omitempty"`
	VolumeClaimTemplates []struct {
		Name          string                           `json:"name"`
		ReclaimPolicy string                           `json:"reclaimPolicy,omitempty"`
		Spec          corev1.PersistentVolumeClaimSpec `json:"spec"`
	} `json:"volumeClaimTemplates,omitempty"`
	ServiceTemplates []struct {
		Name         string             `json:"name"`
		GenerateName string             `json:"generateName,omitempty"`
		Metadata     *metav1.ObjectMeta `json:"metadata,omitempty"`
		Spec         corev1.ServiceSpec `json:"spec"`
	} `json:"serviceTemplates,omitempty"`
}

type chiDefaults struct {
	Templates struct {
		PodTemplate             string `json:"podTemplate,omitempty"`
		DataVolumeClaimTemplate string `json:"dataVolumeClaimTemplate,omitempty"`
		LogVolumeClaimTemplate  string `json:"logVolumeClaimTemplate,omitempty"`
		ServiceTemplate         string `json:"serviceTemplate,omitempty"`
	} `json:"templates"`
}

type chiLayout struct {
	ShardsCount   int `json:"shardsCount,omitempty"`
	ReplicasCount int `json:"replicasCount,omitempty"`
}

type chiCluster struct {
	Name   string    `json:"name"`
	Layout chiLayout `json:"layout"`
}

type clickHouseInstallation struct {
	object
	Spec struct {
		Defaults      *chiDefaults `json:"defaults,omitempty"`
		Configuration struct {
			Zookeeper *struct {
				Nodes []struct {
					Host string `json:"host"`
					Port int32  `json:"port,omitempty"`
				} `json:"nodes"`
			} `json:"zookeeper,omitempty"`
			// users, profiles and settings are free-form in the schema
			// (x-kubernetes-preserve-unknown-fields): "user/setting" keys.
			Users    map[string]any `json:"users,omitempty"`
			Profiles map[string]any `json:"profiles,omitempty"`
			Settings map[string]any `json:"settings,omitempty"`
			Clusters []chiCluster   `json:"clusters"`
		} `json:"configuration"`
		Templates *chiTemplates `json:"templates,omitempty"`
	} `json:"spec"`
}

func (c *clickHouseInstallation) validate() error {
	return checkTemplates(c.Spec.Defaults, c.Spec.Templates)
}

type clickHouseKeeperInstallation struct {
	object
	Spec struct {
		Defaults      *chiDefaults `json:"defaults,omitempty"`
		Configuration struct {
			Settings map[string]any `json:"settings,omitempty"`
			Clusters []struct {
				Name   string    `json:"name"`
				Layout chiLayout `json:"layout"`
			} `json:"clusters"`
		} `json:"configuration"`
		Templates *chiTemplates `json:"templates,omitempty"`
	} `json:"spec"`
}

func (c *clickHouseKeeperInstallation) validate() error {
	return checkTemplates(c.Spec.Defaults, c.Spec.Templates)
}

// checkTemplates checks that the templates the defaults name are defined.
func checkTemplates(d *chiDefaults, t *chiTemplates) error {
	if d == nil {
		return nil
	}
	if t == nil {
		t = &chiTemplates{}
	}
	has := func(kind, name string, names []string) error {
		if name != "" && !slices.Contains(names, name) {
			return fmt.Errorf("defaults.templates: %s %q is not among spec.templates (%q)", kind, name, names)
		}
		return nil
	}
	var pods, vols, svcs []string
	for _, p := range t.PodTemplates {
		pods = append(pods, p.Name)
	}
	for _, v := range t.VolumeClaimTemplates {
		vols = append(vols, v.Name)
	}
	for _, s := range t.ServiceTemplates {
		svcs = append(svcs, s.Name)
	}
	if err := has("podTemplate", d.Templates.PodTemplate, pods); err != nil {
		return err
	}
	if err := has("dataVolumeClaimTemplate", d.Templates.DataVolumeClaimTemplate, vols); err != nil {
		return err
	}
	if err := has("logVolumeClaimTemplate", d.Templates.LogVolumeClaimTemplate, vols); err != nil {
		return err
	}
	return has("serviceTemplate", d.Templates.ServiceTemplate, svcs)
}

// KEDA 2.20.2.

type scaledObject struct {
	object
	Spec struct {
		ScaleTargetRef struct {
			APIVersion             string `json:"apiVersion,omitempty"`
			Kind                   string `json:"kind,omitempty"`
			Name                   string `json:"name"`
			EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
		} `json:"scaleTargetRef"`
		PollingInterval *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
		MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
		Advanced        *struct {
			RestoreToOriginalReplicaCount bool `json:"restoreToOriginalReplicaCount,omitempty"`
			HorizontalPodAutoscalerConfig *struct {
				Name     string                                         `json:"name,omitempty"`
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
			} `json:"horizontalPodAutoscalerConfig,omitempty"`
		} `json:"advanced,omitempty"`
		Triggers []struct {
			Type              string            `json:"type"`
			Name              string            `json:"name,omitempty"`
			Metadata          map[string]string `json:"metadata"`
			MetricType        string            `json:"metricType,omitempty"`
			AuthenticationRef *struct {
				Name string `json:"name"`
				Kind string `json:"kind,omitempty"`
			} `json:"authenticationRef,omitempty"`
		} `json:"triggers"`
	} `json:"spec"`
}

func (s *scaledObject) validate() error {
	if s.Spec.ScaleTargetRef.Name == "" {
		return fmt.Errorf("spec.scaleTargetRef.name: required")
	}
	if len(s.Spec.Triggers) == 0 {
		return fmt.Errorf("spec.triggers: required")
	}
	for _, t := range s.Spec.Triggers {
		if t.Type == "" || t.Metadata == nil {
			return fmt.Errorf("spec.triggers: type and metadata are required")
		}
		if t.AuthenticationRef != nil && t.AuthenticationRef.Kind != "" {
			if err := oneOf("authenticationRef kind", t.AuthenticationRef.Kind, "TriggerAuthentication", "ClusterTriggerAuthentication"); err != nil {
				return err
			}
		}
	}
	return nil
}

type triggerAuthentication struct {
	object
	Spec struct {
		Env []struct {
			Parameter     string `json:"parameter"`
			Name          string `json:"name"`
			ContainerName string `json:"containerName,omitempty"`
		} `json:"env,omitempty"`
		SecretTargetRef []struct {
			Parameter string `json:"parameter"`
			Name      string `json:"name"`
			Key       string `json:"key"`
		} `json:"secretTargetRef,omitempty"`
	} `json:"spec"`
}

func (t *triggerAuthentication) validate() error { return nil }

// kustomize's Kustomization (kustomize.config.k8s.io/v1beta1), the fields used here.
type kustomization struct {
	metav1.TypeMeta `json:",inline"`
	Namespace       string      `json:"namespace,omitempty"`
	Resources       []string    `json:"resources"`
	Images          []kustImage `json:"images,omitempty"`
	metadata        metav1.ObjectMeta
}

type kustImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

func (k *kustomization) meta() *metav1.ObjectMeta { return &k.metadata }
func (k *kustomization) validate() error          { return nil }
