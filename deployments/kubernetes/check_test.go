package kubernetes

import (
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/spacepulse/spacepulse/schemas/cli"
)

// checker collects what is wrong with the manifests' references to each other.
type checker struct {
	m    *manifests
	bins map[string]flagSet
	errs []error
}

func (c *checker) errorf(d doc, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", d, fmt.Sprintf(format, args...)))
}

// check runs every cross-reference check on decoded manifests; bins holds the flags of the
// binaries the containers run.
func check(m *manifests, bins map[string]flagSet) []error {
	c := &checker{m: m, bins: bins}
	c.kustomization()
	c.exampleSecrets()
	var consumers []container
	for _, k := range c.containers() {
		c.podRefs(k)
		c.probes(k)
		c.env(k)
		switch k.bin {
		case "spacepulse-consumer":
			c.consumer(k)
			c.kafkaClient(k)
			c.clickHouseClient(k)
			consumers = append(consumers, k)
		case "spacepulse-migrate":
			c.clickHouseClient(k)
		}
	}
	if len(consumers) == 0 {
		c.errs = append(c.errs, fmt.Errorf("no container runs spacepulse-consumer"))
	}
	c.migrationJob(consumers)
	c.selectors()
	c.strimzi()
	c.clickHouse()
	c.keda(consumers)
	c.grafana()
	return c.errs
}

// all is every decoded document whose object is a T.
func all[T any](m *manifests) []T {
	var out []T
	for _, d := range m.docs {
		if o, ok := d.obj.(T); ok {
			out = append(out, o)
		}
	}
	return out
}

// docOf is the document of obj.
func (c *checker) docOf(obj any) doc {
	for _, d := range c.m.docs {
		if d.obj == obj {
			return d
		}
	}
	panic("docOf: not a decoded object")
}

// container is a container of a pod template (a Deployment's, a Job's) and the binary it runs.
type container struct {
	owner doc
	pod   *corev1.PodTemplateSpec
	c     *corev1.Container
	bin   string  // base name of command[0]
	flags flagSet // nil when bin is not one of binaries
}

func (k container) String() string { return "container " + k.c.Name }

func (c *checker) containers() []container {
	var out []container
	add := func(d doc, pod *corev1.PodTemplateSpec) {
		for i := range pod.Spec.Containers {
			ct := &pod.Spec.Containers[i]
			k := container{owner: d, pod: pod, c: ct}
			if len(ct.Command) > 0 {
				k.bin = path.Base(ct.Command[0])
				k.flags = c.bins[k.bin]
			}
			out = append(out, k)
		}
	}
	for _, d := range c.m.docs {
		switch o := d.obj.(type) {
		case *appsv1.Deployment:
			add(d, &o.Spec.Template)
		case *batchv1.Job:
			add(d, &o.Spec.Template)
		}
	}
	return out
}

// setting is the value of the binary's flag in k: its SPACEPULSE_* variable's literal value, or
// the flag's default; ok is false when the variable comes from a reference (valueFrom).
func (k container) setting(flag string) (v string, ok bool) {
	for _, e := range k.c.Env {
		if e.Name == envOf(flag) {
			return e.Value, e.ValueFrom == nil
		}
	}
	return k.flags[flag], true
}

func (k container) set(flag string) bool {
	v, ok := k.setting(flag)
	return !ok || v != ""
}

func envOf(flag string) string { return cli.Env(flag) }

// secretFile is the Secret and key whose content k sees at file (a mounted secret volume).
func (k container) secretFile(file string) (secret, key string, err error) {
	for _, vm := range k.c.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok || vm.SubPath != "" {
			continue
		}
		for _, v := range k.pod.Spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			if v.Secret == nil {
				return "", "", fmt.Errorf("%s is on volume %s, which is not a secret", file, v.Name)
			}
			if len(v.Secret.Items) == 0 {
				return v.Secret.SecretName, rel, nil
			}
			for _, it := range v.Secret.Items {
				if it.Path == rel {
					return v.Secret.SecretName, it.Key, nil
				}
			}
			return "", "", fmt.Errorf("%s: volume %s (secret %s) has no item with path %s", file, v.Name, v.Secret.SecretName, rel)
		}
		return "", "", fmt.Errorf("%s: volume mount %s names no volume of the pod", file, vm.Name)
	}
	return "", "", fmt.Errorf("%s is on no volume mounted in the container", file)
}

