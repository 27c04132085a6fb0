package controllers_test

import (
	"fmt"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/test/testenv"
)

// TestPipelineChainRefused: a pipeline that starts itself through another (ping -> pong -> ping, both
// limitConcurrent, so the grandchild would wait behind its grandparent forever) is refused at run time,
// by the root's stage, before any child is made, with the cycle in the message; a chain of pipelines
// deeper than MaxPipelineDepth is refused at the first run too deep.
func TestPipelineChainRefused(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	var deep strings.Builder
	for i := 1; i <= v1alpha1.MaxPipelineDepth+1; i++ {
		fmt.Fprintf(&deep, "---\napiVersion: delivery.gennaker.io/v1alpha1\nkind: Pipeline\nmetadata: {name: p%d}\nspec:\n  application: shop\n  stages:\n", i)
		if i <= v1alpha1.MaxPipelineDepth {
			fmt.Fprintf(&deep, "  - {name: next, pipeline: {name: p%d}}\n", i+1)
		} else {
			deep.WriteString("  - {name: last, wait: {duration: 0s}}\n")
		}
	}
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: ping}
spec:
  application: shop
  stages:
  - {name: call, pipeline: {name: pong}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: pong}
spec:
  application: shop
  stages:
  - {name: call, pipeline: {name: ping}}
`+deep.String())
	run(t, ns, "ping-1", "ping", nil)

	root := waitPhase(g, ns, "ping-1", v1alpha1.ExecutionFailed)
	g.Expect(stageOf(g, root, "call").Message).To(Equal("pipeline ping would run inside itself: ping -> pong -> ping"))
	var list v1alpha1.ExecutionList
	g.Expect(env.Client.List(t.Context(), &list, client.InNamespace(ns))).To(Succeed())
	g.Expect(list.Items).To(HaveLen(1), "a child was made")

	run(t, ns, "deep", "p1", nil)
	name := "deep"
	for range v1alpha1.MaxPipelineDepth - 1 {
		name += "-next"
	}
	last := waitPhase(g, ns, name, v1alpha1.ExecutionFailed)
	g.Expect(last.Spec.Pipeline).To(Equal(fmt.Sprintf("p%d", v1alpha1.MaxPipelineDepth)))
	g.Expect(stageOf(g, last, "next").Message).To(Equal("pipeline p11 would nest runs 11 deep, more than 10: this run's chain is p1 -> p2 -> p3 -> p4 -> p5 -> p6 -> p7 -> p8 -> p9 -> p10"))
	waitPhase(g, ns, "deep", v1alpha1.ExecutionFailed)
}

// TestPipelineCycleWithTwoRootsFailsFast: with A starting B and B starting A, both limitConcurrent, runs
// of A and of B started at once would each start a child that queues behind the other's root, and
// neither child would ever start to see its chain: the roots would wait on each other forever. Each
// root's stage sees the cycle through the Pipelines and fails at once, making no child.
func TestPipelineCycleWithTwoRootsFailsFast(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: a}
spec:
  application: shop
  stages:
  - {name: call, pipeline: {name: b}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: b}
spec:
  application: shop
  stages:
  - {name: soak, wait: {duration: 0s}}
  - {name: call, dependsOn: [soak], pipeline: {name: a}}
`)
	run(t, ns, "a-1", "a", nil)
	run(t, ns, "b-1", "b", nil)

	a := waitPhase(g, ns, "a-1", v1alpha1.ExecutionFailed)
	g.Expect(stageOf(g, a, "call").Message).To(Equal("pipeline a would run inside itself: a -> b -> a"))
	b := waitPhase(g, ns, "b-1", v1alpha1.ExecutionFailed)
	g.Expect(stageOf(g, b, "call").Message).To(Equal("pipeline b would run inside itself: b -> a -> b"))
	var list v1alpha1.ExecutionList
	g.Expect(env.Client.List(t.Context(), &list, client.InNamespace(ns))).To(Succeed())
	g.Expect(list.Items).To(HaveLen(2), "a child was made")
}

// TestPipelineRecursionBehindWhenIsNotRefusedAhead: a pipeline stage behind a when may never run, so the
// walk made before starting a child does not count it; a run that takes it is still refused by its chain.
func TestPipelineRecursionBehindWhenIsNotRefusedAhead(t *testing.T) {
	g := testenv.NewWithT(t)
	ns := setup(t)
	apply(t, ns, `
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: a}
spec:
  application: shop
  stages:
  - {name: call, pipeline: {name: b}}
---
apiVersion: delivery.gennaker.io/v1alpha1
kind: Pipeline
metadata: {name: b}
spec:
  application: shop
  stages:
  - {name: again, when: "1 == 2", pipeline: {name: a}}
  - {name: soak, wait: {duration: 0s}}
`)
	run(t, ns, "a-1", "a", nil)
	waitPhase(g, ns, "a-1", v1alpha1.ExecutionSucceeded)
	child := waitPhase(g, ns, "a-1-call", v1alpha1.ExecutionSucceeded)
	g.Expect(stageOf(g, child, "again").Phase).To(Equal(v1alpha1.StageSkipped))
}
