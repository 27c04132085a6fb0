// Package chart_test renders the Helm chart dist/chart with Helm's own Go engine (helm.sh/helm/v4), as
// `helm template` and `helm install` do, for its default values and with cert-manager on and off;
// decodes every object, checks the CRDs are config/crd/bases's, and installs the rendered manifests into
// a real API server (envtest). Only this package imports Helm: the operator does not.
package chart_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gennaker/gennaker/test/testenv"
)

const releaseNamespace = "delivery"

var root = filepath.Join("..", "..")

// render renders the chart as `helm template gennaker dist/chart -n delivery --set ...` does and returns
// its objects.
func render(t *testing.T, values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	chrt, err := loader.Load(filepath.Join(root, "dist", "chart"))
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	vals, err := chartutil.ToRenderValues(chrt, values, common.ReleaseOptions{Name: "gennaker", Namespace: releaseNamespace, IsInstall: true}, nil)
	if err != nil {
		t.Fatalf("values: %v", err)
	}
	files, err := engine.Render(chrt, vals)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []*unstructured.Unstructured
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") {
			continue
		}
		objs = append(objs, decode(t, n, files[n])...)
	}
	if len(objs) == 0 {
		t.Fatal("the chart rendered no objects")
	}
	return objs
}

func decode(t *testing.T, name, text string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(text), 4096)
	var out []*unstructured.Unstructured
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("%s does not decode: %v\n%s", name, err, text)
		}
		if obj == nil {
			continue
		}
		// Through the API machinery's own JSON decoding, so that numbers are int64 as a client sees them.
		b, err := json.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
			t.Fatalf("%s: an object without apiVersion, kind or name: %v", name, obj)
		}
		out = append(out, u)
	}
}

func byKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// bases reads config/crd/bases.
func bases(t *testing.T) map[string]*unstructured.Unstructured {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	out := map[string]*unstructured.Unstructured{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range decode(t, p, string(b)) {
			out[o.GetName()] = o
		}
	}
	return out
}

// TestChartDefaults renders the default values: every object decodes, the CRDs are exactly
// config/crd/bases's and kept on uninstall, the manager is the hardened Deployment of config/manager,
// and cert-manager issues the webhook certificate.
func TestChartDefaults(t *testing.T) {
	objs := render(t, nil)

	want := bases(t)
	crds := byKind(objs, "CustomResourceDefinition")
	got := map[string]*unstructured.Unstructured{}
	for _, c := range crds {
		got[c.GetName()] = c
	}
	if diff := cmp.Diff(keys(want), keys(got)); diff != "" {
		t.Fatalf("CRDs (-config/crd/bases +chart):\n%s", diff)
	}
	for name, c := range got {
		if !equality.Semantic.DeepEqual(c.Object["spec"], want[name].Object["spec"]) {
			t.Errorf("CRD %s: the chart's spec differs from config/crd/bases's:\n%s", name, cmp.Diff(want[name].Object["spec"], c.Object["spec"]))
		}
		if c.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s is not kept on uninstall (crd.keep)", name)
		}
	}

	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			t.Errorf("the chart renders a Namespace: Helm installs into the release's")
		}
		if ns := o.GetNamespace(); ns != "" && ns != releaseNamespace {
			t.Errorf("%s %s is in namespace %s, not the release's", o.GetKind(), o.GetName(), ns)
		}
	}

	deploys := byKind(objs, "Deployment")
	if len(deploys) != 1 {
		t.Fatalf("want one Deployment, got %d", len(deploys))
	}
	d := deploys[0]
	replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	c := container(t, d)
	checks := map[string]bool{
		"two replicas":                          replicas == 2,
		"leader election on":                    contains(c.Args, "--leader-elect"),
		"liveness probe /healthz":               c.LivenessProbe != nil && c.LivenessProbe.HTTPGet.Path == "/healthz",
		"readiness probe /readyz":               c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet.Path == "/readyz",
		"cpu and memory requests":               !c.Resources.Requests.Cpu().IsZero() && !c.Resources.Requests.Memory().IsZero(),
		"no privilege escalation":               c.SecurityContext != nil && c.SecurityContext.AllowPrivilegeEscalation != nil && !*c.SecurityContext.AllowPrivilegeEscalation,
		"read-only root filesystem":             c.SecurityContext != nil && c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem,
		"image from values, tag the appVersion": c.Image == "gennaker/manager:0.1.0",
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("manager Deployment: not %s: %+v", what, c)
		}
	}
	if nonRoot, _, _ := unstructured.NestedBool(d.Object, "spec", "template", "spec", "securityContext", "runAsNonRoot"); !nonRoot {
		t.Error("manager pods may run as root")
	}
	if len(byKind(objs, "PodDisruptionBudget")) != 1 {
		t.Error("no PodDisruptionBudget")
	}
	if len(byKind(objs, "NetworkPolicy")) != 0 {
		t.Error("the NetworkPolicy is rendered by default")
	}
	if len(byKind(objs, "Certificate")) != 1 || len(byKind(objs, "Issuer")) != 1 {
		t.Error("cert-manager's Certificate and Issuer are not rendered by default")
	}
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		for _, w := range byKind(objs, kind) {
			if got := w.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != releaseNamespace+"/gennaker-serving-cert" {
				t.Errorf("%s: inject-ca-from = %q", kind, got)
			}
		}
	}
	services := map[string]bool{}
	for _, s := range byKind(objs, "Service") {
		services[s.GetName()] = true
	}
	if !services["gennaker-webhook-service"] || !services["gennaker-controller-manager-metrics-service"] {
		t.Errorf("services: %v", services)
	}
}

