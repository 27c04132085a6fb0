package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/admission"
	"github.com/gennaker/gennaker/test/testenv"
)

// The people of these tests. alice is a listed approver, carol approves through her group, bob is
// granted gennaker-approver but is no approver of the gated stage, dave is a namespace editor.
const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
	carol = "carol@example.com"
	dave  = "dave@example.com"
	// releaseManagers is the group the gated stage lists.
	releaseManagers = "release-managers"
)

// approvalPipeline has a stage only alice and the release managers may judge, one anyone who may patch
// the run may judge, and a wait.
const approvalPipeline = `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: gated}
spec:
  application: shop
  limitConcurrent: false
  stages:
  - name: go-no-go
    manualJudgment:
      instructions: "Verify the canary scores"
      inputs: [ship, hold]
      approvers: {users: ["alice@example.com"], groups: [release-managers]}
  - name: soak
    dependsOn: [go-no-go]
    wait: {duration: 1h}
  - name: open
    dependsOn: [soak]
    manualJudgment: {instructions: "Anyone"}
`

// approvals gives a test a namespace with a running manager, the gated pipeline, and the people's roles
// bound in it: alice, bob and the release managers as gennaker-approver, everyone as gennaker-editor
// (starting runs), dave as gennaker-editor only.
func approvals(t *testing.T) string {
	t.Helper()
	installRoles(t)
	ns := setup(t)
	apply(t, ns, approvalPipeline)
	bind(t, ns, "gennaker-approver", rbacv1.Subject{Kind: rbacv1.UserKind, Name: alice},
		rbacv1.Subject{Kind: rbacv1.UserKind, Name: bob}, rbacv1.Subject{Kind: rbacv1.GroupKind, Name: releaseManagers})
	bind(t, ns, "gennaker-editor", rbacv1.Subject{Kind: rbacv1.UserKind, Name: alice},
		rbacv1.Subject{Kind: rbacv1.UserKind, Name: bob}, rbacv1.Subject{Kind: rbacv1.UserKind, Name: dave})
	return ns
}

var rolesOnce sync.Once

// installRoles creates the people's roles of config/rbac, named as config/default names them.
func installRoles(t *testing.T) {
	t.Helper()
	rolesOnce.Do(func() {
		decode := serializer.NewCodecFactory(testenv.Scheme).UniversalDeserializer().Decode
		for _, file := range []string{"viewer_role.yaml", "editor_role.yaml", "approver_role.yaml"} {
			data, err := os.ReadFile(filepath.Join(env.Root, "config", "rbac", file))
			if err != nil {
				t.Fatal(err)
			}
			obj, _, err := decode(data, nil, nil)
			if err != nil {
				t.Fatalf("decoding %s: %v", file, err)
			}
			role := obj.(*rbacv1.ClusterRole)
			role.Name = "gennaker-" + role.Name
			if err := env.Client.Create(context.Background(), role); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatalf("creating %s: %v", role.Name, err)
			}
		}
	})
}

// bind grants a ClusterRole to subjects in namespace ns.
func bind(t *testing.T, ns, role string, subjects ...rbacv1.Subject) {
	t.Helper()
	for i := range subjects {
		subjects[i].APIGroup = rbacv1.GroupName
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: role},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}
	if err := env.Client.Create(context.Background(), rb); err != nil {
		t.Fatalf("binding %s: %v", role, err)
	}
}

