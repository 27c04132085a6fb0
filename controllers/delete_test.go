package controllers_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// executionGone waits until the Execution no longer exists.
func executionGone(g *WithT, ns, name string) {
	g.Eventually(func() bool {
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &v1alpha1.Execution{})
		return apierrors.IsNotFound(err)
	}).Should(BeTrue(), "execution %s still exists", name)
}

// TestDeleteRunningExecutionCancelsIt: an unfinished run holds ExecutionFinalizer; deleting it cancels it
// first (its child run is canceled, an Event says so), then the object goes. A finished run holds no
// finalizer, so history pruning and namespace deletion are never held by it.
func TestDeleteRunningExecutionCancelsIt(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: long}
spec:
  application: shop
  limitConcurrent: false
  stages:
  - {name: soak, wait: {duration: 1h}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: parent}
spec:
  application: shop
  stages:
  - {name: child, pipeline: {name: long}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: quick}
spec:
  application: shop
  stages:
  - {name: now, wait: {duration: 0s}}
`)
	run(t, ns, "quick-1", "quick", nil)
	ex := waitPhase(g, ns, "quick-1", v1alpha1.ExecutionSucceeded)
	g.Eventually(func(g Gomega) {
		g.Expect(execution(g, ns, "quick-1").Finalizers).To(BeEmpty())
	}).Should(Succeed(), "a finished run holds no finalizer")

	run(t, ns, "p1", "parent", nil)
	waitPhase(g, ns, "p1-child", v1alpha1.ExecutionRunning)
	ex = waitStagePhase(g, ns, "p1", "child", v1alpha1.StageRunning)
	g.Expect(ex.Finalizers).To(ContainElement(v1alpha1.ExecutionFinalizer))
	g.Expect(env.Client.Delete(context.Background(), ex)).To(Succeed())
	executionGone(g, ns, "p1")
	g.Eventually(func(g Gomega) {
		var msgs []string
		for _, e := range events(g, ns, "p1") {
			msgs = append(msgs, e.Reason+": "+e.Note)
		}
		g.Expect(msgs).To(ContainElement("Canceled: canceled: the execution is being deleted"))
	}).Should(Succeed())
	// The test's API server runs no garbage collector, so the child stays to show it was canceled.
	child := waitPhase(g, ns, "p1-child", v1alpha1.ExecutionCanceled)
	g.Expect(child.Spec.Cancel).To(BeTrue())
	g.Eventually(func(g Gomega) {
		g.Expect(execution(g, ns, "p1-child").Finalizers).To(BeEmpty())
	}).Should(Succeed())
}

// TestDeleteRunningRedBlackRollsBack: deleting a run whose red/black deploy has moved traffic to the new
// group, and waits to scale the old one down, puts traffic back on the old group and takes the new one
// out (rollbackOnFailure), then lets the Execution go.
func TestDeleteRunningRedBlackRollsBack(t *testing.T) {
	g := testenv.NewWithT(t)
	a := setupAWS(t, true)
	apply(t, a.ns, releasePipeline(a, "release", "RedBlack", `redBlack: {delayBeforeScaleDown: 1h, rollbackOnFailure: true}`, "2h"))
	run(t, a.ns, "r1", "release", map[string]string{"image": "ami-00000000000000001"})
	g.Eventually(func(g Gomega) {
		// r1 itself waits to scale nothing down: it had no older group.
		g.Expect(execution(g, a.ns, "r1").Status.Phase).To(Equal(v1alpha1.ExecutionSucceeded))
	}, "60s").Should(Succeed())

	run(t, a.ns, "r2", "release", map[string]string{"image": "ami-00000000000000002"})
	g.Eventually(func(g Gomega) {
		st := groups(g, a.ns)
		g.Expect(st["shop-main-v001"].Traffic).To(Equal(v1alpha1.TrafficEnabled))
		g.Expect(st["shop-main-v000"].Traffic).To(Equal(v1alpha1.TrafficDisabled))
	}, "60s").Should(Succeed())
	ex := execution(g, a.ns, "r2")
	g.Expect(ex.Status.Phase).To(Equal(v1alpha1.ExecutionRunning), "the deploy waits to scale v000 down")
	g.Expect(env.Client.Delete(context.Background(), ex)).To(Succeed())
	executionGone(g, a.ns, "r2")
	g.Eventually(func(g Gomega) {
		st := groups(g, a.ns)
		g.Expect(st["shop-main-v000"]).To(Equal(groupState{v1alpha1.TrafficEnabled, 3, 3}))
		g.Expect(st["shop-main-v001"].Traffic).To(Equal(v1alpha1.TrafficDisabled))
	}, "60s").Should(Succeed())
	g.Expect(a.healthyTargets()).To(Equal(3))
}
