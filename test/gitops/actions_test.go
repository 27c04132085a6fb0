package gitops_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// runAction runs an Execution action of config/argocd on the live object and sends what it changed as
// Argo CD does for an action that returns the object: a JSON merge patch from the live object to the
// action's, by the API server's ordinary (non-status) endpoint.
func runAction(t *testing.T, g *WithT, live *unstructured.Unstructured, action string, params map[string]string) {
	t.Helper()
	script := readScript(t, filepath.Join(customizations, v1alpha1.GroupVersion.Group, "Execution", "actions", action, "action.lua"))
	// The object as Argo CD has it: decoded from JSON.
	b, err := json.Marshal(live.Object)
	g.Expect(err).NotTo(HaveOccurred())
	var obj map[string]any
	g.Expect(json.Unmarshal(b, &obj)).To(Succeed())
	next, err := act(obj, script, params)
	g.Expect(err).NotTo(HaveOccurred())
	after, err := json.Marshal(next)
	g.Expect(err).NotTo(HaveOccurred())
	patch, err := jsonpatch.CreateMergePatch(b, after)
	g.Expect(err).NotTo(HaveOccurred())
	t.Logf("%s sends %s", action, patch)
	g.Expect(env.Client.Patch(context.Background(), live, client.RawPatch(types.MergePatchType, patch))).To(Succeed())
}

// TestActionsReachTheOperator applies approve, reject and cancel through their Lua scripts to runs of a
// real API server, with the admission webhook on: the approved run goes on and succeeds with the
// judgment recorded (judgedBy stamped from the request), the rejected one fails, the canceled one stops.
func TestActionsReachTheOperator(t *testing.T) {
	g := testenv.NewWithT(t)
	w := newWorld(t)
	w.apply(t, pipelines)
	for _, name := range []string{"approve-me", "reject-me"} {
		w.run(t, name, "gate", nil)
	}
	w.run(t, "cancel-me", "soak", nil)

	waiting := func(name string) *unstructured.Unstructured {
		var u *unstructured.Unstructured
		g.Eventually(func(g Gomega) {
			u = get(g, "Execution", w.ns, name)
			g.Expect(conditionIs("AwaitingJudgment", "True")(u)).To(BeTrue())
		}).Should(Succeed())
		return u
	}
	runAction(t, g, waiting("approve-me"), "approve", map[string]string{"input": "ship", "comment": "canary looks good"})
	runAction(t, g, waiting("reject-me"), "reject", map[string]string{"comment": "error rate up"})
	var running *unstructured.Unstructured
	g.Eventually(func(g Gomega) {
		running = get(g, "Execution", w.ns, "cancel-me")
		g.Expect(phase("Running")(running)).To(BeTrue())
	}).Should(Succeed())
	runAction(t, g, running, "cancel", nil)

	ex := func(g Gomega, name string) *v1alpha1.Execution {
		var e v1alpha1.Execution
		g.Expect(env.Client.Get(context.Background(), client.ObjectKey{Namespace: w.ns, Name: name}, &e)).To(Succeed())
		return &e
	}
	g.Eventually(func(g Gomega) {
		e := ex(g, "approve-me")
		g.Expect(e.Status.Phase).To(Equal(v1alpha1.ExecutionSucceeded))
		g.Expect(e.Spec.Judgments["go-no-go"].JudgedBy).NotTo(BeEmpty(), "stamped by the webhook from the request")
		judged := meta.FindStatusCondition(e.Status.Stages[0].Conditions, v1alpha1.ConditionJudged)
		g.Expect(judged).NotTo(BeNil())
		g.Expect(judged.Reason).To(Equal("Continue"))
		g.Expect(judged.Message).To(And(ContainSubstring("ship"), ContainSubstring("canary looks good")))
		g.Expect(e.Status.Stages[1].Phase).To(Equal(v1alpha1.StageSucceeded), "the run went on past the judgment")
	}).Should(Succeed())
	g.Eventually(func(g Gomega) {
		e := ex(g, "reject-me")
		g.Expect(e.Status.Phase).To(Equal(v1alpha1.ExecutionFailed))
		g.Expect(e.Status.Stages[1].Phase).To(Equal(v1alpha1.StageNotStarted))
	}).Should(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(ex(g, "cancel-me").Status.Phase).To(Equal(v1alpha1.ExecutionCanceled))
	}).Should(Succeed())

	// Once judged, the action refuses to judge again, as the API would.
	u := get(g, "Execution", w.ns, "approve-me")
	_, err := act(u.Object, readScript(t, filepath.Join(customizations, v1alpha1.GroupVersion.Group, "Execution", "actions", "approve", "action.lua")), nil)
	g.Expect(err).To(MatchError("no manual judgment waits on this run"))
}
