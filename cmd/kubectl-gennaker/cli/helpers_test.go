package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { testenv.Main(m, &env) }

var update = flag.Bool("update", false, "rewrite the golden files under testdata with what the commands print")

// now is the injected clock's time; the fixture's times are relative to it, so durations are fixed.
var now = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func ago(d time.Duration) *metav1.Time { t := metav1.NewTime(now.Add(-d)); return &t }

// result is what one run of the plugin printed, and its exit code.
type result struct {
	out, err string
	code     int
}

// plugin runs kubectl gennaker with args against the test's API server as its administrator, at time at.
func plugin(t *testing.T, at time.Time, args ...string) result {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	o := NewOptions(streams)
	o.Clock = clocktesting.NewFakePassiveClock(at)
	code := Main(context.Background(), o, append([]string{"--kubeconfig", env.Kubeconfig}, args...))
	return result{out: out.String(), err: errOut.String(), code: code}
}

// golden compares got with testdata/name.golden, or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

// namespace creates a namespace of a fixed name, so that it can appear in golden files, and empties it
// after the test.
func namespace(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		for _, obj := range []client.Object{&v1alpha1.Execution{}, &v1alpha1.Pipeline{}} {
			_ = env.Client.DeleteAllOf(ctx, obj, client.InNamespace(name))
		}
		var groups v1alpha1.ServerGroupList
		_ = env.Client.List(ctx, &groups, client.InNamespace(name))
		for i := range groups.Items {
			sg := &groups.Items[i]
			_ = env.Client.Patch(ctx, sg, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
			_ = env.Client.Delete(ctx, sg)
		}
		var runs v1alpha1.ExecutionList
		_ = env.Client.List(ctx, &runs, client.InNamespace(name))
		for i := range runs.Items {
			_ = env.Client.Patch(ctx, &runs.Items[i], client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
		}
	})
	return name
}

// apply creates the objects of a YAML manifest in namespace ns.
func apply(t *testing.T, ns, manifest string) {
	t.Helper()
	decode := serializer.NewCodecFactory(testenv.Scheme).UniversalDeserializer().Decode
	for _, doc := range strings.Split(manifest, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj, _, err := decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("decoding %s: %v", doc, err)
		}
		o := obj.(client.Object)
		o.SetNamespace(ns)
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
	}
}

// demoPipelines is a release in the Spinnaker manner, and the pipeline it runs as a child.
const demoPipelines = `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: smoke-tests}
spec:
  application: shop
  stages:
  - name: soak
    wait: {duration: 10m}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: demo}
spec:
  application: shop
  parameters: [{name: image, required: true}]
  stages:
  - name: deploy
    deploy:
      clusters:
      - account: aws-sim
        region: us-east-1
        stack: main
        capacity: {min: 1, max: 3, desired: 3}
        aws: {imageID: "${ parameters.image }", instanceType: m7g.large}
  - name: smoke
    dependsOn: [deploy]
    pipeline: {name: smoke-tests}
  - name: go-no-go
    dependsOn: [deploy]
    manualJudgment:
      instructions: "Verify the canary scores are correct."
      inputs: [ship, hold]
      approvers: {users: [alice@example.com], groups: [release-managers]}
  - name: disable-old
    dependsOn: [go-no-go, smoke]
    wait: {duration: 5m}
`

