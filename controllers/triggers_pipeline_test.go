package controllers_test

import (
	"context"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/trigger"
	"github.com/gennaker/gennaker/test/testenv"
)

// runsOfPipeline lists the Executions of a pipeline, as the API server has them.
func runsOfPipeline(g Gomega, ns, pipeline string) []v1alpha1.Execution {
	var list v1alpha1.ExecutionList
	g.Expect(env.Client.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
	var out []v1alpha1.Execution
	for _, ex := range list.Items {
		if ex.Spec.Pipeline == pipeline {
			out = append(out, ex)
		}
	}
	return out
}

// TestPipelineTriggerStartsOnce finishes a run of one pipeline and sees it start exactly one run of the
// pipeline that watches it, with the parent's artifact and outputs; a failed parent starts nothing, and a
// restarted manager does not start the child again.
func TestPipelineTriggerStartsOnce(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	stop := env.StartManager(t)
	ctx := context.Background()
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: build}
spec:
  application: shop
  stages:
  - name: approve
    manualJudgment: {inputs: [blue, green]}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: deploy}
spec:
  application: shop
  parameters:
  - {name: colour}
  triggers:
  - name: after-build
    pipeline: {pipeline: build}
    parameters: {colour: "${ trigger.outputs.approve.input }"}
  stages:
  - name: check
    checkPreconditions:
      expressions:
      - "trigger.type == 'pipeline' && trigger.name == 'after-build' && trigger.parentExecution == 'build-1'"
      - "parameters.colour == 'green' && trigger.artifact.version == '2.0.0'"