// TestChartWithoutCertManager renders certManager.enable=false: no cert-manager objects, the webhook
// configurations carry the CA the values give, and the NetworkPolicy when asked for.
func TestChartWithoutCertManager(t *testing.T) {
	objs := render(t, map[string]any{
		"certManager":   map[string]any{"enable": false},
		"webhook":       map[string]any{"caBundle": "Q0EK"},
		"networkPolicy": map[string]any{"enable": true},
		"manager":       map[string]any{"args": []any{"--execution-workers=8"}},
	})
	if n := len(byKind(objs, "Certificate")) + len(byKind(objs, "Issuer")); n != 0 {
		t.Errorf("%d cert-manager objects rendered with certManager.enable=false", n)
	}
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		ws := byKind(objs, kind)
		if len(ws) != 1 {
			t.Fatalf("want one %s, got %d", kind, len(ws))
		}
		if _, ok := ws[0].GetAnnotations()["cert-manager.io/inject-ca-from"]; ok {
			t.Errorf("%s asks cert-manager for its CA", kind)
		}
		hooks, _, _ := unstructured.NestedSlice(ws[0].Object, "webhooks")
		for _, h := range hooks {
			if ca, _, _ := unstructured.NestedString(h.(map[string]any), "clientConfig", "caBundle"); ca != "Q0EK" {
				t.Errorf("%s: caBundle = %q", kind, ca)
			}
		}
	}
	if len(byKind(objs, "NetworkPolicy")) != 1 {
		t.Error("networkPolicy.enable=true renders no NetworkPolicy")
	}
	if c := container(t, byKind(objs, "Deployment")[0]); !contains(c.Args, "--execution-workers=8") || !contains(c.Args, "--leader-elect") {
		t.Errorf("manager.args are not added to the manager's flags: %v", c.Args)
	}
}

// TestChartOneReplica renders manager.replicas=1: no PodDisruptionBudget, which over one replica would
// block every node drain; with the default two replicas there is one.
func TestChartOneReplica(t *testing.T) {
	if n := len(byKind(render(t, map[string]any{"manager": map[string]any{"replicas": 1}}), "PodDisruptionBudget")); n != 0 {
		t.Errorf("%d PodDisruptionBudgets rendered over one replica", n)
	}
	if n := len(byKind(render(t, nil), "PodDisruptionBudget")); n != 1 {
		t.Errorf("%d PodDisruptionBudgets rendered over the default replicas, want 1", n)
	}
}

// TestChartInstalls installs what the chart renders into a real API server, CRDs first, as helm install
// does: every object is accepted. The cert-manager objects are left out with the default values (the API
// server has no cert-manager CRDs); with cert-manager off, everything is installed.
func TestChartInstalls(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(testenv.Root(), "bin", "k8s", testenv.K8sVersion)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, values := range []map[string]any{
		nil,
		{"certManager": map[string]any{"enable": false}, "webhook": map[string]any{"caBundle": "Q0EK"}, "networkPolicy": map[string]any{"enable": true}},
	} {
		ns := releaseNamespace
		if i > 0 {
			ns = releaseNamespace + "-2"
		}
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
		objs := render(t, values)
		sort.SliceStable(objs, func(a, b int) bool {
			return objs[a].GetKind() == "CustomResourceDefinition" && objs[b].GetKind() != "CustomResourceDefinition"
		})
		installed := 0
		for _, o := range objs {
			if strings.HasPrefix(o.GetAPIVersion(), "cert-manager.io/") {
				continue
			}
			if o.GetNamespace() != "" {
				o.SetNamespace(ns)
			}
			err := c.Create(ctx, o)
			if i > 0 && o.GetNamespace() == "" && apierrors.IsAlreadyExists(err) {
				continue // cluster-scoped, from the first install
			}
			if err != nil {
				t.Fatalf("installing %s %s: %v", o.GetKind(), o.GetName(), err)
			}
			installed++
		}
		t.Logf("values %v: %d objects installed", values, installed)
	}
}

func container(t *testing.T, d *unstructured.Unstructured) corev1.Container {
	t.Helper()
	var dep struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	b, err := d.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dep); err != nil {
		t.Fatal(err)
	}
	if len(dep.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(dep.Spec.Template.Spec.Containers))
	}
	return dep.Spec.Template.Spec.Containers[0]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func keys(m map[string]*unstructured.Unstructured) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