// as is a client that reaches the API server as user, a member of groups, as kubectl --as does.
func as(t *testing.T, user string, groups ...string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	c, err := client.New(cfg, client.Options{Scheme: testenv.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// judge patches a judgment into the run as c's user would with kubectl patch.
func judge(c client.Client, ns, name, body string) error {
	ex := &v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	return c.Patch(context.Background(), ex, client.RawPatch(types.MergePatchType, []byte(body)))
}

// startGated starts a run of the gated pipeline and waits until go-no-go waits for a judgment.
func startGated(t *testing.T, g *WithT, ns, name string) {
	t.Helper()
	run(t, ns, name, "gated", nil)
	waitStagePhase(g, ns, name, "go-no-go", v1alpha1.StageWaitingForJudgment)
}

// TestApproverJudgment: an approver's decision is stamped with their name, groups and the time, over
// what the patch claimed, and the name shows in the stage's Judged condition, its outputs, the Event and
// kubectl describe. A later stage with no approvers is judged by whoever may patch the run.
func TestApproverJudgment(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := approvals(t)
	startGated(t, g, ns, "ship")

	// A forged judgedBy, judgedGroups and judgedAt are overwritten by what the API server says.
	g.Expect(judge(as(t, alice), ns, "ship", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"ship","comment":"scores fine",
		"judgedBy":"mallory","judgedGroups":["system:masters"],"judgedAt":"2000-01-01T00:00:00Z"}}}}`)).To(Succeed())
	ex := waitStagePhase(g, ns, "ship", "soak", v1alpha1.StageRunning)
	j := ex.Spec.Judgments["go-no-go"]
	g.Expect(j.JudgedBy).To(Equal(alice))
	g.Expect(j.JudgedGroups).To(ContainElement("system:authenticated"))
	g.Expect(j.JudgedGroups).NotTo(ContainElement("system:masters"))
	g.Expect(j.JudgedAt).NotTo(BeNil())
	g.Expect(j.JudgedAt.Year()).NotTo(Equal(2000))

	gng := stageOf(g, ex, "go-no-go")
	g.Expect(gng.Phase).To(Equal(v1alpha1.StageSucceeded))
	g.Expect(gng.Conditions).To(ContainElement(And(
		HaveField("Type", v1alpha1.ConditionJudged),
		HaveField("Reason", "Continue"),
		HaveField("Message", And(HavePrefix("Continue by "+alice+" at "+j.JudgedAt.UTC().Format("2006-01-02T15:04:05Z")),
			ContainSubstring(`input "ship"`), ContainSubstring(`comment "scores fine"`))),
	)))
	g.Expect(string(gng.Outputs["judgedBy"].Raw)).To(Equal(`"` + alice + `"`))
	g.Eventually(func(g Gomega) {
		g.Expect(events(g, ns, "ship")).To(ContainElement(And(HaveField("Reason", "StageSucceeded"),
			HaveField("Note", ContainSubstring("continued by judgment: Continue by "+alice)))))
	}).Should(Succeed())
	out, err := env.Kubectl("-n", ns, "describe", "execution", "ship")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(ContainSubstring("Continue by " + alice))
	g.Expect(out).To(ContainSubstring("Judged By:"))

	// Who started the run is the API server's user of the create, here the tests' administrator.
	g.Expect(ex.Status.Trigger).NotTo(BeNil())
	g.Expect(ex.Status.Trigger.Type).To(Equal(v1alpha1.TriggerManual))
	g.Expect(ex.Status.Trigger.User).NotTo(BeEmpty())
	g.Expect(ex.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationCreatedBy, ex.Status.Trigger.User))

	// The soak is skipped and the stage without approvers is judged by bob, who may patch the run. He
	// is in more groups than a judgment keeps, which does not refuse his judgment.
	var many []string
	for i := range 70 {
		many = append(many, fmt.Sprintf("team-%02d", i))
	}
	g.Expect(judge(as(t, bob, many...), ns, "ship", `{"spec":{"skipWaits":["soak"],"judgments":{"open":{"decision":"Continue"}}}}`)).To(Succeed())
	ex = waitPhase(g, ns, "ship", v1alpha1.ExecutionSucceeded)
	g.Expect(stageOf(g, ex, "open").Conditions).To(ContainElement(HaveField("Message", HavePrefix("Continue by "+bob))))
	g.Expect(ex.Spec.Judgments["open"].JudgedGroups).To(HaveLen(64))
}

// TestNonApproverRefused: someone the stage's approvers do not list is refused, with a message naming
// the stage and who may judge it; a member of a listed group may.
func TestNonApproverRefused(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := approvals(t)
	startGated(t, g, ns, "gate")

	err := judge(as(t, bob), ns, "gate", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"ship"}}}}`)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("spec.judgments[go-no-go]: Forbidden: " + bob +
		" may not judge stage go-no-go: only users " + alice + " or members of groups " + releaseManagers + " may"))
	out, kerr := env.Kubectl("-n", ns, "--as", bob, "patch", "execution", "gate", "--type", "merge",
		"-p", `{"spec":{"judgments":{"go-no-go":{"decision":"Stop"}}}}`)
	g.Expect(kerr).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring(bob + " may not judge stage go-no-go"))
	g.Expect(execution(g, ns, "gate").Spec.Judgments).To(BeEmpty())

	g.Expect(judge(as(t, carol, releaseManagers), ns, "gate", `{"spec":{"judgments":{"go-no-go":{"decision":"Stop","comment":"error rate"}}}}`)).To(Succeed())
	ex := waitPhase(g, ns, "gate", v1alpha1.ExecutionFailed)
	j := ex.Spec.Judgments["go-no-go"]
	g.Expect(j.JudgedBy).To(Equal(carol))
	g.Expect(j.JudgedGroups).To(ContainElement(releaseManagers))
	g.Expect(stageOf(g, ex, "go-no-go").Conditions).To(ContainElement(HaveField("Message", HavePrefix("Stop by "+carol))))
}