// secretOf is the Secret and key a password flag of k reads: from its -FLAG-file, or from its
// variable's secretKeyRef.
func (k container) secretOf(flag string) (secret, key string, err error) {
	for _, e := range k.c.Env {
		if e.Name == envOf(flag) && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			return e.ValueFrom.SecretKeyRef.Name, e.ValueFrom.SecretKeyRef.Key, nil
		}
	}
	if f, _ := k.setting(flag + "-file"); f != "" {
		return k.secretFile(f)
	}
	return "", "", fmt.Errorf("neither %s_FILE nor %s from a secret is set", envOf(flag), envOf(flag))
}

// secretKeys is the keys of the Secret name: a Secret of the manifests (the *.example.yaml
// included: the user creates it), or one a Strimzi operator writes by its naming rules: the
// cluster CA certificate <kafka>-cluster-ca-cert and, for each KafkaUser, <secretPrefix><user>.
func (c *checker) secretKeys(name string) ([]string, bool) {
	for _, s := range all[*corev1.Secret](c.m) {
		if s.Name == name {
			var keys []string
			for k := range s.Data {
				keys = append(keys, k)
			}
			for k := range s.StringData {
				keys = append(keys, k)
			}
			return keys, true
		}
	}
	for _, k := range all[*strimziKafka](c.m) {
		if name == k.Name+"-cluster-ca-cert" {
			return []string{"ca.crt", "ca.p12", "ca.password"}, true
		}
		if k.Spec.EntityOperator == nil || k.Spec.EntityOperator.UserOperator == nil {
			continue
		}
		for _, u := range all[*strimziUser](c.m) {
			if u.Labels["strimzi.io/cluster"] != k.Name || k.Spec.EntityOperator.UserOperator.SecretPrefix+u.Name != name || u.Spec.Authentication == nil {
				continue
			}
			if u.Spec.Authentication.Type == "scram-sha-512" {
				return []string{"password", "sasl.jaas.config"}, true
			}
			return []string{"ca.crt", "user.crt", "user.key", "user.p12", "user.password"}, true
		}
	}
	return nil, false
}

func (c *checker) secretHas(d doc, what, name, key string) {
	keys, ok := c.secretKeys(name)
	switch {
	case !ok:
		c.errorf(d, "%s: Secret %q is neither in the manifests nor one Strimzi writes for them", what, name)
	case key != "" && !slices.Contains(keys, key):
		c.errorf(d, "%s: Secret %q has no key %q (it has %q)", what, name, key, keys)
	}
}

func (c *checker) configMapHas(d doc, what, name, key string) {
	for _, cm := range all[*corev1.ConfigMap](c.m) {
		if cm.Name == name {
			if _, ok := cm.Data[key]; key != "" && !ok {
				c.errorf(d, "%s: ConfigMap %q has no key %q", what, name, key)
			}
			return
		}
	}
	c.errorf(d, "%s: ConfigMap %q is not in the manifests", what, name)
}

