package gitops_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// healthCheckExpr is one entry of a Flux Kustomization's spec.healthCheckExprs.
type healthCheckExpr struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	InProgress string `json:"inProgress"`
	Failed     string `json:"failed"`
	Current    string `json:"current"`
}

// fluxStatus evaluates a health check on obj as Flux's kustomize-controller does (RFC 0009, fluxcd/pkg
// runtime/cel): a stale observedGeneration is InProgress; then inProgress, failed and current in that
// order, each parsed (not type-checked) with the object's top-level fields as variables; none true is
// InProgress.
func fluxStatus(t *testing.T, hc healthCheckExpr, obj map[string]any) status.Status {
	t.Helper()
	// The object is decoded from JSON, numbers as float64.
	if og, ok, _ := unstructured.NestedFieldNoCopy(obj, "status", "observedGeneration"); ok {
		if gen, _, _ := unstructured.NestedFieldNoCopy(obj, "metadata", "generation"); og != gen {
			return status.InProgressStatus
		}
	}
	env, err := cel.NewEnv(cel.HomogeneousAggregateLiterals(), cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true), cel.CrossTypeNumericComparisons(true), cel.OptionalTypes(),
		ext.Strings(), ext.Sets(), ext.Encoders())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []struct {
		expr string
		want status.Status
	}{{hc.InProgress, status.InProgressStatus}, {hc.Failed, status.FailedStatus}, {hc.Current, status.CurrentStatus}} {
		if e.expr == "" {
			continue
		}
		ast, iss := env.Parse(e.expr)
		if iss != nil && iss.Err() != nil {
			t.Fatalf("parsing %q: %v", e.expr, iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		v, _, err := prg.ContextEval(context.Background(), obj)
		if err != nil {
			t.Fatalf("evaluating %q: %v", e.expr, err)
		}
		if b, ok := v.(types.Bool); !ok {
			t.Fatalf("%q is not a boolean: %v", e.expr, v)
		} else if b {
			return e.want
		}
	}
	return status.InProgressStatus
}

// TestFluxHealth evaluates config/flux's healthCheckExprs, in the snippet and in the sample
// Kustomization, on the Executions captured in each state: a waiting judgment counts as Current, where
// kstatus (TestStates) says InProgress.
func TestFluxHealth(t *testing.T) {
	var snippet struct {
		HealthCheckExprs []healthCheckExpr `json:"healthCheckExprs"`
	}
	readYAML(t, filepath.Join("..", "..", "config", "flux", "health-check-exprs.yaml"), &snippet)
	if len(snippet.HealthCheckExprs) != 1 || snippet.HealthCheckExprs[0].Kind != "Execution" ||
		snippet.HealthCheckExprs[0].APIVersion != v1alpha1.GroupVersion.String() {
		t.Fatalf("the snippet should hold one check for %s Execution: %+v", v1alpha1.GroupVersion, snippet.HealthCheckExprs)
	}
	hc := snippet.HealthCheckExprs[0]
	sample := readSampleExprs(t)
	if diff := cmp.Diff(snippet.HealthCheckExprs, sample); diff != "" {
		t.Errorf("the sample Kustomization's healthCheckExprs differ from the snippet (-snippet +sample):\n%s", diff)
	}

	dir := filepath.Join(customizations, v1alpha1.GroupVersion.Group, "Execution", "testdata")
	for file, want := range map[string]status.Status{
		"awaiting_judgment.yaml": status.CurrentStatus,
		"running.yaml":           status.InProgressStatus,
		"queued.yaml":            status.InProgressStatus,
		"succeeded.yaml":         status.CurrentStatus,
		"failed.yaml":            status.FailedStatus,
		"canceled.yaml":          status.FailedStatus,
	} {
		t.Run(file, func(t *testing.T) {
			if got := fluxStatus(t, hc, readObject(t, filepath.Join(dir, file))); got != want {
				t.Errorf("Flux health = %s, want %s", got, want)
			}
		})
	}
}

// readSampleExprs returns the healthCheckExprs of the sample Kustomization shop-releases.
func readSampleExprs(t *testing.T) []healthCheckExpr {
	t.Helper()
	objs := readDocuments(t, filepath.Join("..", "..", "config", "flux", "gennaker-release.yaml"))
	for _, o := range objs {
		if o.GetName() != "shop-releases" {
			continue
		}
		var k struct {
			Spec struct {
				HealthCheckExprs []healthCheckExpr `json:"healthCheckExprs"`
			} `json:"spec"`
		}
		if err := runtimeDecode(o, &k); err != nil {
			t.Fatal(err)
		}
		return k.Spec.HealthCheckExprs
	}
	t.Fatal("no Kustomization shop-releases in the sample")
	return nil
}