`)
	// The trigger has looked once: runs finished from now on start a run.
	g.Eventually(func(g Gomega) {
		var pl v1alpha1.Pipeline
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "deploy"}, &pl)).To(Succeed())
		g.Expect(pl.Status.Triggers).To(ConsistOf(HaveField("Pipeline", Not(BeNil()))))
	}).Should(Succeed())

	artifact := v1alpha1.Artifact{Type: v1alpha1.ArtifactDockerImage, Reference: "registry.example.com/shop/web:2.0.0", Version: "2.0.0"}
	for name, decision := range map[string]v1alpha1.Decision{"build-1": v1alpha1.DecisionContinue, "build-2": v1alpha1.DecisionStop} {
		g.Expect(env.Client.Create(ctx, &v1alpha1.Execution{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.ExecutionSpec{Pipeline: "build", Artifacts: []v1alpha1.Artifact{artifact},
				Judgments: map[string]v1alpha1.Judgment{"approve": {Decision: decision, Input: "green"}}},
		})).To(Succeed())
	}
	waitPhase(g, ns, "build-2", v1alpha1.ExecutionFailed)
	waitPhase(g, ns, "build-1", v1alpha1.ExecutionSucceeded)

	var child v1alpha1.Execution
	g.Eventually(func(g Gomega) {
		runs := runsOfPipeline(g, ns, "deploy")
		g.Expect(runs).To(HaveLen(1))
		child = runs[0]
		g.Expect(child.Status.Phase).To(Equal(v1alpha1.ExecutionSucceeded), "%+v", child.Status.Conditions)
	}).Should(Succeed())
	g.Expect(child.Status.Trigger).To(Equal(&v1alpha1.ExecutionTrigger{
		Type: v1alpha1.TriggerPipeline, Name: "after-build", ParentExecution: "build-1", Artifact: &artifact,
	}))
	g.Expect(child.Spec.Parameters).To(Equal(map[string]string{"colour": "green"}))

	// A restarted manager finds the parent already handled, even once its child is gone (pruned by the
	// history limit, here deleted), so that the child's name is free again. A run finished after the
	// restart shows the new manager has looked: the pass that starts its child would have started
	// build-1's again first.
	stop()
	env.StartManager(t)
	g.Expect(env.Client.Delete(ctx, &child)).To(Succeed())
	g.Eventually(func(g Gomega) { g.Expect(runsOfPipeline(g, ns, "deploy")).To(BeEmpty()) }).Should(Succeed())
	g.Expect(env.Client.Create(ctx, &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "build-3"},
		Spec: v1alpha1.ExecutionSpec{Pipeline: "build", Artifacts: []v1alpha1.Artifact{artifact},
			Judgments: map[string]v1alpha1.Judgment{"approve": {Decision: v1alpha1.DecisionContinue, Input: "green"}}},
	})).To(Succeed())
	waitPhase(g, ns, "build-3", v1alpha1.ExecutionSucceeded)
	g.Eventually(func(g Gomega) {
		runs := runsOfPipeline(g, ns, "deploy")
		g.Expect(runs).NotTo(BeEmpty())
		var parents []string
		for _, r := range runs {
			parents = append(parents, r.Annotations[v1alpha1.AnnotationParentExecution])
		}
		g.Expect(parents).To(Equal([]string{"build-3"}))
	}).Should(Succeed())
}

// TestTriggerRunNameTakenByHand: a run someone made by hand under the name a trigger's run would have is
// not taken for the trigger's own. The trigger starts nothing and says why in a Warning Event and in the
// Pipeline's Ready=False (a polled trigger also in its status message), and tries again; once that run is
// gone, it starts its own and the Pipeline is Ready again.
func TestTriggerRunNameTakenByHand(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := env.Namespace(t)
	env.StartManager(t)
	ctx := context.Background()
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: build}
spec:
  application: shop
  stages:
  - {name: compile, wait: {duration: 0s}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: deploy}
spec:
  application: shop
  triggers:
  - {name: after-build, pipeline: {pipeline: build}}
  stages:
  - {name: roll, wait: {duration: 0s}}
`)
	var deploy v1alpha1.Pipeline
	g.Eventually(func(g Gomega) {
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "deploy"}, &deploy)).To(Succeed())
		g.Expect(deploy.Status.Triggers).To(ConsistOf(HaveField("Pipeline", Not(BeNil()))))
	}).Should(Succeed())
	own, err := trigger.NewExecution(&deploy, trigger.Run{Type: v1alpha1.TriggerPipeline, Index: 0, Key: "build-1"})
	g.Expect(err).NotTo(HaveOccurred())
	byHand := &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: own.Name},
		Spec:       v1alpha1.ExecutionSpec{Pipeline: "deploy"},
	}
	g.Expect(env.Client.Create(ctx, byHand)).To(Succeed())
	g.Expect(env.Client.Create(ctx, &v1alpha1.Execution{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "build-1"},
		Spec:       v1alpha1.ExecutionSpec{Pipeline: "build"},
	})).To(Succeed())
	waitPhase(g, ns, "build-1", v1alpha1.ExecutionSucceeded)

	g.Eventually(func(g Gomega) {
		var warned bool
		for _, e := range events(g, ns, "deploy") {
			warned = warned || e.Type == "Warning" && strings.Contains(e.Note, own.Name+" exists and was not started by spec.triggers[0]")
		}
		g.Expect(warned).To(BeTrue(), "no Warning Event says the run's name is taken")
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "deploy"}, &deploy)).To(Succeed())
		ready := meta.FindStatusCondition(deploy.Status.Conditions, v1alpha1.ConditionReady)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonRunNameTaken))
		g.Expect(ready.Message).To(ContainSubstring(own.Name + " exists and was not started by spec.triggers[0]"))
	}).Should(Succeed())
	g.Expect(runsOfPipeline(g, ns, "deploy")).To(HaveLen(1), "the trigger started a run beside the one made by hand")

	g.Expect(env.Client.Delete(ctx, byHand)).To(Succeed())
	g.Eventually(func(g Gomega) {
		runs := runsOfPipeline(g, ns, "deploy")
		g.Expect(runs).To(HaveLen(1))
		g.Expect(runs[0].Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationParentExecution, "build-1"))
		g.Expect(trigger.StartedBy(&runs[0], &deploy, 0, v1alpha1.TriggerPipeline)).To(BeTrue())
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "deploy"}, &deploy)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(deploy.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
	}, "60s").Should(Succeed(), "the trigger did not start its run once the name was free")
}