// fixture fills namespace ns with the demo pipelines and runs whose status is written here, as the
// operator would have written it, at times relative to now (no manager runs):
//
//	demo-1  AwaitingJudgment: deploy Succeeded (shop-main-v000 -> v001), smoke running child demo-1-smoke,
//	        go-no-go waiting, disable-old not started
//	demo-2  Running, only deploy started
//	demo-0  Succeeded an hour ago
func fixture(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	apply(t, ns, demoPipelines)
	demo := &v1alpha1.Pipeline{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "demo"}, demo); err != nil {
		t.Fatal(err)
	}
	smoke := &v1alpha1.Pipeline{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "smoke-tests"}, smoke); err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct {
		name            string
		desired, health int32
		traffic         v1alpha1.Traffic
		run             string
	}{
		{"shop-main-v000", 3, 3, v1alpha1.TrafficEnabled, "demo-0"},
		{"shop-main-v001", 3, 2, v1alpha1.TrafficDisabled, "demo-1"},
	} {
		sg := &v1alpha1.ServerGroup{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: g.name,
				Labels:      map[string]string{v1alpha1.LabelCluster: "shop-main"},
				Annotations: map[string]string{v1alpha1.AnnotationExecution: g.run}},
			Spec: v1alpha1.ServerGroupSpec{
				Application: "shop", Stack: "main", Account: "aws-sim", Region: "us-east-1",
				Capacity:         v1alpha1.Capacity{Min: 1, Max: 3, Desired: g.desired},
				Traffic:          g.traffic,
				CloudServerGroup: v1alpha1.CloudServerGroup{AWS: &v1alpha1.AWSServerGroup{ImageID: "ami-0abc"}},
			},
		}
		if err := env.Client.Create(ctx, sg); err != nil {
			t.Fatal(err)
		}
		sg.Status.Instances = v1alpha1.Instances{Desired: g.desired, Running: g.desired, Healthy: g.health}
		sg.Status.Traffic = g.traffic
		if err := env.Client.Status().Update(ctx, sg); err != nil {
			t.Fatal(err)
		}
	}
	deployed, _ := json.Marshal([]map[string]any{{"account": "aws-sim", "region": "us-east-1", "cluster": "shop-main",
		"serverGroup": "shop-main-v001", "previousServerGroup": "shop-main-v000", "healthy": 2}})
	runs := []struct {
		ex     *v1alpha1.Execution
		status v1alpha1.ExecutionStatus
	}{
		{&v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Name: "demo-0"}, Spec: v1alpha1.ExecutionSpec{Pipeline: "demo", Parameters: map[string]string{"image": "ami-0aaa"}}},
			v1alpha1.ExecutionStatus{
				Phase: v1alpha1.ExecutionSucceeded, StartTime: ago(70 * time.Minute), CompletionTime: ago(58 * time.Minute),
				Trigger:      &v1alpha1.ExecutionTrigger{Type: v1alpha1.TriggerCron},
				PipelineSpec: &demo.Spec,
				Stages: []v1alpha1.StageStatus{
					{Name: "deploy", Type: "deploy", Phase: v1alpha1.StageSucceeded, StartTime: ago(70 * time.Minute), EndTime: ago(64 * time.Minute)},
					{Name: "smoke", Type: "pipeline", Phase: v1alpha1.StageSucceeded, StartTime: ago(64 * time.Minute), EndTime: ago(60 * time.Minute)},
					{Name: "go-no-go", Type: "manualJudgment", Phase: v1alpha1.StageSucceeded, StartTime: ago(64 * time.Minute), EndTime: ago(63 * time.Minute),
						Conditions: []metav1.Condition{{Type: v1alpha1.ConditionJudged, Status: metav1.ConditionTrue, Reason: "Continue", Message: "Continue by alice@example.com at 2026-03-02T08:57:00Z, input ship: looks good", LastTransitionTime: *ago(63 * time.Minute)}}},
					{Name: "disable-old", Type: "wait", Phase: v1alpha1.StageSucceeded, StartTime: ago(63 * time.Minute), EndTime: ago(58 * time.Minute)},
				},
			}},
		{&v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Name: "demo-1"}, Spec: v1alpha1.ExecutionSpec{Pipeline: "demo", Parameters: map[string]string{"image": "ami-0bbb"}}},
			v1alpha1.ExecutionStatus{
				Phase: v1alpha1.ExecutionAwaitingJudgment, Message: "go-no-go waits for a judgment: Verify the canary scores are correct.",
				StartTime:    ago(6 * time.Minute),
				Trigger:      &v1alpha1.ExecutionTrigger{Type: v1alpha1.TriggerManual, User: "alice@example.com"},
				PipelineSpec: &demo.Spec, CurrentStage: "smoke,go-no-go", AwaitingJudgment: "go-no-go",
				Stages: []v1alpha1.StageStatus{
					{Name: "deploy", Type: "deploy", Phase: v1alpha1.StageSucceeded, StartTime: ago(6 * time.Minute), EndTime: ago(150 * time.Second),
						Message: "shop-main-v001 is healthy", Outputs: map[string]apiextensionsv1.JSON{"serverGroups": {Raw: deployed}}},
					{Name: "smoke", Type: "pipeline", Phase: v1alpha1.StageRunning, StartTime: ago(150 * time.Second), Message: "demo-1-smoke is Running"},
					{Name: "go-no-go", Type: "manualJudgment", Phase: v1alpha1.StageWaitingForJudgment, StartTime: ago(150 * time.Second), Message: "waiting for a judgment"},
				},
			}},
		{&v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Name: "demo-1-smoke",
			Labels:      map[string]string{v1alpha1.LabelPipeline: "smoke-tests"},
			Annotations: map[string]string{v1alpha1.AnnotationTrigger: v1alpha1.TriggerPipeline, v1alpha1.AnnotationParentExecution: "demo-1", v1alpha1.AnnotationParentStage: "smoke"}},
			Spec: v1alpha1.ExecutionSpec{Pipeline: "smoke-tests"}},
			v1alpha1.ExecutionStatus{
				Phase: v1alpha1.ExecutionRunning, StartTime: ago(140 * time.Second), CurrentStage: "soak",
				Trigger:      &v1alpha1.ExecutionTrigger{Type: v1alpha1.TriggerPipeline, ParentExecution: "demo-1", ParentStage: "smoke"},
				PipelineSpec: &smoke.Spec,
				Stages: []v1alpha1.StageStatus{
					{Name: "soak", Type: "wait", Phase: v1alpha1.StageRunning, StartTime: ago(140 * time.Second), Message: "waiting until 10:07:40"},
				},
			}},
		{&v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Name: "demo-2"}, Spec: v1alpha1.ExecutionSpec{Pipeline: "demo", Parameters: map[string]string{"image": "ami-0ccc"}}},
			v1alpha1.ExecutionStatus{
				Phase: v1alpha1.ExecutionRunning, StartTime: ago(30 * time.Second), CurrentStage: "deploy",
				Trigger:      &v1alpha1.ExecutionTrigger{Type: v1alpha1.TriggerManual, User: "bob@example.com"},
				PipelineSpec: &demo.Spec,
				Stages: []v1alpha1.StageStatus{
					{Name: "deploy", Type: "deploy", Phase: v1alpha1.StageRunning, StartTime: ago(30 * time.Second), Message: "waiting for the deploy lease of shop-main"},
				},
			}},
	}
	for _, r := range runs {
		r.ex.Namespace = ns
		if err := env.Client.Create(ctx, r.ex); err != nil {
			t.Fatalf("creating %s: %v", r.ex.Name, err)
		}
		r.ex.Status = r.status
		if err := env.Client.Status().Update(ctx, r.ex); err != nil {
			t.Fatalf("writing the status of %s: %v", r.ex.Name, err)
		}
	}
}

// grant lets user read, start and patch runs in namespace ns, as the approver role does.
func grant(t *testing.T, ns, user string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runner"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"executions", "pipelines", "servergroups"},
			Verbs: []string{"get", "list", "watch", "create", "patch"}}},
	}
	if err := env.Client.Create(ctx, role); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "runner-" + strings.ReplaceAll(strings.Split(user, "@")[0], ".", "-")},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "runner"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	if err := env.Client.Create(ctx, rb); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer a watching command writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
