package gitops_test

import (
	"context"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
	"github.com/gennaker/gennaker/controllers/cloud"
	awscloud "github.com/gennaker/gennaker/controllers/cloud/aws"
	awssim "github.com/gennaker/gennaker/test/cloudsim/aws"
	"github.com/gennaker/gennaker/test/testenv"
)

var update = flag.Bool("update", false, "write the objects seen in each state to config/argocd/.../testdata")

// The simulated AWS account.
const (
	accessKeyID = "AKIDGENNAKERGITOPS01"
	secretKey   = "gnkr-gitops-secret-never-shown"
	targetGroup = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/shop-web/0123456789abcdef"
	// The names captured objects are given, so that testdata does not change with each run's namespace and
	// simulator port.
	capturedNamespace = "shop"
	capturedEndpoint  = "http://127.0.0.1:4566"
)

// state is one object in one state, as a user would look at it, and what kstatus and Argo CD must say.
type state struct {
	kind, name string
	// namespaced is false for CloudAccounts.
	clusterScoped bool
	// file is the testdata file the object is captured in, under its kind's folder.
	file string
	// reached says the object is in the state.
	reached    func(u *unstructured.Unstructured) bool
	wantStatus status.Status
	wantHealth string
}

// world is a namespace with a manager, an AWS simulator and two accounts.
type world struct {
	ns      string
	account string
	sim     *awssim.Sim
	url     string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ns := env.Namespace(t)
	sim := awssim.New(awssim.Options{
		Keys: map[string]string{accessKeyID: secretKey},
		// Slow enough that a rollout is seen in progress, even on a loaded machine.
		LaunchDelay: 3 * time.Second, TargetHealthyDelay: 3 * time.Second,
		TerminateDelay: 100 * time.Millisecond, DeleteDelay: 200 * time.Millisecond,
	})
	sim.AddTargetGroup(targetGroup)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	w := &world{ns: ns, account: ns + "-aws", sim: sim, url: srv.URL}
	env.StartManagerWith(t, testenv.Manager{Controllers: controllers.Options{
		Providers:        map[v1alpha1.Provider]cloud.Provider{v1alpha1.ProviderAWS: &awscloud.Provider{MaxBackoff: 20 * time.Millisecond}},
		ServerGroupPoll:  100 * time.Millisecond,
		CloudMaxBackoff:  500 * time.Millisecond,
		CloudSlowBackoff: 200 * time.Millisecond,
	}})
	return w
}

func (w *world) create(t *testing.T, objs ...client.Object) {
	t.Helper()
	for _, o := range objs {
		if err := env.Client.Create(context.Background(), o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
	}
}

func (w *world) accountWithKey(t *testing.T, name, keyID string) {
	t.Helper()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: name},
		Data: map[string][]byte{"credentials": []byte("[default]\naws_access_key_id = " + keyID +
			"\naws_secret_access_key = " + secretKey + "\n")},
	}
	acc := &v1alpha1.CloudAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.CloudAccountSpec{
			Provider: v1alpha1.ProviderAWS,
			Credentials: v1alpha1.Credentials{
				Source:    v1alpha1.CredentialSourceSecret,
				SecretRef: &v1alpha1.SecretKeyRef{Namespace: w.ns, Name: name, Key: "credentials"},
			},
			AWS:               &v1alpha1.AWSAccount{Regions: []string{"us-east-1"}, Endpoint: v1alpha1.Endpoint(w.url)},
			AllowedNamespaces: []string{w.ns},
		},
	}
	w.create(t, secret, acc)
	t.Cleanup(func() {
		ctx := context.Background()
		_ = env.Client.Patch(ctx, acc, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
		_ = env.Client.Delete(ctx, acc)
	})
}

func (w *world) serverGroup(name, account string, desired int32) *v1alpha1.ServerGroup {
	return &v1alpha1.ServerGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: name},
		Spec: v1alpha1.ServerGroupSpec{
			Application: "shop", Stack: "main", Account: account, Region: "us-east-1",
			Capacity: v1alpha1.Capacity{Min: 0, Max: 10, Desired: desired},
			Traffic:  v1alpha1.TrafficEnabled,
			CloudServerGroup: v1alpha1.CloudServerGroup{AWS: &v1alpha1.AWSServerGroup{
				ImageID: "ami-0abc1234def567890", InstanceType: "m7g.large",
				TargetGroupARNs: []string{targetGroup}, SubnetIDs: []string{"subnet-0a"},
			}},
		},
	}
}

