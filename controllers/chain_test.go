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
// limitConcurrent, so the grandchild would wait behind its grandparent forever) is refused at run time
// with the chain in the message, and the whole family fails instead of hanging; a chain of pipelines
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

	child := waitPhase(g, ns, "ping-1-call", v1alpha1.ExecutionFailed)
	g.Expect(child.Annotations).To(HaveKeyWithValue(v1alpha1.AnnotationPipelineChain, "ping"))
	g.Expect(stageOf(g, child, "call").Message).To(Equal("pipeline ping would run inside itself: this run's chain is ping -> pong -> ping"))
	waitPhase(g, ns, "ping-1", v1alpha1.ExecutionFailed)
	var list v1alpha1.ExecutionList
	g.Expect(env.Client.List(t.Context(), &list, client.InNamespace(ns))).To(Succeed())
	g.Expect(list.Items).To(HaveLen(2), "no grandchild was made")

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