// podRefs checks that what a pod refers to by name exists: its ServiceAccount, the Secrets,
// ConfigMaps and claims of its volumes and variables, its image pull secrets.
func (c *checker) podRefs(k container) {
	d, spec := k.owner, &k.pod.Spec
	if sa := spec.ServiceAccountName; sa != "" && sa != "default" {
		found := false
		for _, s := range all[*corev1.ServiceAccount](c.m) {
			found = found || s.Name == sa
		}
		if !found {
			c.errorf(d, "serviceAccountName %q: no such ServiceAccount in the manifests", sa)
		}
	}
	for _, s := range spec.ImagePullSecrets {
		c.secretHas(d, "imagePullSecrets", s.Name, "")
	}
	for _, v := range spec.Volumes {
		switch {
		case v.Secret != nil:
			c.secretHas(d, "volume "+v.Name, v.Secret.SecretName, "")
			for _, it := range v.Secret.Items {
				c.secretHas(d, "volume "+v.Name, v.Secret.SecretName, it.Key)
			}
		case v.ConfigMap != nil:
			c.configMapHas(d, "volume "+v.Name, v.ConfigMap.Name, "")
			for _, it := range v.ConfigMap.Items {
				c.configMapHas(d, "volume "+v.Name, v.ConfigMap.Name, it.Key)
			}
		case v.PersistentVolumeClaim != nil:
			found := false
			for _, p := range all[*corev1.PersistentVolumeClaim](c.m) {
				found = found || p.Name == v.PersistentVolumeClaim.ClaimName
			}
			if !found {
				c.errorf(d, "volume %s: PersistentVolumeClaim %q is not in the manifests", v.Name, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
	for _, e := range k.c.Env {
		if e.ValueFrom == nil {
			continue
		}
		if r := e.ValueFrom.SecretKeyRef; r != nil && (r.Optional == nil || !*r.Optional) {
			c.secretHas(d, "env "+e.Name, r.Name, r.Key)
		}
		if r := e.ValueFrom.ConfigMapKeyRef; r != nil && (r.Optional == nil || !*r.Optional) {
			c.configMapHas(d, "env "+e.Name, r.Name, r.Key)
		}
	}
	for _, e := range k.c.EnvFrom {
		if e.SecretRef != nil {
			c.secretHas(d, "envFrom", e.SecretRef.Name, "")
		}
		if e.ConfigMapRef != nil {
			c.configMapHas(d, "envFrom", e.ConfigMapRef.Name, "")
		}
	}
	for _, vm := range k.c.VolumeMounts {
		if !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == vm.Name }) {
			c.errorf(d, "container %s: volumeMount %s names no volume of the pod", k.c.Name, vm.Name)
		}
	}
}

// containerPort finds the port p (a name or a number) among the container's ports.
func containerPort(ct *corev1.Container, p intstr.IntOrString) (corev1.ContainerPort, bool) {
	for _, cp := range ct.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp, true
		}
	}
	return corev1.ContainerPort{}, false
}

// probes checks that every probe's port is one of the container's ports.
func (c *checker) probes(k container) {
	for what, p := range map[string]*corev1.Probe{"startupProbe": k.c.StartupProbe, "livenessProbe": k.c.LivenessProbe, "readinessProbe": k.c.ReadinessProbe} {
		if p == nil {
			continue
		}
		var port intstr.IntOrString
		switch {
		case p.HTTPGet != nil:
			port = p.HTTPGet.Port
		case p.TCPSocket != nil:
			port = p.TCPSocket.Port
		default:
			continue
		}
		if _, ok := containerPort(k.c, port); !ok {
			c.errorf(k.owner, "container %s: %s port %s is not a port of the container", k.c.Name, what, port.String())
		}
	}
}

// env checks that every SPACEPULSE_* variable is a flag the container's binary binds.
func (c *checker) env(k container) {
	for _, e := range k.c.Env {
		if !strings.HasPrefix(e.Name, "SPACEPULSE_") {
			continue
		}
		if k.flags == nil {
			c.errorf(k.owner, "container %s: sets %s but runs %q, not one of %q", k.c.Name, e.Name, k.bin, binaries)
			continue
		}
		if k.flags.envFlag(e.Name) == "" {
			c.errorf(k.owner, "container %s: %s is not the variable of any flag of %s (-h lists them)", k.c.Name, e.Name, k.bin)
		}
	}
}