// pipelines are the Pipelines the runs use: a gate (a manual judgment, then a soak), a judgment alone, a
// long soak, a quick one and one without runs.
const pipelines = `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: gate}
spec:
  application: shop
  limitConcurrent: false
  stages:
  - name: go-no-go
    manualJudgment: {instructions: "Check the canary dashboard", inputs: [ship, hold]}
  - {name: soak, dependsOn: [go-no-go], wait: {duration: 0s}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: held}
spec:
  application: shop
  stages:
  - name: go-no-go
    manualJudgment: {instructions: "Check the canary dashboard"}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: soak}
spec:
  application: shop
  limitConcurrent: true
  stages:
  - {name: soak, wait: {duration: 1h}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: quick}
spec:
  application: shop
  stages:
  - {name: pause, wait: {duration: 0s}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: idle}
spec:
  application: shop
  stages:
  - {name: pause, wait: {duration: 0s}}
`

func (w *world) apply(t *testing.T, manifest string) {
	t.Helper()
	for _, doc := range strings.Split(manifest, "\n---\n") {
		var pl v1alpha1.Pipeline
		if err := yaml.UnmarshalStrict([]byte(doc), &pl); err != nil {
			t.Fatalf("decoding %s: %v", doc, err)
		}
		pl.Namespace = w.ns
		w.create(t, &pl)
	}
}

func (w *world) run(t *testing.T, name, pipeline string, judgments map[string]v1alpha1.Judgment) {
	t.Helper()
	w.create(t, &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: name},
		Spec:       v1alpha1.ExecutionSpec{Pipeline: pipeline, Judgments: judgments},
	})
}

func get(g Gomega, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version, Kind: kind})
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u)).To(Succeed())
	return u
}

func phase(want string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		p, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		return p == want
	}
}

func conditionIs(typ, s string, reason ...string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			m := c.(map[string]any)
			if m["type"] == typ && m["status"] == s && (len(reason) == 0 || m["reason"] == reason[0]) {
				return true
			}
		}
		return false
	}
}

func all(fs ...func(*unstructured.Unstructured) bool) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		for _, f := range fs {
			if !f(u) {
				return false
			}
		}
		og, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		return og == u.GetGeneration()
	}
}

func lastRun(phase string) func(*unstructured.Unstructured) bool {
	return func(u *unstructured.Unstructured) bool {
		p, _, _ := unstructured.NestedString(u.Object, "status", "lastRun", "phase")
		return p == phase
	}
}