// TestJudgmentRefusals: a recorded decision cannot be flipped, even by its approver; an input the stage
// does not offer, a stage that does not exist and a stage that is no manual judgment are refused; the run's
// pipeline and parameters cannot change.
func TestJudgmentRefusals(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := approvals(t)
	startGated(t, g, ns, "final")
	a := as(t, alice)

	for body, want := range map[string]string{
		`{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"maybe"}}}}`: `spec.judgments[go-no-go].input: Unsupported value: "maybe": supported values: "ship", "hold"`,
		`{"spec":{"judgments":{"nope":{"decision":"Continue"}}}}`:                     `spec.judgments[nope]: Invalid value: "nope": pipeline gated has no stage nope`,
		`{"spec":{"judgments":{"soak":{"decision":"Continue"}}}}`:                     `spec.judgments[soak]: Invalid value: "soak": stage soak is a wait stage, not a manualJudgment`,
	} {
		err := judge(a, ns, "final", body)
		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: %v", body, err)
		g.Expect(err.Error()).To(ContainSubstring(want))
	}

	g.Expect(judge(a, ns, "final", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"hold"}}}}`)).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(stageOf(g, execution(g, ns, "final"), "go-no-go").Phase).To(Equal(v1alpha1.StageSucceeded))
	}).Should(Succeed())
	// Flipped by the approver herself, with kubectl: the schema's rule and the webhook both refuse.
	out, err := env.Kubectl("-n", ns, "--as", alice, "patch", "execution", "final", "--type", "merge",
		"-p", `{"spec":{"judgments":{"go-no-go":{"decision":"Stop","input":"hold"}}}}`)
	g.Expect(err).To(HaveOccurred())
	g.Expect(out).To(ContainSubstring("a judgment, once made, cannot be changed"))
	// The same decision sent again without its stamps (an apply of the whole spec) is no change.
	g.Expect(judge(a, ns, "final", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"hold","judgedBy":null,"judgedAt":null}}}}`)).To(Succeed())
	g.Expect(execution(g, ns, "final").Spec.Judgments["go-no-go"].JudgedBy).To(Equal(alice))

	err = judge(env.Client, ns, "final", `{"spec":{"parameters":{"image":"ami-1"}}}`)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring("spec: Forbidden: only judgments, skipWaits and cancel may change after an Execution is created"))
}

