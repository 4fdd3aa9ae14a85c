package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// doc is one decoded document of a manifest file.
type doc struct {
	file string
	n    int    // its place in the file, from 1
	kind string // apiVersion/kind
	meta *metav1.ObjectMeta
	obj  any // a k8s.io/api type for the built-in kinds, a crd for the others
}

func (d doc) String() string { return fmt.Sprintf("%s #%d (%s %s)", d.file, d.n, d.kind, d.meta.Name) }

// manifests is the folder's files as read, and their documents as decoded.
type manifests struct {
	files map[string][]byte // file name -> content, every *.yaml of the folder
	docs  []doc
	kust  *kustomization
}

// builtin decodes the built-in kinds strictly: an unknown or duplicate field is an error
// (apimachinery's strict mode, case-sensitive field names), so is a kind not registered here.
var builtin = func() runtime.Decoder {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
}()

// readDir reads every *.yaml file of dir.
func readDir(dir string) (map[string][]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte)
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		files[filepath.Base(n)] = b
	}
	return files, nil
}

// load decodes every document of every file strictly; each error names the file and document.
func load(files map[string][]byte) (*manifests, []error) {
	m := &manifests{files: files}
	var errs []error
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "kustomization.yaml" {
			k := new(kustomization)
			if err := decodeStrict(files[name], k); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			} else if k.APIVersion+"/"+k.Kind != "kustomize.config.k8s.io/v1beta1/Kustomization" {
				errs = append(errs, fmt.Errorf("%s: apiVersion/kind %s/%s, want kustomize.config.k8s.io/v1beta1/Kustomization", name, k.APIVersion, k.Kind))
			} else {
				m.kust = k
			}
			continue
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(files[name])))
		for n := 1; ; n++ {
			raw, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s #%d: %w", name, n, err))
				break
			}
			if isEmpty(raw) {
				n--
				continue
			}
			d, err := decode(raw)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s #%d: %w", name, n, err))
				continue
			}
			d.file, d.n = name, n
			if d.meta.Name == "" {
				errs = append(errs, fmt.Errorf("%s: metadata.name is empty", d))
			}
			m.docs = append(m.docs, d)
		}
	}
	return m, errs
}

// isEmpty says whether a YAML document holds only comments and blank lines.
func isEmpty(raw []byte) bool {
	for _, line := range strings.Split(string(raw), "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") && t != "---" {
			return false
		}
	}
	return true
}

// decode decodes one document by its apiVersion and kind: a CRD kind into its struct, any other
// into the k8s.io/api type.
func decode(raw []byte) (doc, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(raw, &tm); err != nil {
		return doc{}, err
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return doc{}, fmt.Errorf("apiVersion and kind are required")
	}
	kind := tm.APIVersion + "/" + tm.Kind
	if mk, ok := crdKinds[kind]; ok {
		obj := mk()
		if err := decodeStrict(raw, obj); err != nil {
			return doc{}, fmt.Errorf("%s: %w", kind, err)
		}
		if err := obj.validate(); err != nil {
			return doc{}, fmt.Errorf("%s %s: %w", kind, obj.meta().Name, err)
		}
		return doc{kind: kind, meta: obj.meta(), obj: obj}, nil
	}
	if strings.Contains(tm.APIVersion, ".") && !strings.Contains(tm.APIVersion, ".k8s.io/") {
		return doc{}, fmt.Errorf("%s: a custom resource with no struct in crds_test.go: model it after its CRD schema first", kind)
	}
	obj, _, err := builtin.Decode(raw, nil, nil)
	if err != nil {
		return doc{}, fmt.Errorf("%s: %w", kind, err)
	}
	return doc{kind: kind, meta: objectMeta(obj), obj: obj}, nil
}

// objectMeta is the ObjectMeta of a decoded built-in object.
func objectMeta(obj runtime.Object) *metav1.ObjectMeta {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return &o.ObjectMeta
	case *corev1.ServiceAccount:
		return &o.ObjectMeta
	case *corev1.Secret:
		return &o.ObjectMeta
	case *corev1.ConfigMap:
		return &o.ObjectMeta
	case *corev1.Service:
		return &o.ObjectMeta
	case *corev1.PersistentVolumeClaim:
		return &o.ObjectMeta
	case *appsv1.Deployment:
		return &o.ObjectMeta
	case *batchv1.Job:
		return &o.ObjectMeta
	case *policyv1.PodDisruptionBudget:
		return &o.ObjectMeta
	}
	panic(fmt.Sprintf("objectMeta: add %T", obj))
}

// decodeStrict decodes YAML into v with no unknown and no duplicate field (names compared
// case-sensitively, as the API server does).
func decodeStrict(raw []byte, v any) error {
	j, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(j, v)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}