// TestStates brings each kind into each state a user meets, and checks what kstatus (status.Compute) and
// Argo CD (the kind's health.lua) say of the object as the API server has it. With -update it writes the
// objects to the customizations' testdata, which TestHealthScripts, TestActionScripts and TestFluxHealth
// read.
func TestStates(t *testing.T) {
	g := testenv.NewWithT(t)
	w := newWorld(t)
	w.accountWithKey(t, w.account, accessKeyID)
	w.accountWithKey(t, w.ns+"-badkey", "AKIDNOBODYKNOWS00001")
	w.apply(t, pipelines)

	// A pipeline with a cycle gets in only without the webhook, which refuses it at apply time.
	var broken v1alpha1.Pipeline
	g.Expect(yaml.UnmarshalStrict([]byte(`
metadata: {name: broken}
spec:
  application: shop
  stages:
  - {name: a, dependsOn: [b], wait: {duration: 0s}}
  - {name: b, dependsOn: [a], wait: {duration: 0s}}
`), &broken)).To(Succeed())
	broken.Namespace = w.ns
	w.create(t, testenv.WithoutAdmission(&broken))

	w.run(t, "awaiting-judgment", "gate", nil)
	w.run(t, "rejected", "gate", map[string]v1alpha1.Judgment{"go-no-go": {Decision: v1alpha1.DecisionStop, Comment: "error budget spent"}})
	w.run(t, "running", "soak", nil)
	w.run(t, "held-1", "held", nil)
	w.run(t, "succeeded", "quick", nil)

	w.create(t, w.serverGroup("shop-main-v000", w.account, 2))
	// A hand-made Auto Scaling group of the same name as a ServerGroup: never touched.
	if _, err := w.handMade("shop-main-v007"); err != nil {
		t.Fatal(err)
	}
	w.create(t, w.serverGroup("shop-main-v007", w.account, 1))
	w.create(t, testenv.WithoutAdmission(w.serverGroup("shop-main-v008", "no-such-account", 1)))

	steps := []struct {
		before func()
		states []state
	}{{
		states: []state{
			// First: it lasts only until the instances are healthy.
			{kind: "ServerGroup", name: "shop-main-v000", file: "rolling_out.yaml",
				reached: all(conditionIs("Healthy", "False"), conditionIs("Reconciling", "True")), wantStatus: status.InProgressStatus, wantHealth: "Progressing"},
			{kind: "Execution", name: "awaiting-judgment", file: "awaiting_judgment.yaml",
				reached: all(phase("AwaitingJudgment"), conditionIs("AwaitingJudgment", "True")), wantStatus: status.InProgressStatus, wantHealth: "Suspended"},
			{kind: "Execution", name: "running", file: "running.yaml",
				reached: all(phase("Running"), conditionIs("AwaitingJudgment", "False")), wantStatus: status.InProgressStatus, wantHealth: "Progressing"},
			{kind: "Execution", name: "succeeded", file: "succeeded.yaml",
				reached: all(phase("Succeeded")), wantStatus: status.CurrentStatus, wantHealth: "Healthy"},
			{kind: "Execution", name: "rejected", file: "failed.yaml",
				reached: all(phase("Failed")), wantStatus: status.FailedStatus, wantHealth: "Degraded"},
			{kind: "ServerGroup", name: "shop-main-v007", file: "not_owned.yaml",
				reached: all(conditionIs("Ready", "False", v1alpha1.ReasonNotOwned)), wantStatus: status.FailedStatus, wantHealth: "Degraded"},
			{kind: "ServerGroup", name: "shop-main-v008", file: "account_not_found.yaml",
				reached: all(conditionIs("Ready", "False", v1alpha1.ReasonAccountNotFound)), wantStatus: status.FailedStatus, wantHealth: "Degraded"},
			{kind: "CloudAccount", name: w.account, clusterScoped: true, file: "ready.yaml",
				reached: all(conditionIs("Ready", "True")), wantStatus: status.CurrentStatus, wantHealth: "Healthy"},
			{kind: "CloudAccount", name: w.ns + "-badkey", clusterScoped: true, file: "bad_credentials.yaml",
				reached: all(conditionIs("Ready", "False"), conditionIs("Stalled", "True")), wantStatus: status.FailedStatus, wantHealth: "Degraded"},
			{kind: "Pipeline", name: "idle", file: "no_runs.yaml",
				reached: all(conditionIs("Ready", "True")), wantStatus: status.CurrentStatus, wantHealth: "Healthy"},
			{kind: "Pipeline", name: "quick", file: "last_run_succeeded.yaml",
				reached: all(conditionIs("Ready", "True"), lastRun("Succeeded")), wantStatus: status.CurrentStatus, wantHealth: "Healthy"},
			{kind: "Pipeline", name: "soak", file: "last_run_running.yaml",
				reached: all(conditionIs("Ready", "True"), lastRun("Running")), wantStatus: status.CurrentStatus, wantHealth: "Progressing"},
			{kind: "Pipeline", name: "held", file: "last_run_awaiting_judgment.yaml",
				reached: all(conditionIs("Ready", "True"), lastRun("AwaitingJudgment")), wantStatus: status.CurrentStatus, wantHealth: "Suspended"},
			{kind: "Pipeline", name: "broken", file: "invalid.yaml",
				reached: all(conditionIs("Ready", "False", v1alpha1.ReasonInvalid)), wantStatus: status.FailedStatus, wantHealth: "Degraded"},
		},
	}, {
		before: func() { w.run(t, "queued", "soak", nil) },
		states: []state{
			{kind: "Execution", name: "queued", file: "queued.yaml",
				reached: all(phase("Queued")), wantStatus: status.InProgressStatus, wantHealth: "Progressing"},
			{kind: "ServerGroup", name: "shop-main-v000", file: "healthy.yaml",
				reached: all(conditionIs("Ready", "True"), conditionIs("Healthy", "True")), wantStatus: status.CurrentStatus, wantHealth: "Healthy"},
		},
	}, {
		before: func() {
			g.Expect(env.Client.Patch(context.Background(), &v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "running"}},
				client.RawPatch(types.MergePatchType, []byte(`{"spec":{"cancel":true}}`)))).To(Succeed())
		},
		states: []state{
			{kind: "Execution", name: "running", file: "canceled.yaml",
				reached: all(phase("Canceled")), wantStatus: status.FailedStatus, wantHealth: "Degraded"},
			{kind: "Pipeline", name: "gate", file: "last_run_failed.yaml",
				reached: all(conditionIs("Ready", "True"), lastRun("Failed")), wantStatus: status.CurrentStatus, wantHealth: "Degraded"},
		},
	}}

	var table []string
	for _, step := range steps {
		if step.before != nil {
			step.before()
		}
		for _, s := range step.states {
			ns := w.ns
			if s.clusterScoped {
				ns = ""
			}
			var u *unstructured.Unstructured
			g.Eventually(func(g Gomega) {
				u = get(g, s.kind, ns, s.name)
				g.Expect(s.reached(u)).To(BeTrue(), "%s %s never reached %s; status: %v", s.kind, s.name, s.file, u.Object["status"])
			}).Should(Succeed())
			res, err := status.Compute(u)
			g.Expect(err).NotTo(HaveOccurred())
			hs, err := health(u.Object, readScript(t, filepath.Join(customizations, v1alpha1.GroupVersion.Group, s.kind, "health.lua")))
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(res.Status).To(Equal(s.wantStatus), "kstatus of %s %s (%s): %s", s.kind, s.name, s.file, res.Message)
			g.Expect(hs.Status).To(Equal(s.wantHealth), "Argo CD health of %s %s (%s): %s", s.kind, s.name, s.file, hs.Message)
			table = append(table, fmt.Sprintf("| %s | %s | %s | %s (%s) |", s.kind, strings.TrimSuffix(s.file, ".yaml"), res.Status, hs.Status, hs.Message))
			if *update {
				w.capture(t, u, filepath.Join(customizations, v1alpha1.GroupVersion.Group, s.kind, "testdata", s.file))
			}
		}
	}
	if *update {
		writeActionOutputs(t)
	}
	sort.Strings(table)
	t.Logf("kind | state | kstatus | Argo CD health\n%s", strings.Join(table, "\n"))
}