// TestCreatePreApproved: a run created with a judgment passes the same approver check, so someone who may
// start runs cannot start one already approved; an approver may. Forged who-annotations are replaced.
func TestCreatePreApproved(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := approvals(t)
	ctx := context.Background()
	pre := func(name string) *v1alpha1.Execution {
		return &v1alpha1.Execution{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{
				v1alpha1.AnnotationCreatedBy: "mallory", v1alpha1.AnnotationTrigger: v1alpha1.TriggerCron,
			}},
			Spec: v1alpha1.ExecutionSpec{Pipeline: "gated", Judgments: map[string]v1alpha1.Judgment{
				"go-no-go": {Decision: v1alpha1.DecisionContinue, Input: "ship", JudgedBy: "mallory"},
			}},
		}
	}
	err := as(t, bob).Create(ctx, pre("by-bob"))
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	g.Expect(err.Error()).To(ContainSubstring(bob + " may not judge stage go-no-go"))

	g.Expect(as(t, alice).Create(ctx, pre("by-alice"))).To(Succeed())
	ex := waitStagePhase(g, ns, "by-alice", "soak", v1alpha1.StageRunning)
	g.Expect(ex.Spec.Judgments["go-no-go"].JudgedBy).To(Equal(alice))
	g.Expect(ex.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationCreatedBy, alice))
	g.Expect(ex.Annotations).NotTo(HaveKey(v1alpha1.AnnotationTrigger), "only the operator says a cron trigger started a run")
	g.Expect(ex.Status.Trigger).To(Equal(&v1alpha1.ExecutionTrigger{Type: v1alpha1.TriggerManual, User: alice}))

	// The annotations cannot be rewritten later either.
	g.Expect(judge(as(t, alice), ns, "by-alice", `{"metadata":{"annotations":{"delivery.gennaker.io/created-by":"mallory"}}}`)).To(Succeed())
	g.Expect(execution(g, ns, "by-alice").Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationCreatedBy, alice))
}

// TestCanceledBy: who set spec.cancel is recorded from the request, not the body.
func TestCanceledBy(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := approvals(t)
	startGated(t, g, ns, "stop-it")
	g.Expect(judge(as(t, bob), ns, "stop-it", `{"metadata":{"annotations":{"delivery.gennaker.io/canceled-by":"mallory"}},"spec":{"cancel":true}}`)).To(Succeed())
	ex := waitPhase(g, ns, "stop-it", v1alpha1.ExecutionCanceled)
	g.Expect(ex.Status.CanceledBy).To(Equal(bob))
	out, err := env.Kubectl("-n", ns, "describe", "execution", "stop-it")
	g.Expect(err).NotTo(HaveOccurred(), out)
	g.Expect(out).To(MatchRegexp(`Canceled By:\s+` + bob))
}

// TestEditorCannotJudge: gennaker-editor, the role aggregated into edit, starts runs but cannot patch
// them; judging takes gennaker-approver. (envtest runs no aggregation controller, so the role is bound
// itself; its aggregate-to-edit label is what puts it into edit in a cluster.)
func TestEditorCannotJudge(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := approvals(t)
	var editor rbacv1.ClusterRole
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: "gennaker-editor"}, &editor)).To(Succeed())
	g.Expect(editor.Labels).To(HaveKeyWithValue("rbac.authorization.k8s.io/aggregate-to-edit", "true"))
	var approver rbacv1.ClusterRole
	g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Name: "gennaker-approver"}, &approver)).To(Succeed())
	g.Expect(approver.Labels).NotTo(HaveKey(ContainSubstring("aggregate-to")))

	ex := &v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "by-dave"}, Spec: v1alpha1.ExecutionSpec{Pipeline: "gated"}}
	g.Expect(as(t, dave).Create(context.Background(), ex)).To(Succeed())
	waitStagePhase(g, ns, "by-dave", "open", v1alpha1.StageNotStarted)
	g.Expect(execution(g, ns, "by-dave").Status.Trigger.User).To(Equal(dave))
	err := judge(as(t, dave), ns, "by-dave", `{"spec":{"judgments":{"open":{"decision":"Continue"}}}}`)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%v", err)
}

