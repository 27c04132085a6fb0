package controllers_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestEditorCannotCancelByDeleting: deleting a running run cancels it (and rolls a red/black back), so it
// is an approver's act like cancel: true, not an editor's.
func TestEditorCannotCancelByDeleting(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := approvals(t)
	ctx := context.Background()
	ex := &v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kept"}, Spec: v1alpha1.ExecutionSpec{Pipeline: "gated"}}
	g.Expect(as(t, dave).Create(ctx, ex)).To(Succeed())
	err := as(t, dave).Delete(ctx, ex)
	g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "an editor deleted a run: %v", err)
	g.Expect(as(t, bob).Delete(ctx, ex)).To(Succeed(), "an approver may delete a run")
}

// TestForgedChildRunIsNotAdopted: someone who may create runs writes the child a pipeline stage is about to
// start (its name is known, its parent's UID readable) with an owner reference to the parent, parameters and
// a judgment of their choosing. The stage must not take it for its own and report its outcome.
func TestForgedChildRunIsNotAdopted(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := approvals(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: parent}
spec:
  application: shop
  stages:
  - {name: hold, manualJudgment: {instructions: "go"}}
  - {name: release, dependsOn: [hold], pipeline: {name: gated}}
`)
	ctx := context.Background()
	run(t, ns, "p", "parent", nil)
	parent := waitStagePhase(g, ns, "p", "hold", v1alpha1.StageWaitingForJudgment)
	forged := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "p-release",
			Annotations: map[string]string{v1alpha1.AnnotationTrigger: v1alpha1.TriggerPipeline,
				v1alpha1.AnnotationParentExecution: "p", v1alpha1.AnnotationParentStage: "release"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Execution",
				Name: "p", UID: parent.UID, Controller: ptr.To(true)}}},
		Spec: v1alpha1.ExecutionSpec{Pipeline: "gated"},
	}
	g.Expect(as(t, dave).Create(ctx, forged)).To(Succeed())
	g.Expect(judge(env.Client, ns, "p", `{"spec":{"judgments":{"hold":{"decision":"Continue"}}}}`)).To(Succeed())
	ex := waitStagePhase(g, ns, "p", "release", v1alpha1.StageFailed)
	g.Expect(stageOf(g, ex, "release").Message).To(Equal("execution p-release already exists and was not started by this stage"))
}

// TestDeletedRunLetsGoWithWebhooksDown: with the operator gone (no manager, webhooks unreachable), a
// deleted run's finalizer can still be removed by hand, so neither the run nor its namespace nor the CRD
// waits on webhooks forever. Runs not being deleted stay behind the webhooks (TestWebhookDownRefusesJudgments).
func TestDeletedRunLetsGoWithWebhooksDown(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	ex := &v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orphaned",
		Finalizers: []string{v1alpha1.ExecutionFinalizer}}, Spec: v1alpha1.ExecutionSpec{Pipeline: "gone"}}
	g.Expect(env.Client.Create(ctx, ex)).To(Succeed())
	webhooksDown(t, g, ns, "orphaned")

	g.Expect(env.Client.Delete(ctx, ex)).To(Succeed())
	g.Expect(judge(env.Client, ns, "orphaned", `{"metadata":{"finalizers":null}}`)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(ex), &v1alpha1.Execution{}))
	}).Should(BeTrue())
}

// TestCreateClaimingDeletionIsStamped: a create that sends a deletionTimestamp of its own (the API server
// clears it only after mutating admission) still passes through the stamps: it cannot skip them the way an
// update of a run really being deleted does.
func TestCreateClaimingDeletionIsStamped(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := approvals(t)
	ctx := context.Background()
	now := metav1.Now()
	ex := &v1alpha1.Execution{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sneaky", DeletionTimestamp: &now,
		Annotations: map[string]string{v1alpha1.AnnotationCreatedBy: "mallory", v1alpha1.AnnotationTrigger: v1alpha1.TriggerPipeline,
			v1alpha1.AnnotationParentExecution: "p", v1alpha1.AnnotationParentStage: "release"}},
		Spec: v1alpha1.ExecutionSpec{Pipeline: "gated"}}
	g.Expect(as(t, dave).Create(ctx, ex)).To(Succeed())
	got := execution(g, ns, "sneaky")
	g.Expect(got.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationCreatedBy, dave))
	for _, key := range []string{v1alpha1.AnnotationTrigger, v1alpha1.AnnotationParentExecution, v1alpha1.AnnotationParentStage} {
		g.Expect(got.Annotations).NotTo(HaveKey(key))
	}
}