// capture writes u as testdata: without what the API server makes up each time (uid, resourceVersion,
// managedFields) and with the run's namespace, account and simulator URL replaced by fixed ones.
func (w *world) capture(t *testing.T, u *unstructured.Unstructured, path string) {
	t.Helper()
	u = u.DeepCopy()
	unstructured.RemoveNestedField(u.Object, "metadata", "uid")
	unstructured.RemoveNestedField(u.Object, "metadata", "resourceVersion")
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	b, err := yaml.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), w.url, capturedEndpoint)
	s = strings.ReplaceAll(s, w.ns, capturedNamespace)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeActionOutputs writes what each action of action_test.yaml must make of the captured objects,
// computed here in Go from the API's types, apart from the Lua scripts it checks.
func writeActionOutputs(t *testing.T) {
	t.Helper()
	dir := filepath.Join(customizations, v1alpha1.GroupVersion.Group, "Execution")
	outputs := map[string]func(spec map[string]any){
		"approved.yaml": func(spec map[string]any) {
			spec["judgments"] = map[string]any{"go-no-go": map[string]any{"decision": "Continue", "input": "ship", "comment": "canary looks good"}}
		},
		"rejected.yaml": func(spec map[string]any) {
			spec["judgments"] = map[string]any{"go-no-go": map[string]any{"decision": "Stop", "comment": "error rate up"}}
		},
		"cancel_requested.yaml": func(spec map[string]any) { spec["cancel"] = true },
	}
	for file, change := range outputs {
		input := "awaiting_judgment.yaml"
		if file == "cancel_requested.yaml" {
			input = "running.yaml"
		}
		obj := readObject(t, filepath.Join(dir, "testdata", input))
		change(obj["spec"].(map[string]any))
		b, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "actions", "testdata"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "actions", "testdata", file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