// TestWebhookDownRefusesJudgments: with the Execution webhooks unreachable, a judgment is refused
// (failurePolicy Fail), never let through unchecked. The shipped configurations are pointed at a port no
// one listens on, for this test's namespace only.
func TestWebhookDownRefusesJudgments(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := approvals(t)
	startGated(t, g, ns, "down")

	webhooksDown(t, g, ns, "down")
	err := judge(as(t, alice), ns, "down", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"ship"}}}}`)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("failed calling webhook"))
	g.Expect(execution(g, ns, "down").Spec.Judgments).To(BeEmpty())
}

// webhooksDown points the shipped webhook configurations at a port no one listens on, for namespace ns
// only, and waits until the API server uses them: an update of run (in ns) no longer gets through.
func webhooksDown(t *testing.T, g *WithT, ns, run string) {
	t.Helper()
	ctx := context.Background()
	m, v := admission.Configurations("https://127.0.0.1:1", []byte("no CA"))
	only := &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
	m.Name, v.Name = "down-"+ns, "down-"+ns
	for i := range m.Webhooks {
		m.Webhooks[i].NamespaceSelector = only
	}
	for i := range v.Webhooks {
		v.Webhooks[i].NamespaceSelector = only
	}
	g.Expect(env.Client.Create(ctx, m)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, m) })
	g.Expect(env.Client.Create(ctx, v)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, v) })

	// The API server picks up new configurations asynchronously: a change of no consequence shows when.
	g.Eventually(func(g Gomega) {
		err := judge(env.Client, ns, run, `{"metadata":{"labels":{"probe":"x"}}}`)
		g.Expect(err).To(HaveOccurred())
		g.Expect(err.Error()).To(ContainSubstring("failed calling webhook"))
	}).Should(Succeed())
}

// TestChildRunTrigger: a run the operator starts for a pipeline stage says so in status.trigger, with its
// parent, and names no creator; the parent names the person who started it.
func TestChildRunTrigger(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: child}
spec:
  application: shop
  stages: [{name: pause, wait: {duration: 0s}}]
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: parent}
spec:
  application: shop
  stages: [{name: deploy, pipeline: {name: child}}]
`)
	run(t, ns, "p", "parent", nil)
	ex := waitPhase(g, ns, "p", v1alpha1.ExecutionSucceeded)
	g.Expect(ex.Status.Trigger.Type).To(Equal(v1alpha1.TriggerManual))
	g.Expect(ex.Status.Trigger.User).NotTo(BeEmpty())
	child := waitPhase(g, ns, "p-deploy", v1alpha1.ExecutionSucceeded)
	g.Expect(child.Status.Trigger).To(Equal(&v1alpha1.ExecutionTrigger{Type: v1alpha1.TriggerPipeline, ParentExecution: "p", ParentStage: "deploy"}))
	g.Expect(child.Annotations).NotTo(HaveKey(v1alpha1.AnnotationCreatedBy))
}

// TestJudgmentBeforeTimeoutWins: a decision that reached the API server before the stage's timeout wins
// over the timeout, even when the controller only sees it after the deadline (it was down meanwhile): the
// time that counts is the stamped judgedAt, not the reconcile's. The timeout is long enough that stopping
// the manager and judging fit well within it on a loaded machine (judgedAt rounds up to the second, the
// stage's start time down), and the test then waits only for the deadline to pass.
func TestJudgmentBeforeTimeoutWins(t *testing.T) {
	const timeout = 10 * time.Second
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	apply(t, ns, fmt.Sprintf(`
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: timed}
spec:
  application: shop
  stages: [{name: gate, timeout: %s, manualJudgment: {instructions: "quick"}}]
`, timeout))
	stop := env.StartManager(t)
	run(t, ns, "late", "timed", nil)
	ex := waitStagePhase(g, ns, "late", "gate", v1alpha1.StageWaitingForJudgment)
	deadline := stageOf(g, ex, "gate").StartTime.Add(timeout)
	stop()

	g.Expect(judge(env.Client, ns, "late", `{"spec":{"judgments":{"gate":{"decision":"Continue"}}}}`)).To(Succeed())
	judgedAt := execution(g, ns, "late").Spec.Judgments["gate"].JudgedAt.Time
	g.Expect(judgedAt.Before(deadline)).To(BeTrue(), "judged at %s, after the deadline %s: the machine took over %s to stop the manager and judge", judgedAt, deadline, timeout)
	// The stage's deadline passes while no controller runs.
	g.Eventually(func() bool { return time.Now().After(deadline) }).WithTimeout(timeout + testenv.EventuallyTimeout).Should(BeTrue())

	env.StartManager(t)
	ex = waitPhase(g, ns, "late", v1alpha1.ExecutionSucceeded)
	g.Expect(stageOf(g, ex, "gate").Phase).To(Equal(v1alpha1.StageSucceeded))
}