// consumer checks the consumer's probes, shutdown and memory against its settings.
func (c *checker) consumer(k container) {
	d := k.owner
	addr, _ := k.setting("metrics-addr")
	_, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		c.errorf(d, "%s: SPACEPULSE_METRICS_ADDR %q: the probes need the metrics address (host:port)", k, addr)
		return
	}
	port, _ := strconv.Atoi(portStr)
	mp, ok := containerPort(k.c, intstr.FromInt32(int32(port)))
	if !ok {
		c.errorf(d, "%s: the metrics address %s: port %d is not a container port", k, addr, port)
	}
	for what, want := range map[string]struct {
		p    *corev1.Probe
		path string
	}{"livenessProbe": {k.c.LivenessProbe, "/healthz"}, "readinessProbe": {k.c.ReadinessProbe, "/readyz"}} {
		p := want.p
		if p == nil || p.HTTPGet == nil {
			c.errorf(d, "%s: no HTTP %s (want %s on the metrics port)", k, what, want.path)
			continue
		}
		if p.HTTPGet.Path != want.path {
			c.errorf(d, "%s: %s path %s, want %s", k, what, p.HTTPGet.Path, want.path)
		}
		if pp, ok := containerPort(k.c, p.HTTPGet.Port); ok && pp.ContainerPort != mp.ContainerPort {
			c.errorf(d, "%s: %s on port %d, the metrics address is %s", k, what, pp.ContainerPort, addr)
		}
	}
	grace := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if g := k.pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	dt, _ := k.setting("drain-timeout")
	drain, err := time.ParseDuration(dt)
	if err != nil {
		c.errorf(d, "%s: drain timeout %q: %v", k, dt, err)
	} else if bound := drain + 8*time.Second; time.Duration(grace)*time.Second <= bound {
		c.errorf(d, "%s: terminationGracePeriodSeconds %d is not above the consumer's shutdown bound, -drain-timeout %s + 8s = %s", k, grace, drain, bound)
	}
	lim := k.c.Resources.Limits.Memory()
	if lim.IsZero() {
		c.errorf(d, "%s: no memory limit", k)
	} else if ml, _ := k.setting("memory-limit"); ml != "" {
		soft, err := resource.ParseQuantity(strings.TrimSuffix(ml, "B"))
		if err != nil {
			c.errorf(d, "%s: SPACEPULSE_MEMORY_LIMIT %q: %v", k, ml, err)
		} else if soft.Cmp(*lim) >= 0 {
			c.errorf(d, "%s: the Go soft memory limit %s is not below the container's memory limit %s", k, ml, lim)
		}
	}
	if req := k.c.Resources.Requests.Memory(); !req.IsZero() && !lim.IsZero() && req.Cmp(*lim) > 0 {
		c.errorf(d, "%s: memory request %s above the limit %s", k, req, lim)
	}
	if m, _ := k.setting("migrate"); m == "true" && d.kind == "apps/v1/Deployment" {
		c.errorf(d, "%s: SPACEPULSE_MIGRATE=true: consumers of a Deployment must not migrate (the Job does)", k)
	}
}

// migrationJob checks that a Job runs spacepulse-migrate against each consumer's database.
func (c *checker) migrationJob(consumers []container) {
	var jobs []container
	for _, k := range c.containers() {
		if k.bin == "spacepulse-migrate" && k.owner.kind == "batch/v1/Job" {
			jobs = append(jobs, k)
		}
	}
	for _, k := range consumers {
		ok := slices.ContainsFunc(jobs, func(j container) bool {
			a1, _ := j.setting("clickhouse-addr")
			a2, _ := k.setting("clickhouse-addr")
			d1, _ := j.setting("clickhouse-database")
			d2, _ := k.setting("clickhouse-database")
			return a1 == a2 && d1 == d2
		})
		if !ok {
			c.errorf(k.owner, "%s: no Job runs spacepulse-migrate with the consumer's ClickHouse address and database", k)
		}
	}
}

// selectors checks that each Deployment's selector, each Service's and each PDB's select the
// pods of a Deployment, and that each Service's target ports are ports of those pods.
func (c *checker) selectors() {
	deps := all[*appsv1.Deployment](c.m)
	selected := func(sel labels.Selector) []*appsv1.Deployment {
		var out []*appsv1.Deployment
		for _, dep := range deps {
			if !sel.Empty() && sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
				out = append(out, dep)
			}
		}
		return out
	}
	for _, dep := range deps {
		sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
			c.errorf(c.docOf(dep), "spec.selector does not match the pod template's labels")
		}
	}
	for _, svc := range all[*corev1.Service](c.m) {
		d := c.docOf(svc)
		pods := selected(labels.SelectorFromSet(svc.Spec.Selector))
		if len(pods) == 0 {
			c.errorf(d, "selector %v selects the pods of no Deployment", svc.Spec.Selector)
			continue
		}
		for _, p := range svc.Spec.Ports {
			tp := p.TargetPort
			if tp.Type == intstr.Int && tp.IntVal == 0 {
				tp = intstr.FromInt32(p.Port)
			}
			for _, dep := range pods {
				if !slices.ContainsFunc(dep.Spec.Template.Spec.Containers, func(ct corev1.Container) bool { _, ok := containerPort(&ct, tp); return ok }) {
					c.errorf(d, "port %s: targetPort %s is no container port of Deployment %s", p.Name, tp.String(), dep.Name)
				}
			}
		}
	}
	for _, pdb := range all[*policyv1.PodDisruptionBudget](c.m) {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || len(selected(sel)) == 0 {
			c.errorf(c.docOf(pdb), "selector selects the pods of no Deployment")
		}
	}
}
