package controllers_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers"
)

// TestLeanExecutionKeepsWhatIsRead: the cache drops a finished run's frozen pipeline spec and nothing a
// controller reads of a finished run (phase, stages and their outputs, parameters, conditions, times); a
// run that still runs keeps its frozen spec, which the engine steps through.
func TestLeanExecutionKeepsWhatIsRead(t *testing.T) {
	now := metav1.Now()
	base := func(phase v1alpha1.ExecutionPhase) *v1alpha1.Execution {
		return &v1alpha1.Execution{
			ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "ns",
				Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "me"},
				ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
			Spec: v1alpha1.ExecutionSpec{Pipeline: "p"},
			Status: v1alpha1.ExecutionStatus{
				Phase: phase, StartTime: &now, CompletionTime: &now, Parameters: map[string]string{"image": "ami-1"},
				PipelineSpec: &v1alpha1.PipelineSpec{Application: "shop", Stages: []v1alpha1.Stage{{Name: "s"}}},
				Stages:       []v1alpha1.StageStatus{{Name: "s", Phase: v1alpha1.StageSucceeded, Outputs: nil}},
			},
		}
	}
	for _, phase := range []v1alpha1.ExecutionPhase{v1alpha1.ExecutionSucceeded, v1alpha1.ExecutionFailed, v1alpha1.ExecutionCanceled} {
		in := base(phase)
		want := base(phase)
		want.Status.PipelineSpec = nil
		want.ManagedFields = nil
		want.Annotations = map[string]string{"keep": "me"}
		out, err := controllers.LeanExecution(in)
		g := NewWithT(t)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(out).To(Equal(want), "phase %s", phase)
	}
	for _, phase := range []v1alpha1.ExecutionPhase{"", v1alpha1.ExecutionQueued, v1alpha1.ExecutionRunning, v1alpha1.ExecutionAwaitingJudgment} {
		out, err := controllers.LeanExecution(base(phase))
		g := NewWithT(t)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(out.(*v1alpha1.Execution).Status.PipelineSpec).NotTo(BeNil(), "phase %q lost its frozen spec", phase)
	}
}

// TestFinishedRunKeepsItsFrozenSpec: a run finished, then edited late (a skip of its wait after the end), is
// written again by the manager from its lean cached copy; the API server still has its frozen pipeline
// spec afterwards, so kubectl and the plugin still see what the run ran.
func TestFinishedRunKeepsItsFrozenSpec(t *testing.T) {
	ns := setup(t)
	apply(t, ns, `apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: quick}
spec:
  application: shop
  stages:
  - {name: soak, wait: {duration: 0s}}
`)
	run(t, ns, "quick-1", "quick", nil)
	g := NewWithT(t)
	waitPhase(g, ns, "quick-1", v1alpha1.ExecutionSucceeded)
	patch(t, ns, "quick-1", `{"spec":{"skipWaits":["soak"]}}`)
	g.Eventually(func(g Gomega) {
		ex := execution(g, ns, "quick-1")
		g.Expect(ex.Status.ObservedGeneration).To(Equal(ex.Generation), "the late edit not yet observed")
		g.Expect(ex.Status.PipelineSpec).NotTo(BeNil())
		g.Expect(ex.Status.PipelineSpec.Stages).To(HaveLen(1))
	}).Should(Succeed())
	var ex v1alpha1.Execution
	g.Expect(env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "quick-1"}, &ex)).To(Succeed())
	g.Expect(ex.Status.PipelineSpec.Application).To(Equal("shop"))
}