// TestEditorCannotCreateApproved: judgments, skipWaits and cancel on a new run take the permission to
// patch runs, as they would after creation: an editor cannot start a run already approved (even of a
// stage that lists no approvers) or with its waits skipped; an approver may.
func TestEditorCannotCreateApproved(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := approvals(t)
	ctx := context.Background()
	pre := func(name string, spec v1alpha1.ExecutionSpec) *v1alpha1.Execution {
		spec.Pipeline = "gated"
		return &v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	}
	open := map[string]v1alpha1.Judgment{"open": {Decision: v1alpha1.DecisionContinue}}
	for name, tc := range map[string]struct {
		spec v1alpha1.ExecutionSpec
		what string
	}{
		"judged":  {spec: v1alpha1.ExecutionSpec{Judgments: open}, what: "judgments"},
		"skipped": {spec: v1alpha1.ExecutionSpec{SkipWaits: []string{"soak"}}, what: "skipWaits"},
		"both":    {spec: v1alpha1.ExecutionSpec{Judgments: open, SkipWaits: []string{"soak"}}, what: "judgments and skipWaits"},
		"cancel":  {spec: v1alpha1.ExecutionSpec{Cancel: true}, what: "cancel"},
	} {
		err := as(t, dave).Create(ctx, pre("dave-"+name, tc.spec))
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "%s: %v", name, err)
		g.Expect(err.Error()).To(ContainSubstring("creating a run with " + tc.what + " needs permission to patch executions in namespace " + ns + ": " + dave + " may not"))
	}
	g.Expect(as(t, bob).Create(ctx, pre("bob-skipped", v1alpha1.ExecutionSpec{Judgments: open, SkipWaits: []string{"soak"}}))).To(Succeed())
	g.Expect(execution(g, ns, "bob-skipped").Spec.Judgments["open"].JudgedBy).To(Equal(bob))
}

// TestApproversTightenedBeforeStart: a run created approved is checked again when it starts, against the
// spec it freezes: if the stage's approvers no longer list its judge, the run fails at once, naming the
// judge and the stage, rather than start with a judgment no approver made.
func TestApproversTightenedBeforeStart(t *testing.T) {
	g := testenv.NewWithT(t)
	installRoles(t)
	ns := env.Namespace(t) // no manager yet: the run stays unstarted while the pipeline changes
	apply(t, ns, approvalPipeline)
	bind(t, ns, "gennaker-approver", rbacv1.Subject{Kind: rbacv1.UserKind, Name: alice})
	bind(t, ns, "gennaker-editor", rbacv1.Subject{Kind: rbacv1.UserKind, Name: alice})
	ctx := context.Background()
	ex := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "early"},
		Spec: v1alpha1.ExecutionSpec{Pipeline: "gated", Judgments: map[string]v1alpha1.Judgment{
			"go-no-go": {Decision: v1alpha1.DecisionContinue, Input: "ship"},
		}},
	}
	g.Expect(as(t, alice).Create(ctx, ex)).To(Succeed())

	var pl v1alpha1.Pipeline
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gated"}, &pl)).To(Succeed())
	pl.Spec.Stages[0].ManualJudgment.Approvers = &v1alpha1.Approvers{Users: []string{carol}}
	g.Expect(env.Client.Update(ctx, &pl)).To(Succeed())

	env.StartManager(t)
	ex = waitPhase(g, ns, "early", v1alpha1.ExecutionFailed)
	g.Expect(condition(ex, v1alpha1.ConditionSucceeded).Message).To(Equal("the run's judgment does not hold against its pipeline as it starts: stage go-no-go was judged (Continue) by " +
		alice + ", who may not judge it: only users " + carol + " may"))
	g.Expect(ex.Status.StartTime).To(BeNil(), "no stage ran")
}

// TestValidatingWithoutMutating: should the stamping webhook be missing, the validating one alone refuses
// a judgment whose judgedBy is not the request's user or that has no judgedAt, and a run created with a
// created-by annotation of someone else, rather than let forged stamps in. Here a namespace the package's
// webhooks skip gets the validating configuration only.
func TestValidatingWithoutMutating(t *testing.T) {
	g := testenv.NewWithT(t)
	installRoles(t)
	ns := env.NamespaceWithoutAdmission(t)
	apply(t, ns, approvalPipeline)
	bind(t, ns, "gennaker-approver", rbacv1.Subject{Kind: rbacv1.UserKind, Name: alice})
	bind(t, ns, "gennaker-editor", rbacv1.Subject{Kind: rbacv1.UserKind, Name: alice})
	ctx := context.Background()
	var shipped admissionregistrationv1.ValidatingWebhookConfiguration
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: admission.ValidatingConfigurationName}, &shipped)).To(Succeed())
	only := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "validating-only-" + ns}}
	for _, w := range shipped.Webhooks {
		w.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
		w.ObjectSelector = nil
		only.Webhooks = append(only.Webhooks, w)
	}
	g.Expect(env.Client.Create(ctx, only)).To(Succeed())
	t.Cleanup(func() { _ = env.Client.Delete(ctx, only) })

	forged := func(name string) *v1alpha1.Execution {
		return &v1alpha1.Execution{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{v1alpha1.AnnotationCreatedBy: "mallory"}},
			Spec:       v1alpha1.ExecutionSpec{Pipeline: "gated"},
		}
	}
	// The API server picks up a new configuration asynchronously.
	g.Eventually(func(g Gomega) {
		err := as(t, alice).Create(ctx, forged("forged"))
		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		g.Expect(err.Error()).To(ContainSubstring(`metadata.annotations[delivery.gennaker.io/created-by]: Forbidden: must be the user who creates the run (` + alice + `)`))
	}).Should(Succeed())

	claims := forged("claims")
	claims.Annotations = map[string]string{v1alpha1.AnnotationCreatedBy: alice, v1alpha1.AnnotationTrigger: v1alpha1.TriggerPipeline,
		v1alpha1.AnnotationPipelineChain: "other", v1alpha1.AnnotationQueuePosition: "0"}
	err := as(t, alice).Create(ctx, claims)
	g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
	for _, key := range []string{v1alpha1.AnnotationTrigger, v1alpha1.AnnotationPipelineChain, v1alpha1.AnnotationQueuePosition} {
		g.Expect(err.Error()).To(ContainSubstring("metadata.annotations[" + key + "]: Forbidden: is the operator's to set"))
	}

	honest := forged("honest")
	honest.Annotations[v1alpha1.AnnotationCreatedBy] = alice
	g.Expect(as(t, alice).Create(ctx, honest)).To(Succeed())
	for _, body := range []string{
		`{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"ship","judgedBy":"carol@example.com","judgedAt":"2026-01-01T00:00:00Z"}}}}`,
		`{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"ship","judgedBy":"` + alice + `"}}}}`,
	} {
		err := judge(as(t, alice), ns, "honest", body)
		g.Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: %v", body, err)
		g.Expect(err.Error()).To(ContainSubstring("spec.judgments[go-no-go]: Forbidden: the judgment is not stamped with who made it"))
	}
	g.Expect(judge(as(t, alice), ns, "honest", `{"spec":{"judgments":{"go-no-go":{"decision":"Continue","input":"ship","judgedBy":"`+alice+`","judgedAt":"2026-01-01T00:00:00Z"}}}}`)).To(Succeed())
}
